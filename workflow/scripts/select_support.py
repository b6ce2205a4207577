"""Snakemake script of rule `select_support`: prbench.stages.select_support."""

from pathlib import Path

from prbench import stages


def main(job):
    stages.run(stages.select_support, log=job.log[0], threads=job.threads,
               model=job.wildcards.model, train_set=job.input.train, network=job.input.network,
               output=job.output.selection, curve=job.output.curve,
               repository=Path(job.scriptdir).parents[1], **job.params)


main(snakemake)  # noqa: F821
