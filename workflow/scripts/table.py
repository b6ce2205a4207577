"""Snakemake adapter: per-method scores -> scores.csv and Table 1 (Markdown, CSV, LaTeX)."""

import pandas as pd

from prbench.io import write_text
from prbench.report import table
from prbench.runlog import job_log

with job_log(snakemake.log[0], "table") as log:  # noqa: F821
    params, output = snakemake.params, snakemake.output  # noqa: F821
    scores = pd.concat([pd.read_csv(path) for path in snakemake.input], ignore_index=True)  # noqa: F821
    summary = table.summarize(scores, success_threshold=params.success_threshold,
                              seed=params.seed, resamples=params.bootstrap_resamples)
    markdown = table.to_markdown(summary, success_threshold=params.success_threshold)
    if params.paired_reference:
        paired = table.paired_differences(scores, params.paired_reference, seed=params.seed,
                                          resamples=params.bootstrap_resamples)
        markdown += "\n" + table.paired_markdown(paired, params.paired_reference)
    log.info("Table 1\n%s", markdown)
    write_text(output.scores, scores.to_csv(index=False))
    write_text(output.markdown, markdown)
    write_text(output.csv, summary.to_csv(index=False))
    write_text(output.latex, table.to_latex(summary, success_threshold=params.success_threshold))
