"""Data stages: the Fashion-MNIST source and the synthesized splits."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from .. import provenance
from ..data import fashion_mnist, synth
from ..geometry import Geometry

__all__ = ["acquire", "synthesize_split"]

_LOG = logging.getLogger(__package__)


def acquire(*, source: str, output: str | Path) -> None:
    """Decode Fashion-MNIST from one source (cache: $PRBENCH_DOWNLOAD_CACHE or
    resources/downloads) into ``output``."""
    cache_dir = os.environ.get("PRBENCH_DOWNLOAD_CACHE", "resources/downloads")
    dataset = fashion_mnist.acquire(cache_dir, [source])
    _LOG.info("source %s (cache %s): train %s, test %s", dataset.source, cache_dir,
              dataset.train_images.shape, dataset.test_images.shape)
    dataset.save(output)


def synthesize_split(*, fashion: str | Path, output: str | Path, split: str, size: int,
                     seed: int, n: int, m: int, object_kind: str, phase_smoothing_px: float,
                     phase_std_rad: float, photons: float | None,
                     repository: str | Path) -> None:
    """One synthesized split (paper, Sec. 3) of ``size`` images with geometry (n, m),
    noiseless or with ``photons`` expected photons per image."""
    source = fashion_mnist.load(fashion)
    dataset = synth.synthesize(
        getattr(source, f"{split}_images"), getattr(source, f"{split}_labels"), size,
        seed=seed, split=split, geometry=Geometry(n, m), object_kind=object_kind,
        phase_smoothing_px=phase_smoothing_px, phase_std_rad=phase_std_rad, photons=photons)
    dataset.meta["source"] = source.source
    dataset.meta["provenance"] = provenance.collect(repository=repository, seed=seed,
                                                    device="cpu")
    _LOG.info("%s: x %s, y %s, %d flipped", split, dataset.x.shape, dataset.y.shape,
              int(dataset.flips.sum()))
    dataset.save(output)
