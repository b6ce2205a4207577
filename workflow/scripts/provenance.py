"""Snakemake adapter: results/<run>/provenance.json."""

from pathlib import Path

import pandas as pd

from prbench import provenance
from prbench.io import write_json
from prbench.runlog import job_log

with job_log(snakemake.log[0], "provenance"):  # noqa: F821
    config = snakemake.params.config  # noqa: F821
    scores = pd.read_csv(snakemake.input[0])  # noqa: F821
    devices = sorted(scores["device"].astype(str).unique())
    workflow_dir = Path(snakemake.scriptdir).parent  # noqa: F821
    write_json(snakemake.output[0], provenance.collect(  # noqa: F821
        repository=workflow_dir, config=config, seed=config["seed"], device=", ".join(devices)))
