"""Training diagnostics of the learned initialisers, from their ``history.csv`` files.

One Markdown table per U-Net, one row per epoch: the validation loss (its training
objective's data term), the symmetric MSE of its outputs and its difference from the
calibration level (the mean training object's MSE on the same validation images: a
network above it has learned nothing beyond the mean object), and the fraction of the
outputs' energy in the frame's 2-pixel border ring, beside the true objects' fraction
(the edge-artefact check of :func:`prbench.metrics.border_energy_fraction`), with the
kept epoch (lowest validation loss, the weights in ``best.pt``) marked.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["network_diagnostics"]

_COLUMNS = ("epoch", "val_loss", "val_symmetric_mse", "val_border_fraction", "images_per_s")


def network_diagnostics(histories: dict[str, pd.DataFrame], truth_border: float, *,
                        calibration: float) -> str:
    """Markdown diagnostics of each network (name -> its history) against the true
    objects' border-ring energy fraction ``truth_border`` and the mean training object's
    validation MSE ``calibration``, both on the validation images of the histories."""
    if not histories:
        raise ValueError("no network histories given")
    lines = [f"True objects (validation hold-out): {truth_border:.2%} of the energy in the "
             "frame's 2-pixel border ring.",
             f"Calibration: the mean training object scores a validation MSE of "
             f"{calibration:.4f} on the same images; a negative \"vs. mean object\" is "
             "learning beyond it.", ""]
    for name, history in histories.items():
        missing = sorted(set(_COLUMNS) - set(history.columns))
        if missing or history.empty:
            raise ValueError(f"history of {name!r} lacks columns {missing} or rows; is it a "
                             "U-Net's history.csv?")
        kept = int(history.loc[history["val_loss"].idxmin(), "epoch"])
        lines += [f"**{name}** (kept: epoch {kept}, lowest validation loss)", "",
                  "| Epoch | Validation loss | Validation MSE | vs. mean object | "
                  "Border-ring energy | Training images/s |",
                  "| ---: | ---: | ---: | ---: | ---: | ---: |"]
        for row in history.itertuples(index=False):
            marker = " (kept)" if row.epoch == kept else ""
            lines.append(f"| {row.epoch}{marker} | {row.val_loss:.4f} | "
                         f"{row.val_symmetric_mse:.4f} | "
                         f"{row.val_symmetric_mse - calibration:+.4f} | "
                         f"{row.val_border_fraction:.2%} | "
                         f"{row.images_per_s:.0f} |")
        lines.append("")
    return "\n".join(lines)
