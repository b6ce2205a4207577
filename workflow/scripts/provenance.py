"""Snakemake script of rule `provenance`: prbench.stages.record_provenance."""

import os
from pathlib import Path

from prbench import stages


def main(job):
    benchmarks = {stage: list(getattr(job.input, stage)) for stage in job.params.stages}
    [folder] = {os.path.dirname(path) for paths in benchmarks.values() for path in paths}
    stages.run(stages.record_provenance, log=job.log[0], scores=job.input.scores,
               methods=job.params.methods, test_images=job.params.test_images,
               output=job.output.record, timings=job.output.timings, benchmarks=benchmarks,
               benchmark_folder=folder, config=job.params.config,
               rows_from=job.params.rows_from,
               repository=Path(job.scriptdir).parents[1])


main(snakemake)  # noqa: F821
