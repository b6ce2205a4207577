"""Snakemake script of rule `train_denoiser`: prbench.stages.train_denoiser_network."""

from prbench import stages


def main(job):
    stages.run(stages.train_denoiser_network, log=job.log[0], threads=job.threads,
               train_set=job.input.train, best=job.output.best, **job.params)


main(snakemake)  # noqa: F821
