"""Snakemake script of rule `training_curves`: prbench.stages.training_curves."""

from prbench import stages


def main(job):
    stages.run(stages.training_curves, log=job.log[0],
               histories=dict(zip(job.params.models, job.input.histories)),
               epochs=job.params.epochs, output=list(job.output),
               train_set=job.input.train[0] if job.input.train else None,
               validation_fraction=job.params.validation_fraction)


main(snakemake)  # noqa: F821
