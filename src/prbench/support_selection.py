"""Support selection on the validation split (paper, Sec. 2.2: the support of the network
output): the smoothing ``sigma`` and ``threshold`` of
:func:`prbench.solvers.support.from_estimate` that reconstruct validation images best.

:func:`select` runs one method built on a network and a solver (its own
reconstruction, :func:`prbench.methods.refine`: its solver settings, its start,
seeds per image) once per grid point on images whose truths are known, scores
each with the symmetric MSE, and chooses the grid point of lowest mean MSE
(ties: the first in grid order). :func:`save` writes the selection file that
the reconstruction jobs read back with :func:`load_selection`, and the curve
that :func:`load_curve` and :func:`to_markdown` report.

pandas is imported lazily (by :func:`select` and the CSV reader), so that the
reconstruction jobs, which only read the selection file, start without it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Real
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from . import methods
from .geometry import Geometry
from .io import CorruptFileError, check_ranges, read_csv, read_json, write_json, write_text
from .metrics import MSE_SLACK, symmetric_mse
from .registry import METHODS, SUPPORT_SELECTORS

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CRITERION", "CURVE_COLUMNS", "Selection", "grid", "load_curve", "load_selection",
           "save", "select", "to_markdown"]

#: How the grid point is chosen.
CRITERION = "lowest mean symmetric MSE; ties: the first in grid order"
#: Columns of the curve: one row per grid point.
CURVE_COLUMNS = ("sigma", "threshold", "mean_mse", "median_mse", "images")
_RULE = "select_support"


@dataclass(frozen=True)
class Selection:
    """One selection: the method whose reconstruction was scored, the grid's sigmas and
    thresholds, the curve (a DataFrame of :data:`CURVE_COLUMNS`, grid order) and the
    choice ({"sigma", "threshold"} of its lowest-mean row)."""

    method: str
    sigmas: tuple[float, ...]
    thresholds: tuple[float, ...]
    curve: pd.DataFrame
    choice: dict[str, float]


def grid(sigmas: Sequence[float], thresholds: Sequence[float]) -> list[dict[str, float]]:
    """The grid points in grid order: every threshold for the first sigma, then for the next."""
    if not sigmas or not thresholds:
        raise ValueError(f"the grid needs at least one sigma and one threshold, got sigmas "
                         f"{list(sigmas)} and thresholds {list(thresholds)}")
    return [{"sigma": float(sigma), "threshold": float(threshold)}
            for sigma in sigmas for threshold in thresholds]


def select(method: str, x: np.ndarray, y: np.ndarray, indices: np.ndarray,
           params: dict[str, Any], output: torch.Tensor, *, sigmas: Sequence[float],
           thresholds: Sequence[float], seed: int, geometry: Geometry,
           device: str | torch.device = "auto",
           stopping: dict[str, Any] | None = None) -> Selection:
    """Score every (sigma, threshold) of the grid with ``method``'s reconstruction.

    x: (B, n, n) true objects; y: (B, m, m) their measurements; indices: (B,) their
    indices (for the per-image seeds); params: the method's solver settings;
    output: (B, n, n) the method's network's output for y. Each grid point runs
    :func:`prbench.methods.refine` (with the ``stopping`` test) on all B images and
    records the mean and median of their symmetric MSE against x.
    """
    import pandas as pd

    truth = torch.from_numpy(np.ascontiguousarray(x))
    rows = []
    for point in grid(sigmas, thresholds):
        result = methods.refine(method, y, indices, params, output, point, seed=seed,
                                geometry=geometry, device=device, stopping=stopping)
        mse = symmetric_mse(truth, torch.from_numpy(result.x_hat), geometry).numpy()
        rows.append({**point, "mean_mse": float(mse.mean()), "median_mse": float(np.median(mse)),
                     "images": len(mse)})
    curve = pd.DataFrame(rows, columns=list(CURVE_COLUMNS))
    best = curve.iloc[int(np.argmin(curve["mean_mse"].to_numpy()))]
    return Selection(method=method, sigmas=tuple(map(float, sigmas)),
                     thresholds=tuple(map(float, thresholds)), curve=curve,
                     choice={"sigma": float(best["sigma"]), "threshold": float(best["threshold"])})


def save(selection: Selection, path: str | os.PathLike, curve: str | os.PathLike, *,
         model: str, provenance: dict[str, Any]) -> None:
    """Write the selection file ``path`` (JSON: model, method, choice, criterion, grid,
    validation_images, provenance) and its curve (CSV of :data:`CURVE_COLUMNS`), atomically."""
    write_text(curve, selection.curve.to_csv(index=False))
    write_json(path, {
        "model": model, "method": selection.method, "choice": selection.choice,
        "criterion": CRITERION,
        "grid": {"sigma": list(selection.sigmas), "threshold": list(selection.thresholds)},
        "validation_images": int(selection.curve["images"].iloc[0]), "provenance": provenance})


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and np.isfinite(value)


def _is_grid(value: Any) -> bool:
    return (isinstance(value, dict) and set(value) == {"sigma", "threshold"}
            and all(isinstance(values, list) and values and all(map(_is_number, values))
                    for values in value.values()))


def load_selection(path: str | os.PathLike, *, model: str) -> dict[str, Any]:
    """The selection file of ``model`` written by :func:`save`, checked.

    Raises :class:`prbench.io.CorruptFileError` (naming the rule ``select_support``)
    when the file is unreadable, belongs to another model or method, its choice is
    not a sigma >= 0 and a threshold in (0, 1) of its grid, or it lacks its grid or
    validation image count.
    """
    record = read_json(path, produced_by=_RULE)
    choice = record.get("choice") if isinstance(record, dict) else None
    problem = None
    if not isinstance(choice, dict):
        problem = "no 'choice' entry"
    elif record.get("model") != model or record.get("method") != SUPPORT_SELECTORS.get(model):
        problem = (f"a selection of model {record.get('model')!r} with method "
                   f"{record.get('method')!r}, expected model {model!r} with method "
                   f"{SUPPORT_SELECTORS.get(model)!r}")
    elif set(choice) != {"sigma", "threshold"} or not all(map(_is_number, choice.values())):
        problem = f"its choice {choice} is not numbers 'sigma' and 'threshold'"
    elif not (choice["sigma"] >= 0 and 0 < choice["threshold"] < 1):
        problem = f"its choice {choice} is not a sigma >= 0 and a threshold in (0, 1)"
    elif not _is_grid(record.get("grid")) or choice not in grid(record["grid"]["sigma"],
                                                                 record["grid"]["threshold"]):
        problem = f"its grid {record.get('grid')} is not lists of numbers holding its choice"
    elif not (isinstance(record.get("validation_images"), int)
              and record["validation_images"] >= 1):
        problem = f"validation_images = {record.get('validation_images')!r}, not a count"
    if problem:
        raise CorruptFileError.for_file(path, problem, produced_by=_RULE)
    return record


def load_curve(path: str | os.PathLike, *, record: dict[str, Any]) -> pd.DataFrame:
    """The curve written by :func:`save` beside the selection ``record``
    (:func:`load_selection`), checked: the columns :data:`CURVE_COLUMNS`, one row per
    point of the record's grid in grid order, each over its validation images, with
    finite MSEs in [0, 1]; otherwise :class:`prbench.io.CorruptFileError`."""
    curve = read_csv(path, columns=CURVE_COLUMNS, produced_by=_RULE)
    points = grid(record["grid"]["sigma"], record["grid"]["threshold"])
    found = [{"sigma": float(row.sigma), "threshold": float(row.threshold)}
             for row in curve.itertuples()]
    problem = None
    if found != points:
        problem = f"grid points {found}, its selection's grid is {points}"
    elif not (curve["images"] == record["validation_images"]).all():
        problem = (f"image counts {curve['images'].tolist()}, its selection scored "
                   f"{record['validation_images']} validation images")
    if problem:
        raise CorruptFileError.for_file(path, problem, produced_by=_RULE)
    check_ranges(path, curve, {"mean_mse": (0.0, 1.0 + MSE_SLACK),
                               "median_mse": (0.0, 1.0 + MSE_SLACK)}, produced_by=_RULE)
    return curve


def to_markdown(record: dict[str, Any], curve: pd.DataFrame) -> str:
    """A Markdown table of one selection: its curve, the chosen grid point marked."""
    method = METHODS[record["method"]]
    chosen_point = (record["choice"]["sigma"], record["choice"]["threshold"])
    lines = [f"**Support of the {record['model']} network's output, selected with "
             f"{method.label}** on {record['validation_images']} validation images "
             f"(choice: {record['criterion']})", "",
             "| σ (px) | Threshold | Mean MSE | Median MSE | Chosen |",
             "| ---: | ---: | ---: | ---: | :---: |"]
    for row in curve.itertuples():
        chosen = "✓" if (row.sigma, row.threshold) == chosen_point else ""
        lines.append(f"| {row.sigma:g} | {row.threshold:g} | {row.mean_mse:.4f} | "
                     f"{row.median_mse:.4f} | {chosen} |")
    return "\n".join(lines) + "\n"
