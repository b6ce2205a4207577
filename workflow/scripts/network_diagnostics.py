"""Snakemake script of rule `network_diagnostics`: prbench.stages.diagnose_networks."""

from prbench import stages


def main(job):
    stages.run(stages.diagnose_networks, log=job.log[0],
               histories=dict(zip(job.params.models, job.input.histories)),
               epochs=job.params.epochs,
               train_set=job.input.train, output=job.output[0],
               validation_fraction=job.params.validation_fraction)


main(snakemake)  # noqa: F821
