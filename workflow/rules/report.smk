# Stage 5: Table 1, figures, provenance (all marked for `snakemake --report`) and the
# support selection's table.


rule table:
    input:
        method_files("scores", "csv"),
    output:
        scores=report(
            f"{RESULTS}/scores.csv", category="Scores", caption="../report/scores.rst"
        ),
        markdown=f"{RESULTS}/tables/table1.md",
        csv=report(
            f"{RESULTS}/tables/table1.csv",
            category="Table 1",
            caption="../report/table1.rst",
        ),
        latex=f"{RESULTS}/tables/table1.tex",
    log:
        f"{RESULTS}/logs/table.log",
    benchmark:
        f"{RESULTS}/benchmarks/table.tsv"
    conda:
        ENV
    params:
        methods=ALL_METHODS,
        test_images=TEST_IMAGES,
        success_threshold=config["report"]["success_threshold"],
        bootstrap_resamples=config["report"]["bootstrap_resamples"],
        paired_reference=config["report"].get("paired_reference"),
        seed=config["seed"],
    script:
        "../scripts/table.py"


rule figures:
    input:
        test=test_set,
        scores=f"{RESULTS}/scores.csv",
        aligned=method_files("aligned", "npz"),
    output:
        figure4=report(
            multiext(f"{RESULTS}/figures/figure4", ".png", ".pdf"),
            category="Figures",
            caption="../report/figure4.rst",
        ),
        distribution=report(
            multiext(f"{RESULTS}/figures/mse_distribution", ".png", ".pdf"),
            category="Figures",
            caption="../report/mse_distribution.rst",
        ),
    log:
        f"{RESULTS}/logs/figures.log",
    benchmark:
        f"{RESULTS}/benchmarks/figures.tsv"
    conda:
        ENV
    params:
        methods=ALL_METHODS,
        images=config["report"]["figure_images"],
        seed=config["seed"],
    script:
        "../scripts/figures.py"


if TRAINED:

    # The U-Nets' validation MSE is drawn against the mean training object's (train split).
    rule training_curves:
        input:
            histories=per_scenario(
                f"{RESULTS}/models/{{model}}/history.csv", model=TRAINED
            ),
            train=[f"{RESULTS}/data/train.npz"] if MODELS else [],
        output:
            report(
                multiext(f"{RESULTS}/figures/training_curves", ".png", ".pdf"),
                category="Figures",
                caption="../report/training_curves.rst",
            ),
        log:
            f"{RESULTS}/logs/training_curves.log",
        benchmark:
            f"{RESULTS}/benchmarks/training_curves.tsv"
        conda:
            ENV
        params:
            models=TRAINED,
            epochs=EPOCHS,
            validation_fraction=config["training"]["validation_fraction"],
        script:
            "../scripts/training_curves.py"


if MODELS:

    rule network_diagnostics:
        input:
            histories=per_scenario(
                f"{RESULTS}/models/{{model}}/history.csv", model=MODELS
            ),
            train=f"{RESULTS}/data/train.npz",
        output:
            f"{RESULTS}/tables/networks.md",
        log:
            f"{RESULTS}/logs/network_diagnostics.log",
        benchmark:
            f"{RESULTS}/benchmarks/network_diagnostics.tsv"
        conda:
            ENV
        params:
            models=MODELS,
            epochs=EPOCHS,
            validation_fraction=config["training"]["validation_fraction"],
        script:
            "../scripts/network_diagnostics.py"


if SELECTED:

    rule support_table:
        input:
            selections=per_scenario(f"{RESULTS}/support/{{model}}.json", model=SELECTED),
            curves=per_scenario(
                f"{RESULTS}/support/{{model}}_curve.csv", model=SELECTED
            ),
        output:
            f"{RESULTS}/tables/support_selection.md",
        log:
            f"{RESULTS}/logs/support_table.log",
        benchmark:
            f"{RESULTS}/benchmarks/support_table.tsv"
        conda:
            ENV
        params:
            models=SELECTED,
        script:
            "../scripts/support_table.py"


# Last job of a run: it reads every other job's benchmark record (run_benchmarks(), by
# rule), so it runs after all of them and its time record leaves none out.
rule provenance:
    input:
        unpack(lambda wildcards: run_benchmarks(wildcards.scenario)),
        scores=f"{RESULTS}/scores.csv",
    output:
        record=report(
            f"{RESULTS}/provenance.json",
            category="Provenance",
            caption="../report/provenance.rst",
        ),
        timings=f"{RESULTS}/tables/timings.md",
    log:
        f"{RESULTS}/logs/provenance.log",
    benchmark:
        f"{RESULTS}/benchmarks/provenance.tsv"
    conda:
        ENV
    params:
        config=scenario_setting(),
        stages=lambda wildcards: list(run_benchmarks(wildcards.scenario)),
        rows_from=lambda wildcards: {
            method: method_folder(wildcards.scenario, method)
            for method in ALL_METHODS
            if method not in methods_run_in(wildcards.scenario)
        },
        methods=ALL_METHODS,
        test_images=TEST_IMAGES,
    script:
        "../scripts/provenance.py"


# The run's summary over its scenarios (results/<run>/sweep/): one row per scenario and
# method, a Markdown table per object type and the curves against the photon budget.
rule sweep_summary:
    input:
        tables=expand(f"{RESULTS}/tables/table1.csv", scenario=SCENARIOS),
        scores=expand(f"{RESULTS}/scores.csv", scenario=SCENARIOS),
    output:
        csv=report(
            f"{SUMMARY}/sweep.csv", category="Sweep", caption="../report/sweep.rst"
        ),
        markdown=f"{SUMMARY}/sweep.md",
        figure=report(
            multiext(f"{SUMMARY}/sweep", ".png", ".pdf"),
            category="Sweep",
            caption="../report/sweep.rst",
        ),
    log:
        f"{SUMMARY}/logs/sweep_summary.log",
    benchmark:
        f"{SUMMARY}/benchmarks/sweep_summary.tsv"
    conda:
        ENV
    params:
        scenarios=sweep_parameters(),
        methods=ALL_METHODS,
        test_images=TEST_IMAGES,
        success_threshold=config["report"]["success_threshold"],
        bootstrap_resamples=config["report"]["bootstrap_resamples"],
        seed=config["seed"],
    script:
        "../scripts/sweep_summary.py"


# The whole run's time record: every job of every scenario (provenance included), by
# scenario and by rule, and the run's wall time from the first job's start to the last end.
rule sweep_timings:
    input:
        [
            path
            for stages in scenario_benchmarks().values()
            for paths in stages.values()
            for path in paths
        ],
    output:
        f"{SUMMARY}/timings.md",
    log:
        f"{SUMMARY}/logs/sweep_timings.log",
    benchmark:
        f"{SUMMARY}/benchmarks/sweep_timings.tsv"
    conda:
        ENV
    params:
        benchmarks=scenario_benchmarks(),
        run=RUN,
    script:
        "../scripts/sweep_timings.py"
