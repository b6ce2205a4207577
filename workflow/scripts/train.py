"""Snakemake script of rules `train_naive` and `train_passive`: prbench.stages.train_unet."""

from prbench import stages


def main(job):
    stages.run(stages.train_unet, log=job.log[0], threads=job.threads,
               train_set=job.input.train, fashion=job.input.fashion, best=job.output.best,
               history=job.output.history, curves=job.output.curves, **job.params)


main(snakemake)  # noqa: F821
