"""Snakemake script of rule `download_fashion_mnist`: prbench.stages.acquire."""

from prbench import stages


def main(job):
    stages.run(stages.acquire, log=job.log[0], source=job.wildcards.source, output=job.output[0])


main(snakemake)  # noqa: F821
