# Shared names and helpers (no rules here). Planning imports only the torch-free registry
# and config checks: `snakemake -n` and `--lint` need no torch.
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


def reconstruction_inputs(wildcards):
    """The test set and, from the registry, what else a method's shard needs (its trained
    network and selected support, its denoiser, or the training split)."""
    needs = METHODS[wildcards.method].needs()
    return {"test": f"{RESULTS}/data/test.npz"} | {
        role: f"{RESULTS}/{path}" for role, path in needs.items()
    }


def reconstructions(method):
    """Every shard of one method's reconstructions."""
    return expand(f"{RESULTS}/recon/{method}/shard{{shard}}.npz", shard=SHARDS)


def run_outputs():
    """Everything a full run produces: Table 1, figures, provenance, the networks'
    diagnostics and, where supports are selected, the selection's table."""
    return (
        [
            f"{RESULTS}/tables/table1.md",
            f"{RESULTS}/figures/figure4.png",
            f"{RESULTS}/provenance.json",
        ]
        + ([f"{RESULTS}/figures/training_curves.png"] if TRAINED else [])
        + ([f"{RESULTS}/tables/networks.md"] if MODELS else [])
        + ([f"{RESULTS}/tables/support_selection.md"] if SELECTED else [])
    )
