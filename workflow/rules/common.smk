# Shared names and helpers (no rules here).
from prbench.config import check as check_config

check_config(config)

RUN = config["run"]
RESULTS = f"results/{RUN}"
ENV = "../../environment.yml"
SPLITS = ["train", "test"]


def synthesized():
    """The synthesized train and test sets of this run."""
    return expand(f"{RESULTS}/data/{{split}}.npz", split=SPLITS)
