"""The reconstruction shard file: one test shard's reconstructions by one method.

Written by the ``reconstruct`` rule (:func:`save_shard`), read by scoring
(:func:`load_shards`); this module is the one place that knows the format. An
``.npz`` holding x_hat (b, h, w) complex64 reconstructions (h = w = m for the
solvers, n for a network's output), index (b,) int64 test-set indices, residual
(b,) relative Fourier residual, iterations (b,) int, stop_reason (b,) str (why
the solver stopped, :data:`prbench.solvers.STOP_REASONS`), seconds (b,) per-image
share of the job's solver time, device (0-d str) and provenance (0-d JSON str).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .io import CorruptFileError, load_npz, save_npz

__all__ = ["load_shards", "save_shard"]

_NUMERIC = ("x_hat", "index", "seconds", "residual", "iterations")
_PER_IMAGE = (*_NUMERIC, "stop_reason")


def save_shard(path: str | Path, *, x_hat: np.ndarray, index: np.ndarray, residual: np.ndarray,
               iterations: np.ndarray, stop_reason: np.ndarray, seconds: float, device: str,
               provenance: dict[str, Any]) -> None:
    """Atomically write one shard; ``seconds`` (the job's total) is shared equally per image."""
    count = len(index)
    if not (len(x_hat) == len(residual) == len(iterations) == len(stop_reason) == count):
        raise ValueError(f"shard arrays disagree in length: x_hat {len(x_hat)}, index {count}, "
                         f"residual {len(residual)}, iterations {len(iterations)}, "
                         f"stop_reason {len(stop_reason)}")
    save_npz(path, x_hat=x_hat, index=np.asarray(index, np.int64), residual=residual,
             iterations=iterations, stop_reason=np.asarray(stop_reason, str),
             device=np.array(device),
             seconds=np.full(count, seconds / max(count, 1)),
             provenance=np.array(json.dumps(provenance, sort_keys=True, default=str)))


def load_shards(paths: Sequence[str | Path], planned: Sequence[np.ndarray], *,
                produced_by: str = "reconstruct") -> dict[str, np.ndarray]:
    """Concatenate shards written by :func:`save_shard`, sorted by image index.

    ``planned[k]``: the test-set indices the run planned for ``paths[k]``
    (:func:`prbench.methods.shard_indices`). Returns x_hat, index, seconds, residual,
    iterations, stop_reason and device (one string per image). A shard that is unreadable, holds
    other images than planned, arrays of disagreeing lengths or non-finite
    reconstructions raises :class:`prbench.io.CorruptFileError` naming that shard and
    how to regenerate it (rule ``produced_by``).
    """
    if len(paths) != len(planned):
        raise ValueError(f"{len(paths)} shard files for {len(planned)} planned shards")
    parts: dict[str, list[np.ndarray]] = {}
    for path, indices in zip(paths, planned):
        shard = load_npz(path, keys=(*_PER_IMAGE, "device"), produced_by=produced_by)
        lengths = {key: len(shard[key]) for key in _PER_IMAGE if shard[key].ndim}
        problem = None
        if not np.array_equal(shard["index"], indices):
            problem = (f"test images {shard['index'][:5].tolist()}... ({len(shard['index'])}), "
                       f"the plan gives it {np.asarray(indices)[:5].tolist()}... "
                       f"({len(indices)})")
        elif set(lengths.values()) != {len(indices)} or len(lengths) != len(_PER_IMAGE):
            problem = f"arrays of lengths {lengths} for {len(indices)} images"
        elif shard["x_hat"].ndim != 3:
            problem = f"x_hat of shape {shard['x_hat'].shape}, not (images, height, width)"
        elif not np.isfinite(shard["x_hat"]).all():
            problem = "NaN or infinite reconstructions"
        if problem:
            raise CorruptFileError.for_file(path, problem, produced_by=produced_by)
        for key in _PER_IMAGE:
            parts.setdefault(key, []).append(shard[key])
        parts.setdefault("device", []).append(np.full(len(shard["index"]), str(shard["device"])))
    merged = {key: np.concatenate(values) for key, values in parts.items()}
    order = np.argsort(merged["index"], kind="stable")
    merged = {key: value[order] for key, value in merged.items()}
    if len(np.unique(merged["index"])) != len(merged["index"]):
        raise ValueError(f"the planned shards {list(map(str, paths))} overlap: an image "
                         "appears twice")
    return merged
