"""Snakemake script of rule `sweep_summary`: prbench.stages.summarize_sweep."""

from prbench import stages


def main(job):
    scenarios = job.params.scenarios
    stages.run(stages.summarize_sweep, log=job.log[0],
               tables=dict(zip(scenarios, job.input.tables)), scenarios=scenarios,
               methods=job.params.methods, test_images=job.params.test_images,
               success_threshold=job.params.success_threshold, csv=job.output.csv,
               markdown=job.output.markdown, figure=job.output.figure)


main(snakemake)  # noqa: F821
