"""Snakemake adapter: the training curves of every trained network, in one figure."""

import pandas as pd

from prbench.report import figures
from prbench.runlog import job_log

with job_log(snakemake.log[0], "training_curves"):  # noqa: F821
    histories = {name: pd.read_csv(path) for name, path in
                 zip(snakemake.params.models, snakemake.input)}  # noqa: F821
    figures.save_figure(figures.training_curves(histories), snakemake.output)  # noqa: F821
