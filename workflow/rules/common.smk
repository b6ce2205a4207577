# Shared names and helpers (no rules here).
from prbench.config import check as check_config
from prbench.methods import METHODS

check_config(config)

RUN = config["run"]
RESULTS = f"results/{RUN}"
ENV = "../../environment.yml"
SHARDS = range(config["reconstruction"]["shards"])
ALL_METHODS = list(config["reconstruction"]["methods"])
# Networks are trained only when a configured method uses them.
MODELS = [model for model in config.get("training", {}).get("models", {})
          if any(METHODS[name].model == model for name in ALL_METHODS)]
USES_DENOISER = any(METHODS[name].denoiser for name in ALL_METHODS)
TRAINED_MODELS = MODELS + (["denoiser"] if USES_DENOISER else [])
ITERATIVE_METHODS = [
    name for name in ALL_METHODS if METHODS[name].model is None and not METHODS[name].denoiser
]
# The decoded Fashion-MNIST of the configured source: one file per source, shared by
# every run (its rule has no run-dependent parameters).
FASHION_MNIST = f"resources/fashion_mnist/{config['data']['source']}.npz"


def reconstructions(methods=ITERATIVE_METHODS):
    """Every shard of every configured method's reconstructions."""
    return expand(f"{RESULTS}/recon/{{method}}/shard{{shard}}.npz", method=methods, shard=SHARDS)


def run_outputs():
    """Everything a full run produces: Table 1, figures and provenance."""
    return [
        f"{RESULTS}/tables/table1.md",
        f"{RESULTS}/figures/figure4.png",
        f"{RESULTS}/provenance.json",
    ] + ([f"{RESULTS}/figures/training_curves.png"] if TRAINED_MODELS else [])
