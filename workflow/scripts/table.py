"""Snakemake script of rule `table`: prbench.stages.make_table."""

from prbench import stages


def main(job):
    stages.run(stages.make_table, log=job.log[0], method_scores=list(job.input),
               scores=job.output.scores, markdown=job.output.markdown, csv=job.output.csv,
               latex=job.output.latex, **job.params)


main(snakemake)  # noqa: F821
