"""Per-image scores: symmetry-adjusted MSE of every reconstruction against its truth."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..data.synth import SynthesizedSet
from ..geometry import Geometry
from ..io import load_npz
from ..metrics import align

__all__ = ["SCORE_COLUMNS", "load_shards", "score_method"]

SCORE_COLUMNS = ["method", "image", "label", "offset_row", "offset_col", "flipped", "mse",
                 "seconds", "residual", "iterations", "device"]


def load_shards(paths: Sequence[str | Path], *, produced_by: str = "reconstruct"
                ) -> dict[str, np.ndarray]:
    """Concatenate reconstruction shards (written by rule ``produced_by``), sorted by image.

    Each shard holds x_hat (b, m, m), index (b,), per-image seconds, residual,
    iterations, and the device name. Raises :class:`prbench.io.CorruptFileError` if a shard
    is unreadable or lacks one of these, ValueError if shards overlap or hold non-finite
    reconstructions.
    """
    numeric = ("x_hat", "index", "seconds", "residual", "iterations")
    parts: dict[str, list[np.ndarray]] = {}
    for path in paths:
        shard = load_npz(path, keys=(*numeric, "device"), produced_by=produced_by)
        for key in numeric:
            parts.setdefault(key, []).append(shard[key])
        parts.setdefault("device", []).append(np.full(len(shard["index"]), str(shard["device"])))
    merged = {key: np.concatenate(values) for key, values in parts.items()}
    order = np.argsort(merged["index"], kind="stable")
    merged = {key: value[order] for key, value in merged.items()}
    if len(np.unique(merged["index"])) != len(merged["index"]):
        raise ValueError(f"shards {list(map(str, paths))} overlap: an image appears twice")
    if not np.isfinite(merged["x_hat"].view(np.float32)).all():
        raise ValueError(f"shards {list(map(str, paths))} hold NaN or infinite reconstructions")
    return merged


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
    alignment = align(torch.from_numpy(test.x[index]), torch.from_numpy(shards["x_hat"]),
                      geometry)
    table = pd.DataFrame({
        "method": method,
        "image": index,
        "label": test.labels[index],
        "offset_row": test.offsets[index, 0],
        "offset_col": test.offsets[index, 1],
        "flipped": test.flips[index],
        "mse": alignment.mse.numpy(),
        "seconds": shards["seconds"],
        "residual": shards["residual"],
        "iterations": shards["iterations"],
        "device": shards["device"],
    }, columns=SCORE_COLUMNS)
    return table, alignment.aligned.to(torch.complex64).numpy()
