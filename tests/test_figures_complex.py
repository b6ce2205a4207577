"""Figure 4 of complex objects (amplitude and phase rows) on hand-made 8 x 8 objects."""

import numpy as np
import pandas as pd
import pytest
import torch

from prbench import stages
from prbench.data.synth import SynthesizedSet
from prbench.geometry import Geometry
from prbench.io import save_npz
from prbench.metrics import align
from prbench.physics import pad
from prbench.report import figures
from prbench.report.scores import SCORE_COLUMNS

N = 8
G = Geometry(N, 2 * N)
ROWS = np.arange(2)
METHODS = ("hio", "alm")


def hand_made_objects():
    """Two 8 x 8 objects: magnitude (2, 8, 8), phase ramps (2, 8, 8) in radians, all inside
    (-2.2, 2.2) so that no angle wraps, and ``support``, the pixels whose magnitude is at
    least 5% of their image's maximum (1 and 0.06 on it, 0.04 and 0 off it)."""
    i, j = np.mgrid[:N, :N]
    support = np.zeros((2, N, N), bool)
    support[0, 1:6, 2:7] = True
    support[1, 0:5, 0:4] = True
    magnitude = np.where(support, 1.0, 0.04)
    magnitude[0, 3, 4] = 0.06
    magnitude[1, 7, 7] = 0.0
    phase = np.stack([0.3 * (i - j), 0.2 * i + 0.1 * j - 0.7])
    return magnitude, phase, support


def aligned_reconstructions(truth):
    """method -> (2, 8, 8) reconstructions aligned by the metric: HIO's is the truth times a
    global phase, moved circularly in the 16 x 16 grid; ALM's is the truth itself."""
    x = torch.from_numpy(truth)
    rotated = torch.roll(pad(x * np.exp(2.0j), G.m), shifts=(3, 5), dims=(-2, -1))
    alignments = {"hio": align(x, rotated, G), "alm": align(x, x, G)}
    return ({name: result.aligned.numpy() for name, result in alignments.items()},
            {name: result.mse.numpy() for name, result in alignments.items()})


def panel(figure, row, column):
    """The AxesImage of the Figure 4 panel at (row, column) of its grid."""
    return figure.axes[row * (len(METHODS) + 1) + column].images[0]


def test_complex_figure_shows_the_truths_phase_masked_where_the_magnitude_is_small():
    magnitude, phase, support = hand_made_objects()
    truth = (magnitude * np.exp(1j * phase)).astype(np.complex64)
    aligned, mse = aligned_reconstructions(truth)
    assert max(mse["hio"].max(), mse["alm"].max()) < 1e-10
    figure = figures.figure4(truth, aligned, mse, ROWS, phase=True)
    # two rows per image of truth + 2 methods, and the phase colorbar
    assert len(figure.axes) == 2 * len(ROWS) * (len(METHODS) + 1) + 1
    assert "amplitude and phase" in figure.get_suptitle()
    for image in ROWS:
        for column in range(len(METHODS) + 1):
            np.testing.assert_allclose(panel(figure, 2 * image, column).get_array(),
                                       magnitude[image], atol=1e-5)
            shown = panel(figure, 2 * image + 1, column)
            angle = shown.get_array()
            np.testing.assert_array_equal(np.ma.getmaskarray(angle), ~support[image])
            np.testing.assert_allclose(angle.data[support[image]], phase[image][support[image]],
                                       atol=1e-5)
            assert shown.get_clim() == (-np.pi, np.pi) and shown.cmap.name == "twilight"


def test_real_figure_keeps_one_magnitude_row_per_image():
    magnitude, _, _ = hand_made_objects()
    truth = magnitude.astype(np.complex64)
    aligned, mse = aligned_reconstructions(truth)
    figure = figures.figure4(truth, aligned, mse, ROWS)
    assert len(figure.axes) == len(ROWS) * (len(METHODS) + 1)
    assert figure.get_suptitle() == ("Reconstructions aligned to the truth (|x|; symmetric MSE "
                                     "below each)")
    for image in ROWS:
        for column in range(len(METHODS) + 1):
            np.testing.assert_allclose(panel(figure, image, column).get_array(),
                                       magnitude[image], atol=1e-5)


def synthesized_set(x, **meta):
    """A SynthesizedSet of the objects x (B, 8, 8) with zero measurements and ``meta``."""
    count = len(x)
    return SynthesizedSet(x=x, y=np.zeros((count, G.m, G.m), np.float32),
                          offsets=np.zeros((count, 2), np.int64), flips=np.zeros(count, bool),
                          labels=np.zeros(count, np.int64), base_index=np.arange(count),
                          meta={"n": G.n, "m": G.m, **meta})


def test_complex_objects_come_from_the_recorded_kind_not_the_values():
    magnitude, phase, _ = hand_made_objects()
    real = magnitude.astype(np.complex64)
    complex_ = (magnitude * np.exp(1j * phase)).astype(np.complex64)
    assert synthesized_set(real, object_kind="complex").complex_objects
    assert not synthesized_set(complex_, object_kind="real").complex_objects


@pytest.mark.parametrize("kind, rows_per_image, colorbars", [("real", 1, 0), ("complex", 2, 1)])
def test_draw_figures_picks_the_layout_from_the_test_sets_object_kind(
        tmp_path, monkeypatch, kind, rows_per_image, colorbars):
    magnitude, phase, _ = hand_made_objects()
    truth = (magnitude * np.exp(1j * phase) if kind == "complex" else magnitude)
    truth = truth.astype(np.complex64)
    synthesized_set(truth, object_kind=kind).save(tmp_path / "test.npz")
    aligned, mse = aligned_reconstructions(truth)
    for name in METHODS:
        save_npz(tmp_path / f"{name}.npz", aligned=aligned[name], image=ROWS)
    pd.DataFrame([{"method": name, "image": image, "label": 0, "offset_row": 0,
                   "offset_col": 0, "flipped": False, "mse": mse[name][image], "seconds": 0.1,
                   "residual": 0.0, "iterations": 1, "stopped": "budget", "device": "cpu"}
                  for name in METHODS for image in ROWS],
                 columns=SCORE_COLUMNS).to_csv(tmp_path / "scores.csv", index=False)
    drawn = []
    monkeypatch.setattr(figures, "save_figure", lambda figure, paths: drawn.append(figure))
    stages.draw_figures(test=tmp_path / "test.npz", scores=tmp_path / "scores.csv",
                        aligned={name: tmp_path / f"{name}.npz" for name in METHODS},
                        figure4=[tmp_path / "f4.png"], distribution=[tmp_path / "d.png"],
                        images=len(ROWS), seed=0)
    assert len(drawn[0].axes) == rows_per_image * len(ROWS) * (len(METHODS) + 1) + colorbars
