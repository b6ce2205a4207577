# Stage 2: training of the learned initialisers (paper, Sec. 2.1: the naive and passive
# U-Nets) and of prDeep's denoiser, each only when a configured method needs it. A job
# resumes only from a checkpoint of the same data and settings (prbench.train.checkpoint).

for model in MODELS:

    rule:
        name:
            f"train_{model}"
        input:
            train=f"{RESULTS}/data/train.npz",
            fashion=FASHION_MNIST,
        output:
            best=f"{RESULTS}/models/{model}/best.pt",
            history=f"{RESULTS}/models/{model}/history.csv",
            curves=report(
                f"{RESULTS}/models/{model}/training_curves.png",
                category="Training",
                caption="../report/training_curves.rst",
            ),
        log:
            f"{RESULTS}/logs/train_{model}.log",
        benchmark:
            f"{RESULTS}/benchmarks/train_{model}.tsv"
        priority: 10  # the longest jobs: start them first
        conda:
            ENV
        threads: 1
        resources:
            gpu=config["training"]["gpus"],  # passed to a cluster (SLURM --gpus) when > 0
            gpu_jobs=gpu_jobs(config["training"]["device"]),  # local: --resources gpu_jobs=N
        params:
            model=model,
            settings=config["training"]["models"][model],
            validation_fraction=config["training"]["validation_fraction"],
            seed=config["seed"],
            device=config["training"]["device"],
        script:
            "../scripts/train.py"


if "denoiser" in TRAINED:

    rule train_denoiser:
        input:
            train=f"{RESULTS}/data/train.npz",
        output:
            best=f"{RESULTS}/models/denoiser/best.pt",
            history=f"{RESULTS}/models/denoiser/history.csv",
        log:
            f"{RESULTS}/logs/train_denoiser.log",
        benchmark:
            f"{RESULTS}/benchmarks/train_denoiser.tsv"
        priority: 10
        conda:
            ENV
        threads: 1
        resources:
            gpu=config["training"]["gpus"],
            gpu_jobs=gpu_jobs(config["training"]["device"]),
        params:
            settings=config["denoiser"],
            validation_fraction=config["training"]["validation_fraction"],
            seed=config["seed"],
            device=config["training"]["device"],
        script:
            "../scripts/train_denoiser.py"
