# Stage 4: symmetry-adjusted MSE of every reconstruction (paper, Appendix A.1).


rule score:
    input:
        test=test_set,
        shards=per_scenario(
            f"{RESULTS}/recon/{{method}}/shard{{shard}}.npz", shard=SHARDS
        ),
    output:
        scores=f"{RESULTS}/scores/{{method}}.csv",
        aligned=f"{RESULTS}/aligned/{{method}}.npz",
    log:
        f"{RESULTS}/logs/score_{{method}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/score_{{method}}.tsv"
    wildcard_constraints:
        method="|".join(ALL_METHODS),
    conda:
        ENV
    threads: 1  # torch's own default is every core: many score jobs at once would oversubscribe
    script:
        "../scripts/score.py"
