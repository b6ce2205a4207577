"""Snakemake script of rule `figures`: prbench.stages.draw_figures."""

from prbench import stages


def main(job):
    stages.run(stages.draw_figures, log=job.log[0], test=job.input.test,
               scores=job.input.scores, aligned=dict(zip(job.params.methods, job.input.aligned)),
               figure4=job.output.figure4, distribution=job.output.distribution,
               images=job.params.images, seed=job.params.seed)


main(snakemake)  # noqa: F821
