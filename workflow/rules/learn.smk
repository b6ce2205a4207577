# Stage 2: the learned initialisers (paper, Sec. 2): training of the naive and passive
# U-Nets, their predictions on the test shards, and the refined variants (support from
# the network output, then ALM) with their random-start controls. One rule per model
# that a configured method uses.

for model in MODELS:

    rule:
        name:
            f"train_{model}"
        input:
            train=f"{RESULTS}/data/train.npz",
            base=FASHION_MNIST,
        output:
            model=f"{RESULTS}/models/{model}/best.pt",
            history=f"{RESULTS}/models/{model}/history.csv",
            curves=report(f"{RESULTS}/models/{model}/training_curves.png",
                          category="Training", caption="../report/training_curves.rst"),
        params:
            model=model,
            settings=config["training"]["models"][model],
            validation_fraction=config["training"]["validation_fraction"],
            seed=config["seed"],
            device=config["training"]["device"],
        threads: 1
        resources:
            gpu=config["training"]["gpus"],  # passed to a cluster (SLURM --gpus) when > 0
        priority: 10  # the longest jobs: start them first
        log:
            f"{RESULTS}/logs/train_{model}.log",
        benchmark:
            f"{RESULTS}/benchmarks/train_{model}.tsv"
        conda:
            ENV
        script:
            "../scripts/train.py"

    rule:
        name:
            f"predict_{model}"
        input:
            test=f"{RESULTS}/data/test.npz",
            model=f"{RESULTS}/models/{model}/best.pt",
        output:
            f"{RESULTS}/recon/{model}_dnn/shard{{shard}}.npz",
        wildcard_constraints:
            shard=r"\d+",
        params:
            method=f"{model}_dnn",
            shards=config["reconstruction"]["shards"],
            device=config["reconstruction"]["device"],
        threads: 1
        log:
            f"{RESULTS}/logs/predict_{model}_shard{{shard}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/predict_{model}_shard{{shard}}.tsv"
        conda:
            ENV
        script:
            "../scripts/predict.py"

    rule:
        name:
            f"refine_{model}"
        input:
            test=f"{RESULTS}/data/test.npz",
            network=f"{RESULTS}/recon/{model}_dnn/shard{{shard}}.npz",
        output:
            f"{RESULTS}/recon/{model}_{{variant}}/shard{{shard}}.npz",
        wildcard_constraints:
            variant="refined|support_only",
            shard=r"\d+",
        params:
            method=lambda wildcards, model=model: f"{model}_{wildcards.variant}",
            solver=lambda wildcards, model=model: config["reconstruction"]["methods"][
                f"{model}_{wildcards.variant}"
            ],
            shards=config["reconstruction"]["shards"],
            seed=config["seed"],
            device=config["reconstruction"]["device"],
        threads: 1
        log:
            f"{RESULTS}/logs/refine_{model}_{{variant}}_shard{{shard}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/refine_{model}_{{variant}}_shard{{shard}}.tsv"
        conda:
            ENV
        script:
            "../scripts/reconstruct.py"
