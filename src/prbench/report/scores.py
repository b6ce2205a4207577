"""Per-image scores: symmetry-adjusted MSE of every reconstruction against its truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..data.synth import SynthesizedSet
from ..geometry import Geometry
from ..metrics import align

__all__ = ["SCORE_COLUMNS", "score_method"]

SCORE_COLUMNS = ["method", "image", "label", "offset_row", "offset_col", "flipped", "mse",
                 "seconds", "residual", "iterations", "device"]
#: Images aligned at once. The alignment's float64 intermediates take ~0.9 MB per image:
#: 10,000 test images at once took 59 s and 10.9 GB at peak on one CPU thread here, in
#: chunks of 1,024 22 s and 2.6 GB (2026-11-29; benchmarks/time_cpu_stages.py).
ALIGN_CHUNK = 1024


def score_method(method: str, test: SynthesizedSet, shards: dict[str, np.ndarray],
                 geometry: Geometry) -> tuple[pd.DataFrame, np.ndarray]:
    """Score one method's reconstructions of the test set.

    test.x: (N, n, n) truths and shards["x_hat"]: (b, h, w) reconstructions with
    h, w <= m, (n, m) = geometry (checked by :func:`prbench.metrics.align`).
    Returns a DataFrame with :data:`SCORE_COLUMNS` (one row per image) and the
    best-aligned reconstructions (N, n, n) complex64 (see :func:`prbench.metrics.align`).
    """
    index = shards["index"]
    if index.max(initial=-1) >= len(test.x):
        raise ValueError(f"{method}: reconstruction indices exceed the {len(test.x)} test images")
    truths, recons = torch.from_numpy(test.x[index]), torch.from_numpy(shards["x_hat"])
    chunks = [align(truth, recon, geometry) for truth, recon
              in zip(truths.split(ALIGN_CHUNK), recons.split(ALIGN_CHUNK))]
    mse = torch.cat([chunk.mse for chunk in chunks])
    aligned = torch.cat([chunk.aligned.to(torch.complex64) for chunk in chunks])
    table = pd.DataFrame({
        "method": method,
        "image": index,
        "label": test.labels[index],
        "offset_row": test.offsets[index, 0],
        "offset_col": test.offsets[index, 1],
        "flipped": test.flips[index],
        "mse": mse.numpy(),
        "seconds": shards["seconds"],
        "residual": shards["residual"],
        "iterations": shards["iterations"],
        "device": shards["device"],
    }, columns=SCORE_COLUMNS)
    return table, aligned.numpy()
