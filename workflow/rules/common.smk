# Shared names and helpers (no rules here).
from prbench.config import check as check_config
from prbench.methods import METHODS

check_config(config)

RUN = config["run"]
RESULTS = f"results/{RUN}"
ENV = "../../environment.yml"
SPLITS = ["train", "test"]
SHARDS = range(config["reconstruction"]["shards"])
ITERATIVE_METHODS = [name for name in config["reconstruction"]["methods"] if name in METHODS]


def synthesized():
    """The synthesized train and test sets of this run."""
    return expand(f"{RESULTS}/data/{{split}}.npz", split=SPLITS)


def reconstructions(methods=ITERATIVE_METHODS):
    """Every shard of every configured method's reconstructions."""
    return expand(f"{RESULTS}/recon/{{method}}/shard{{shard}}.npz", method=methods, shard=SHARDS)
