# Stage 3: every method's reconstructions of the test set, one job per (method, shard) so
# that a cluster fans the shards out. The registry (prbench.registry) says what a method
# needs: its inputs are the test set plus, where it has them, its network and denoiser.


rule reconstruct:
    input:
        unpack(reconstruction_inputs),
    output:
        f"{RESULTS}/recon/{{method}}/shard{{shard}}.npz",
    log:
        f"{RESULTS}/logs/reconstruct_{{method}}_shard{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/reconstruct_{{method}}_shard{{shard}}.tsv"
    wildcard_constraints:
        method="|".join(ALL_METHODS),
        shard=r"\d+",
    conda:
        ENV
    threads: 1
    resources:
        gpu_jobs=reconstruction_gpu_jobs,  # local: --resources gpu_jobs=N
    params:
        settings=lambda wildcards: config["reconstruction"]["methods"][wildcards.method],
        shards=config["reconstruction"]["shards"],
        seed=config["seed"],
        device=config["reconstruction"]["device"],
        stopping=config["reconstruction"].get("stopping"),
    script:
        "../scripts/reconstruct.py"
