# Stage 5: Table 1, figures, provenance (all marked for `snakemake --report`) and the
# support selection's table.


rule table:
    input:
        expand(f"{RESULTS}/scores/{{method}}.csv", method=ALL_METHODS),
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
        success_threshold=config["report"]["success_threshold"],
        bootstrap_resamples=config["report"]["bootstrap_resamples"],
        paired_reference=config["report"].get("paired_reference"),
        seed=config["seed"],
    script:
        "../scripts/table.py"


rule figures:
    input:
        test=f"{RESULTS}/data/test.npz",
        scores=f"{RESULTS}/scores.csv",
        aligned=expand(f"{RESULTS}/aligned/{{method}}.npz", method=ALL_METHODS),
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

    rule training_curves:
        input:
            expand(f"{RESULTS}/models/{{model}}/history.csv", model=TRAINED),
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
        script:
            "../scripts/training_curves.py"


if MODELS:

    rule network_diagnostics:
        input:
            histories=expand(f"{RESULTS}/models/{{model}}/history.csv", model=MODELS),
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
            validation_fraction=config["training"]["validation_fraction"],
        script:
            "../scripts/network_diagnostics.py"


if SELECTED:

    rule support_table:
        input:
            selections=expand(f"{RESULTS}/support/{{model}}.json", model=SELECTED),
            curves=expand(f"{RESULTS}/support/{{model}}_curve.csv", model=SELECTED),
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
        **run_benchmarks(),
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
        config=config,
        stages=list(run_benchmarks()),
    script:
        "../scripts/provenance.py"
