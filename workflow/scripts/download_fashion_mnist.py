"""Snakemake adapter: acquire Fashion-MNIST from one source -> resources/fashion_mnist/<source>.npz."""

import os

from prbench.data import fashion_mnist
from prbench.runlog import job_log

with job_log(snakemake.log[0], "download_fashion_mnist") as log:  # noqa: F821
    source = snakemake.wildcards.source  # noqa: F821
    cache_dir = os.environ.get("PRBENCH_DOWNLOAD_CACHE", "resources/downloads")
    dataset = fashion_mnist.acquire(cache_dir, [source])
    log.info("source %s (cache %s): train %s, test %s", dataset.source, cache_dir,
             dataset.train_images.shape, dataset.test_images.shape)
    dataset.save(snakemake.output[0])  # noqa: F821
