"""Snakemake script of rule `score`: prbench.stages.score."""

from prbench import stages


def main(job):
    stages.run(stages.score, log=job.log[0], threads=job.threads,
               method=job.wildcards.method, test=job.input.test,
               shards=job.input.shards, scores=job.output.scores, aligned=job.output.aligned)


main(snakemake)  # noqa: F821
