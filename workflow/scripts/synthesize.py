"""Snakemake adapter: synthesize one split (train/test) of shifted, flipped PR data."""

from pathlib import Path

import torch

from prbench import provenance
from prbench.data import fashion_mnist, synth
from prbench.geometry import Geometry
from prbench.runlog import job_log

with job_log(snakemake.log[0], "synthesize") as log:  # noqa: F821
    torch.set_num_threads(snakemake.threads)  # noqa: F821
    params = snakemake.params  # noqa: F821
    split = snakemake.wildcards.split  # noqa: F821
    source = fashion_mnist.load(snakemake.input[0])  # noqa: F821
    images = getattr(source, f"{split}_images")
    labels = getattr(source, f"{split}_labels")
    dataset = synth.synthesize(
        images, labels, params.size, seed=params.seed, split=split,
        geometry=Geometry(params.n, params.m),
        object_kind=params.object_kind, phase_smoothing_px=params.phase_smoothing_px,
        phase_std_rad=params.phase_std_rad,
    )
    dataset.meta["source"] = source.source
    dataset.meta["provenance"] = provenance.collect(
        repository=Path(snakemake.scriptdir).parent, seed=params.seed, device="cpu")  # noqa: F821
    log.info("%s: x %s, y %s, %d flipped", split, dataset.x.shape, dataset.y.shape,
             int(dataset.flips.sum()))
    dataset.save(snakemake.output[0])  # noqa: F821
