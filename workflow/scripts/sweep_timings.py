"""Snakemake script of rule `sweep_timings`: prbench.stages.sweep_timings."""

from prbench import stages


def main(job):
    stages.run(stages.sweep_timings, log=job.log[0], benchmarks=job.params.benchmarks,
               run=job.params.run, output=job.output[0])


main(snakemake)  # noqa: F821
