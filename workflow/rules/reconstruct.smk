# Stage 3: reconstruction of the test set by the iterative methods, one job per
# (method, shard) so that a cluster can fan the shards out.


rule reconstruct:
    input:
        test=f"{RESULTS}/data/test.npz",
    output:
        f"{RESULTS}/recon/{{method}}/shard{{shard}}.npz",
    wildcard_constraints:
        method="|".join(ITERATIVE_METHODS) or "^$",
        shard=r"\d+",
    params:
        method=lambda wildcards: wildcards.method,
        solver=lambda wildcards: config["reconstruction"]["methods"][wildcards.method],
        shards=config["reconstruction"]["shards"],
        seed=config["seed"],
        device=config["reconstruction"]["device"],
    threads: 1
    log:
        f"{RESULTS}/logs/reconstruct_{{method}}_shard{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/reconstruct_{{method}}_shard{{shard}}.tsv"
    conda:
        ENV
    script:
        "../scripts/reconstruct.py"
