# Stage 2b: support selection (paper, Sec. 2.2, the support of the network output) on the
# validation split. For each network that a configured method takes its support from, the
# grid reconstruction.support_selection (sigma x threshold) is scored with that model's
# refined method (prbench.registry.SUPPORT_SELECTORS: its solver settings, its start) on
# the first validation images of the train split, the ones its training held out; the
# reconstruction jobs read the choice from support/<model>.json.

if SELECTED:

    rule select_support:
        input:
            train=f"{RESULTS}/data/train.npz",
            network=f"{RESULTS}/models/{{model}}/best.pt",
        output:
            selection=f"{RESULTS}/support/{{model}}.json",
            curve=report(
                f"{RESULTS}/support/{{model}}_curve.csv",
                category="Support selection",
                caption="../report/support_selection.rst",
            ),
        log:
            f"{RESULTS}/logs/select_support_{{model}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/select_support_{{model}}.tsv"
        wildcard_constraints:
            model="|".join(SELECTED),
        conda:
            ENV
        threads: 1
        resources:
            gpu_jobs=gpu_jobs(config["reconstruction"]["device"]),
        params:
            settings=lambda wildcards: config["reconstruction"]["methods"][
                SUPPORT_SELECTORS[wildcards.model]
            ],
            selection=config["reconstruction"]["support_selection"],
            validation_fraction=config["training"]["validation_fraction"],
            seed=config["seed"],
            device=config["reconstruction"]["device"],
            stopping=config["reconstruction"].get("stopping"),
        script:
            "../scripts/select_support.py"
