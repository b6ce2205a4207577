"""Snakemake adapter: Figure 4 and the MSE distributions."""

import numpy as np
import pandas as pd

from prbench.data import synth
from prbench.io import load_npz
from prbench.report import figures
from prbench.report.table import PAPER_TABLE1, ordered
from prbench.runlog import job_log

with job_log(snakemake.log[0], "figures") as log:  # noqa: F821
    params, output = snakemake.params, snakemake.output  # noqa: F821
    test = synth.load(snakemake.input.test)  # noqa: F821
    scores = pd.read_csv(snakemake.input.scores)  # noqa: F821
    paths = dict(zip(params.methods, snakemake.input.aligned))  # noqa: F821
    methods = ordered(params.methods)
    aligned, mse = {}, {}
    for name in methods:
        aligned[name] = load_npz(paths[name], keys=("aligned",), produced_by="score")["aligned"]
        mse[name] = scores.loc[scores["method"] == name].sort_values("image")["mse"].to_numpy()
    rng = np.random.default_rng(params.seed)
    rows = np.sort(rng.choice(len(test.x), size=min(params.images, len(test.x)), replace=False))
    log.info("Figure 4 rows: test images %s", rows.tolist())
    figures.save_figure(figures.figure4(test.x, aligned, mse, rows), output.figure4)
    figures.save_figure(figures.mse_distribution(scores, methods, PAPER_TABLE1),
                        output.distribution)
