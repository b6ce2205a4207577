"""Snakemake adapter: acquire Fashion-MNIST -> resources/fashion_mnist.npz."""

from prbench.data import fashion_mnist
from prbench.runlog import job_log

with job_log(snakemake.log[0], "download_fashion_mnist") as log:  # noqa: F821
    params = snakemake.params  # noqa: F821
    dataset = fashion_mnist.acquire(params.cache_dir, params.sources,
                                    idx_timeout_s=params.idx_timeout_s)
    log.info("source %s: train %s, test %s", dataset.source, dataset.train_images.shape,
             dataset.test_images.shape)
    dataset.save(snakemake.output[0])  # noqa: F821
