"""Snakemake script of rule `training_curves`: prbench.stages.training_curves."""

from prbench import stages


def main(job):
    stages.run(stages.training_curves, log=job.log[0],
               histories=dict(zip(job.params.models, job.input)), epochs=job.params.epochs,
               output=list(job.output))


main(snakemake)  # noqa: F821
