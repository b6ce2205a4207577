"""Snakemake script of rule `reconstruct`: prbench.stages.reconstruct_shard."""

from pathlib import Path

from prbench import stages


def main(job):
    stages.run(stages.reconstruct_shard, log=job.log[0], threads=job.threads,
               method=job.wildcards.method, shard=int(job.wildcards.shard), test=job.input.test,
               network=job.input.get("network"), support=job.input.get("support"),
               denoiser=job.input.get("denoiser"),
               training_set=job.input.get("training_set"),
               output=job.output[0], repository=Path(job.scriptdir).parents[1], **job.params)


main(snakemake)  # noqa: F821
