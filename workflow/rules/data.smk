# Stage 1: Fashion-MNIST acquisition and PR dataset synthesis (paper, Sec. 3 "Data").


rule download_fashion_mnist:
    output:
        "resources/fashion_mnist.npz",
    params:
        sources=config["data"]["sources"],
        cache_dir=config["data"]["cache_dir"],
        idx_timeout_s=config["data"]["idx_timeout_s"],
    log:
        "resources/logs/download_fashion_mnist.log",
    benchmark:
        "resources/benchmarks/download_fashion_mnist.tsv"
    conda:
        ENV
    script:
        "../scripts/download_fashion_mnist.py"


rule synthesize:
    input:
        "resources/fashion_mnist.npz",
    output:
        f"{RESULTS}/data/{{split}}.npz",
    wildcard_constraints:
        split="train|test",
    params:
        size=lambda wildcards: config["synthesis"][f"{wildcards.split}_size"],
        seed=config["seed"],
        n=config["synthesis"]["n"],
        m=config["synthesis"]["m"],
        object_kind=config["synthesis"]["object"],
        phase_smoothing_px=config["synthesis"]["phase_smoothing_px"],
        phase_std_rad=config["synthesis"]["phase_std_rad"],
    threads: 1
    log:
        f"{RESULTS}/logs/synthesize_{{split}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/synthesize_{{split}}.tsv"
    conda:
        ENV
    script:
        "../scripts/synthesize.py"
