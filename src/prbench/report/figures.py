"""Figures: the paper's Figure 4, MSE distributions, training curves (matplotlib, PNG + PDF)."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ..io import atomic_path  # noqa: E402
from ..registry import METHODS  # noqa: E402

__all__ = ["PHASE_MASK_FRACTION", "figure4", "mse_distribution", "save_figure",
           "training_curves"]


#: Metadata dropped per format so that a figure's bytes depend only on its content:
#: the PDF creation time and the Matplotlib version strings.
_NO_VOLATILE_METADATA = {
    "png": {"Software": None},
    "pdf": {"CreationDate": None, "Creator": None, "Producer": None},
}


def save_figure(figure: plt.Figure, paths: Sequence[str | Path]) -> None:
    """Atomically save ``figure`` to every path (format from the suffix), then close it.

    PNG and PDF files carry no timestamp or version metadata, so saving the same
    figure again gives the same bytes.
    """
    for path in paths:
        suffix = Path(path).suffix.lstrip(".").lower()
        with atomic_path(path) as temporary:
            figure.savefig(temporary, format=suffix, dpi=150, bbox_inches="tight",
                           metadata=_NO_VOLATILE_METADATA.get(suffix))
    plt.close(figure)


#: Phase panels grey out pixels whose magnitude is below this fraction of the image's
#: truth maximum: their phase is meaningless.
PHASE_MASK_FRACTION = 0.05

#: Cyclic colormap of the phase panels on [-pi, pi]; masked pixels in neutral grey.
_PHASE_COLORMAP = matplotlib.colormaps["twilight"].with_extremes(bad="0.5")


def _panel(axis: plt.Axes, values: np.ndarray, title: str | None, error: float | None,
           **style) -> matplotlib.image.AxesImage:
    """One image panel without ticks: ``values`` (n, n) drawn with ``imshow(**style)``,
    ``title`` above (None: none), the symmetric MSE ``error`` below (None: none)."""
    shown = axis.imshow(values, **style)
    axis.set_xticks([])
    axis.set_yticks([])
    if title is not None:
        axis.set_title("\n".join(textwrap.wrap(title, 14)), fontsize=7)
    if error is not None:
        axis.set_xlabel(f"{error:.3f}", fontsize=7)
    return shown


def figure4(truth: np.ndarray, aligned: Mapping[str, np.ndarray], mse: Mapping[str, np.ndarray],
            rows: np.ndarray, *, phase: bool = False) -> plt.Figure:
    """The paper's Figure 4: ground truth, then every method, aligned to the truth.

    truth: (N, n, n) complex; aligned[method]: (N, n, n) best-aligned reconstructions
    (:func:`prbench.metrics.align`); mse[method]: (N,) errors; rows: indices of the
    test images to show. Magnitudes are shown on each image's truth scale.

    phase (complex objects): each image gets a second row, the phase (radians, cyclic
    colormap on [-pi, pi], one colorbar) of the truth and of every aligned reconstruction,
    grey where that panel's magnitude is below :data:`PHASE_MASK_FRACTION` of the truth's
    maximum. The alignment has already applied the optimal global phase factor, so these
    phases compare directly with the truth's.
    """
    names = list(aligned)
    per_image = 2 if phase else 1
    titles = ["Ground truth"] + [METHODS[name].label for name in names]
    figure, axes = plt.subplots(per_image * len(rows), len(names) + 1, squeeze=False,
                                figsize=(1.3 * (len(names) + 1), 1.4 * per_image * len(rows)))
    for r, image in enumerate(rows):
        scale = np.abs(truth[image]).max()
        stack = [truth[image]] + [aligned[name][image] for name in names]
        errors = [None] + [mse[name][image] for name in names]
        for c, (values, error) in enumerate(zip(stack, errors)):
            _panel(axes[per_image * r, c], np.abs(values), titles[c] if r == 0 else None, error,
                   cmap="gray", vmin=0, vmax=scale)
            if phase:
                angle = np.ma.masked_where(np.abs(values) < PHASE_MASK_FRACTION * scale,
                                           np.angle(values))
                phase_image = _panel(axes[2 * r + 1, c], angle, None, None,
                                     cmap=_PHASE_COLORMAP, vmin=-np.pi, vmax=np.pi)
        if phase:
            axes[2 * r, 0].set_ylabel("amplitude", fontsize=7)
            axes[2 * r + 1, 0].set_ylabel("phase", fontsize=7)
    if phase:
        colorbar = figure.colorbar(phase_image, ax=axes.ravel().tolist(), shrink=0.5, pad=0.02,
                                   ticks=[-np.pi, 0, np.pi])
        colorbar.set_ticklabels(["\u2212\u03c0", "0", "\u03c0"], fontsize=7)
        colorbar.set_label(f"phase (rad); grey: |x| < {PHASE_MASK_FRACTION:.0%} of the "
                           "truth's maximum", fontsize=7)
    shown = "amplitude and phase" if phase else "|x|"
    figure.suptitle(f"Reconstructions aligned to the truth ({shown}; symmetric MSE below each)",
                    fontsize=8)
    return figure


def mse_distribution(scores: pd.DataFrame, order: Sequence[str],
                     paper: Mapping[str, float]) -> plt.Figure:
    """Box plot of per-image MSE per method, with the paper's mean as a marker."""
    figure, axis = plt.subplots(figsize=(7, 0.45 * len(order) + 1.2))
    values = [scores.loc[scores["method"] == name, "mse"].to_numpy() for name in order]
    axis.boxplot(values, orientation="horizontal", showmeans=True, widths=0.6)
    axis.set_yticks(range(1, len(order) + 1), [METHODS[name].label for name in order],
                    fontsize=8)
    reported = [(i + 1, paper[name]) for i, name in enumerate(order) if name in paper]
    if reported:
        axis.scatter([v for _, v in reported], [y for y, _ in reported], marker="x",
                     color="crimson", zorder=3, label="paper's mean (Table 1)")
        axis.legend(fontsize=7, loc="lower right")
    axis.invert_yaxis()
    axis.set_xlim(-0.02, 1.02)
    axis.set_xlabel("symmetry-adjusted relative MSE (per test image)")
    return figure


def training_curves(histories: Mapping[str, pd.DataFrame], *,
                    calibration: float | None = None) -> plt.Figure:
    """Train and validation loss per epoch, one column per trained network. Given the
    ``calibration`` level (the mean training object's validation MSE), a second row draws
    each U-Net's validation symmetric MSE per epoch against it (a dashed line)."""
    rows = 1 if calibration is None else 2
    figure, axes = plt.subplots(rows, len(histories), squeeze=False,
                                figsize=(3.5 * len(histories), 2.8 * rows))
    for column, (name, history) in enumerate(histories.items()):
        axis = axes[0, column]
        axis.plot(history["epoch"], history["train_loss"], marker="o", label="train")
        axis.plot(history["epoch"], history["val_loss"], marker="s", label="validation")
        axis.set_title(name, fontsize=9)
        axis.set_xlabel("epoch")
        axis.set_ylabel("loss")
        axis.set_yscale("log")
        axis.legend(fontsize=7)
        if rows == 1:
            continue
        axis = axes[1, column]
        if "val_symmetric_mse" not in history.columns:
            axis.set_axis_off()
            continue
        axis.plot(history["epoch"], history["val_symmetric_mse"], marker="s",
                  color="tab:orange", label="validation")
        axis.axhline(calibration, color="black", linestyle="--", linewidth=1.0,
                     label="mean object")
        axis.set_xlabel("epoch")
        axis.set_ylabel("symmetric MSE")
        axis.legend(fontsize=7)
    figure.tight_layout()
    return figure
