"""Snakemake script of rule `provenance`: prbench.stages.record_provenance."""

from pathlib import Path

from prbench import stages


def main(job):
    stages.run(stages.record_provenance, log=job.log[0], scores=job.input[0],
               output=job.output[0], config=job.params.config,
               repository=Path(job.scriptdir).parents[1])


main(snakemake)  # noqa: F821
