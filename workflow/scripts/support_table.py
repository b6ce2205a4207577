"""Snakemake script of rule `support_table`: prbench.stages.support_table."""

from prbench import stages


def main(job):
    stages.run(stages.support_table, log=job.log[0], markdown=job.output[0],
               selections=dict(zip(job.params.models, job.input.selections)),
               curves=dict(zip(job.params.models, job.input.curves)))


main(snakemake)  # noqa: F821
