"""Snakemake script of rule `table`: prbench.stages.make_table."""

from prbench import stages


def main(job):
    settings = {key: value for key, value in job.params.items() if key != "methods"}
    stages.run(stages.make_table, log=job.log[0],
               method_scores=dict(zip(job.params.methods, job.input)),
               scores=job.output.scores, markdown=job.output.markdown, csv=job.output.csv,
               latex=job.output.latex, **settings)


main(snakemake)  # noqa: F821
