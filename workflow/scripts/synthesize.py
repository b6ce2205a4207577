"""Snakemake script of rule `synthesize`: prbench.stages.synthesize_split."""

from pathlib import Path

from prbench import stages


def main(job):
    stages.run(stages.synthesize_split, log=job.log[0], threads=job.threads,
               fashion=job.input[0], output=job.output[0], split=job.wildcards.split,
               repository=Path(job.scriptdir).parents[1], **job.params)


main(snakemake)  # noqa: F821
