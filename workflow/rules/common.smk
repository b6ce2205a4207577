# Shared names and helpers (no rules here). Planning imports only the torch-free registry
# and config checks: `snakemake -n` and `--lint` need no torch.
from snakemake.exceptions import WorkflowError

from prbench.config import check as check_config
from prbench.registry import METHODS, SUPPORT_SELECTORS

check_config(config)

RUN = config["run"]
RESULTS = f"results/{RUN}"
ENV = "../envs/prbench.yml"
SHARDS = range(config["reconstruction"]["shards"])
ALL_METHODS = list(config["reconstruction"]["methods"])
# Networks are trained only when a configured method needs them.
NEEDED = {path for method in ALL_METHODS for path in METHODS[method].needs().values()}
MODELS = [
    model
    for model in config.get("training", {}).get("models", {})
    if f"models/{model}/best.pt" in NEEDED
]
TRAINED = MODELS + (["denoiser"] if "models/denoiser/best.pt" in NEEDED else [])
# Networks whose output a configured method takes its support from: their support is
# selected on the validation split (support.smk).
SELECTED = [model for model in MODELS if f"support/{model}.json" in NEEDED]
# The decoded Fashion-MNIST of the configured source: one file per source, shared by
# every run (its rule has no run-dependent parameters).
FASHION_MNIST = f"resources/fashion_mnist/{config['data']['source']}.npz"
# The splits this run synthesizes: the test split always, the train split when a network
# is trained or a method reads it.
SPLITS = ["test"] + (["train"] if TRAINED or "data/train.npz" in NEEDED else [])


def gpu_jobs(device):
    """The resource `gpu_jobs` of a job on ``device``: 1 unless it runs on the CPU, so that
    `snakemake --resources gpu_jobs=N` runs at most N jobs on a GPU at once."""
    return 0 if device == "cpu" else 1


def reconstruction_inputs(wildcards):
    """The test set and, from the registry, what else a method's shard needs (its trained
    network and selected support, its denoiser, or the training split)."""
    needs = METHODS[wildcards.method].needs()
    return {"test": f"{RESULTS}/data/test.npz"} | {
        role: f"{RESULTS}/{path}" for role, path in needs.items()
    }


def reconstruction_gpu_jobs(wildcards):
    """gpu_jobs of a reconstruction job: none for a method that runs on the CPU alone."""
    if METHODS[wildcards.method].mean_object:
        return 0
    return gpu_jobs(config["reconstruction"]["device"])


def reconstructions(method):
    """Every shard of one method's reconstructions."""
    return expand(f"{RESULTS}/recon/{method}/shard{{shard}}.npz", shard=SHARDS)


def run_benchmarks():
    """{rule: its jobs' benchmark files} for every job of this run except `provenance`,
    which reads them all (its time record cannot include itself). The shared Fashion-MNIST
    decoding (resources/) belongs to no run. The planning fails (check_benchmarks()) if
    any of the workflow's rules is missing here."""
    jobs = {
        "synthesize": [
            f"{RESULTS}/benchmarks/synthesize_{split}.tsv" for split in SPLITS
        ],
        **{
            f"train_{model}": [f"{RESULTS}/benchmarks/train_{model}.tsv"]
            for model in TRAINED
        },
        "reconstruct": expand(
            f"{RESULTS}/benchmarks/reconstruct_{{method}}_shard{{shard}}.tsv",
            method=ALL_METHODS,
            shard=SHARDS,
        ),
        "score": expand(
            f"{RESULTS}/benchmarks/score_{{method}}.tsv", method=ALL_METHODS
        ),
        "table": [f"{RESULTS}/benchmarks/table.tsv"],
        "figures": [f"{RESULTS}/benchmarks/figures.tsv"],
    }
    if TRAINED:
        jobs["training_curves"] = [f"{RESULTS}/benchmarks/training_curves.tsv"]
    if MODELS:
        jobs["network_diagnostics"] = [f"{RESULTS}/benchmarks/network_diagnostics.tsv"]
    if SELECTED:
        jobs["select_support"] = expand(
            f"{RESULTS}/benchmarks/select_support_{{model}}.tsv", model=SELECTED
        )
        jobs["support_table"] = [f"{RESULTS}/benchmarks/support_table.tsv"]
    return jobs


def check_benchmarks(rules):
    """Every rule but `all` writes a benchmark record, and every rule whose record lies in
    this run's folder is in run_benchmarks(), so that the run's time record
    (provenance.json, tables/timings.md) leaves no job out."""
    covered = set(run_benchmarks()) | {"provenance"}
    unrecorded = [
        each.name for each in rules if each.name != "all" and not each.benchmark
    ]
    uncovered = [
        each.name
        for each in rules
        if each.benchmark
        and str(each.benchmark).startswith(f"{RESULTS}/")
        and each.name not in covered
    ]
    if unrecorded or uncovered:
        raise WorkflowError(
            f"rules without a benchmark record: {unrecorded}; rules whose records "
            f"provenance does not read (add them to run_benchmarks()): {uncovered}"
        )


def run_outputs():
    """Everything a full run produces: Table 1, figures, provenance, the time table, the
    networks' diagnostics and, where supports are selected, the selection's table."""
    return (
        [
            f"{RESULTS}/tables/table1.md",
            f"{RESULTS}/figures/figure4.png",
            f"{RESULTS}/provenance.json",
            f"{RESULTS}/tables/timings.md",
        ]
        + ([f"{RESULTS}/figures/training_curves.png"] if TRAINED else [])
        + ([f"{RESULTS}/tables/networks.md"] if MODELS else [])
        + ([f"{RESULTS}/tables/support_selection.md"] if SELECTED else [])
    )
