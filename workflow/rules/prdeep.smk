# The prDeep-style baseline (Metzler et al. 2018): a DnCNN denoiser trained on this
# project's own training objects, then RED with FASTA steps from an HIO start.

if USES_DENOISER:

    rule train_denoiser:
        input:
            train=f"{RESULTS}/data/train.npz",
        output:
            model=f"{RESULTS}/models/denoiser/best.pt",
            history=f"{RESULTS}/models/denoiser/history.csv",
        params:
            settings=config["denoiser"],
            validation_fraction=config["training"]["validation_fraction"],
            seed=config["seed"],
            device=config["training"]["device"],
        threads: 1
        resources:
            gpu=config["training"]["gpus"],
        priority: 10  # long: start it early
        log:
            f"{RESULTS}/logs/train_denoiser.log",
        benchmark:
            f"{RESULTS}/benchmarks/train_denoiser.tsv"
        conda:
            ENV
        script:
            "../scripts/train_denoiser.py"


    rule reconstruct_prdeep:
        input:
            test=f"{RESULTS}/data/test.npz",
            denoiser=f"{RESULTS}/models/denoiser/best.pt",
        output:
            f"{RESULTS}/recon/prdeep/shard{{shard}}.npz",
        wildcard_constraints:
            shard=r"\d+",
        params:
            method="prdeep",
            solver=lambda wildcards: config["reconstruction"]["methods"]["prdeep"],
            shards=config["reconstruction"]["shards"],
            seed=config["seed"],
            device=config["reconstruction"]["device"],
        threads: 1
        log:
            f"{RESULTS}/logs/reconstruct_prdeep_shard{{shard}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/reconstruct_prdeep_shard{{shard}}.tsv"
        conda:
            ENV
        script:
            "../scripts/reconstruct.py"
