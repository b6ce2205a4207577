"""Snakemake script of rule `sweep_summary`: prbench.stages.summarize_sweep."""

from prbench import stages


def main(job):
    scenarios = job.params.scenarios
    stages.run(stages.summarize_sweep, log=job.log[0],
               tables=dict(zip(scenarios, job.input.tables)),
               scores=dict(zip(scenarios, job.input.scores)), scenarios=scenarios,
               methods=job.params.methods, test_images=job.params.test_images,
               success_threshold=job.params.success_threshold,
               bootstrap_resamples=job.params.bootstrap_resamples, seed=job.params.seed,
               csv=job.output.csv,
               markdown=job.output.markdown, figure=job.output.figure)


main(snakemake)  # noqa: F821
