"""Per-image scores: symmetry-adjusted MSE of every reconstruction against its truth."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..data.synth import SynthesizedSet
from ..geometry import Geometry
from ..io import CorruptFileError, check_ranges, load_npz, read_csv
from ..metrics import MSE_SLACK, align
from ..solvers import STOP_REASONS

__all__ = ["SCORE_COLUMNS", "load_aligned", "read_scores", "score_method"]

SCORE_COLUMNS = ["method", "image", "label", "offset_row", "offset_col", "flipped", "mse",
                 "seconds", "residual", "iterations", "stopped", "device"]
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
        "stopped": shards["stop_reason"],
        "device": shards["device"],
    }, columns=SCORE_COLUMNS)
    return table, aligned.numpy()


def _image_problem(images: np.ndarray, count: int) -> str | None:
    """What is wrong with per-image indices ``images`` where test images 0..count-1 were
    planned, each once (None: nothing)."""
    values, repeats = np.unique(images, return_counts=True)
    missing = np.setdiff1d(np.arange(count), values)
    foreign = np.setdiff1d(values, np.arange(count))
    if len(missing) or len(foreign) or (repeats > 1).any():
        rows = f"{len(images)} row" + ("" if len(images) == 1 else "s")
        return (f"{rows} for the {count} planned test images: "
                f"{len(missing)} missing (first {missing[:5].tolist()}), "
                f"{int((repeats > 1).sum())} repeated, {len(foreign)} outside 0..{count - 1}")
    return None


def read_scores(path: str | Path, *, methods: Sequence[str], images: int,
                produced_by: str) -> pd.DataFrame:
    """Per-image scores (:data:`SCORE_COLUMNS`) written by rule ``produced_by``, checked
    against the run's plan: exactly the ``methods``, each with one row per test image
    0..images-1, a finite MSE in [0, 1], finite seconds and residual >= 0, iterations
    >= 0 (NaN residuals are allowed: a network's output has none) and a stop reason of
    :data:`prbench.solvers.STOP_REASONS`. Any problem raises
    :class:`prbench.io.CorruptFileError` naming the file and how to regenerate it."""
    frame = read_csv(path, columns=SCORE_COLUMNS, produced_by=produced_by)
    found = list(dict.fromkeys(frame["method"].astype(str)))
    if set(found) != set(methods):
        raise CorruptFileError.for_file(path, f"scores of methods {found}, the run planned "
                                        f"{list(methods)}", produced_by=produced_by)
    for method, rows in frame.groupby("method", sort=False):
        problem = _image_problem(pd.to_numeric(rows["image"], errors="coerce").to_numpy(), images)
        if problem:
            raise CorruptFileError.for_file(path, f"method {method}: {problem}",
                                            produced_by=produced_by)
    check_ranges(path, frame, {"mse": (0.0, 1.0 + MSE_SLACK), "seconds": (0.0, np.inf),
                               "iterations": (0.0, np.inf)}, produced_by=produced_by)
    check_ranges(path, frame.loc[frame["residual"].notna()], {"residual": (0.0, np.inf)},
                 produced_by=produced_by)
    unknown = sorted(set(frame["stopped"].astype(str)) - set(STOP_REASONS))
    if unknown:
        raise CorruptFileError.for_file(path, f"stop reasons {unknown}, not one of "
                                        f"{list(STOP_REASONS)}", produced_by=produced_by)
    return frame


def load_aligned(path: str | Path, *, images: int, n: int) -> np.ndarray:
    """The (images, n, n) aligned reconstructions of one method written by rule ``score``
    (with ``image`` = 0..images-1, finite); otherwise :class:`prbench.io.CorruptFileError`."""
    stored = load_npz(path, keys=("aligned", "image"), produced_by="score")
    aligned, index = stored["aligned"], stored["image"]
    problem = _image_problem(index, images)
    if aligned.shape != (images, n, n):
        problem = f"aligned reconstructions of shape {aligned.shape}, expected {(images, n, n)}"
    elif problem is None and not np.array_equal(index, np.arange(images)):
        problem = "its images are not in test-set order"
    elif problem is None and not np.isfinite(aligned).all():
        problem = "NaN or infinite aligned reconstructions"
    if problem:
        raise CorruptFileError.for_file(path, problem, produced_by="score")
    return aligned
