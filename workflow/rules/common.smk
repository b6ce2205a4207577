# Shared names and helpers (no rules here).
from prbench.config import check as check_config
from prbench.methods import METHODS

check_config(config)

RUN = config["run"]
RESULTS = f"results/{RUN}"
ENV = "../../environment.yml"
SPLITS = ["train", "test"]
SHARDS = range(config["reconstruction"]["shards"])
MODELS = list(config["training"]["models"])
ALL_METHODS = list(config["reconstruction"]["methods"])
USES_DENOISER = any(METHODS[name].denoiser for name in ALL_METHODS)
TRAINED_MODELS = MODELS + (["denoiser"] if USES_DENOISER else [])
ITERATIVE_METHODS = [
    name for name in ALL_METHODS if METHODS[name].model is None and not METHODS[name].denoiser
]


def synthesized():
    """The synthesized train and test sets of this run."""
    return expand(f"{RESULTS}/data/{{split}}.npz", split=SPLITS)


def reconstructions(methods=ITERATIVE_METHODS):
    """Every shard of every configured method's reconstructions."""
    return expand(f"{RESULTS}/recon/{{method}}/shard{{shard}}.npz", method=methods, shard=SHARDS)


def run_outputs():
    """Everything a full run produces: Table 1, figures and provenance."""
    return [
        f"{RESULTS}/tables/table1.md",
        f"{RESULTS}/figures/figure4.png",
        f"{RESULTS}/figures/training_curves.png",
        f"{RESULTS}/provenance.json",
    ]
