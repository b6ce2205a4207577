"""Tests of support estimation (prbench.solvers.support) and shrink-wrap supports."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from prbench.geometry import Geometry
from prbench.physics import forward, pad
from prbench.solvers import hio_sw, raar_sw, support
from synthetic_objects import blob_objects

G = Geometry(n=36, m=72)
M = G.m


def test_gaussian_smooth_matches_periodised_kernel():
    """Direct circular convolution with the periodised, unit-sum sampled Gaussian (numpy)."""
    x = torch.rand(2, 16, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    sigma = 1.3
    d = np.arange(16)
    # Periodised 1-D Gaussian, sum over images k * 16 of the continuous kernel.
    g1 = sum(np.exp(-((d + 16 * k) ** 2) / (2 * sigma**2)) for k in range(-5, 6))
    kernel = np.outer(g1, g1) / g1.sum() ** 2
    ref = np.zeros_like(x.numpy())
    for i in range(16):
        for j in range(16):
            ref += kernel[i, j] * np.roll(x.numpy(), (i, j), axis=(1, 2))
    out = support.gaussian_smooth(x, sigma)
    np.testing.assert_allclose(out.numpy(), ref, atol=1e-10)
    np.testing.assert_allclose(out.sum(dim=(1, 2)).numpy(), x.sum(dim=(1, 2)).numpy())
    assert torch.equal(support.gaussian_smooth(x, 0.0), x)


def test_from_estimate_threshold_modes():
    x = torch.zeros(1, 8, 8)
    x[0, 2, 2], x[0, 2, 3], x[0, 5, 5] = 1.0, 0.5, 0.2
    mask = support.from_estimate(x, sigma=0, threshold=0.4)
    assert mask[0].nonzero().tolist() == [[2, 2], [2, 3]]
    # RMS of x over the grid: sqrt((1 + 0.25 + 0.04) / 64) = 0.142; 1.2 * rms = 0.170.
    mask = support.from_estimate(x, sigma=0, threshold=1.2, mode="rms")
    assert mask[0].nonzero().tolist() == [[2, 2], [2, 3], [5, 5]]
    # Complex estimates use the modulus.
    mask = support.from_estimate(x * 1j, sigma=0, threshold=0.4)
    assert mask.sum() == 2
    with pytest.raises(ValueError, match="mode"):
        support.from_estimate(x, mode="median")


def test_from_estimate_target_fraction_exact_count():
    x = torch.rand(3, M, M, generator=torch.Generator().manual_seed(1))
    mask = support.from_estimate(x, sigma=1.0, target_fraction=0.1)
    k = round(0.1 * M * M)
    assert mask.flatten(1).sum(dim=1).tolist() == [k] * 3
    smooth = support.gaussian_smooth(x, 1.0)
    # The kept pixels are the k largest of the smoothed map.
    for b in range(3):
        assert smooth[b][mask[b]].min() >= smooth[b][~mask[b]].max()


def test_shrink_grow_removes_specks():
    x = torch.zeros(1, 20, 20)
    x[0, 5:12, 5:12] = 1.0
    x[0, 16, 16] = 1.0  # isolated speck
    raw = support.from_estimate(x, sigma=0, threshold=0.5)
    assert raw[0, 16, 16]
    opened = support.from_estimate(x, sigma=0, threshold=0.5, shrink_grow=1)
    assert not opened[0, 16, 16]
    assert torch.equal(opened[0, 5:12, 5:12], torch.ones(7, 7, dtype=torch.bool))
    assert opened.sum() == 49


def test_guard_never_empty_and_bounded():
    zero = torch.zeros(2, M, M)
    mask, fell_back = support.from_estimate(zero, sigma=1.0, threshold=0.2, max_fraction=0.3,
                                            return_fallback=True)
    # All pixels tie at 0 >= 0.2 * 0: too large, cut to max_fraction of the grid.
    assert fell_back.all()
    assert mask.flatten(1).sum(dim=1).tolist() == [int(0.3 * M * M)] * 2
    # A single speck removed by the opening would leave an empty support: keep 1 pixel.
    speck = torch.zeros(1, M, M)
    speck[0, 3, 4] = 1.0
    mask, fell_back = support.from_estimate(speck, sigma=0, threshold=0.5, shrink_grow=1,
                                            return_fallback=True)
    assert fell_back.item() and mask[0].nonzero().tolist() == [[3, 4]]
    # With a fallback support, that one is used instead.
    prior = torch.zeros(1, M, M, dtype=torch.bool)
    prior[0, :10, :10] = True
    mask = support.from_estimate(speck, sigma=0, threshold=0.5, shrink_grow=1, fallback=prior)
    assert torch.equal(mask, prior)


def test_from_autocorrelation_contains_shifted_object_support():
    """supp(autocorrelation) = S - S: centrosymmetric, contains S - q for every q in S,
    and for a filled a x a box it is the (2a - 1)^2 box of lags around 0. Objects are
    unions of two unit rectangles, so every lag in S - S has |a| >= 1 >= 1e-3 max|a|."""
    gen = torch.Generator().manual_seed(3)
    x = torch.zeros(3, G.n, G.n)
    for b in range(3):
        for _ in range(2):
            r, c = torch.randint(0, 24, (2,), generator=gen).tolist()
            h, w = torch.randint(3, 12, (2,), generator=gen).tolist()
            x[b, r:r + h, c:c + w] = 1.0
    auto = support.from_autocorrelation(forward(x, M), threshold=1e-3)
    assert auto.shape == (3, M, M) and auto[:, 0, 0].all()
    flipped = torch.roll(torch.flip(auto, dims=(1, 2)), shifts=(1, 1), dims=(1, 2))
    assert torch.equal(auto, flipped)
    obj = pad(x != 0, M)
    for b in range(3):
        for q in obj[b].nonzero()[::7].tolist():
            shifted = torch.roll(obj[b], shifts=(-q[0], -q[1]), dims=(0, 1))
            assert auto[b][shifted].all()
    box = torch.zeros(1, G.n, G.n)
    box[0, :10, :10] = 1.0
    auto = support.from_autocorrelation(forward(box, M), threshold=1e-3)
    lags = torch.roll(auto[0], shifts=(9, 9), dims=(0, 1))
    assert auto.sum() == 19 * 19 and lags[:19, :19].all()


def test_from_autocorrelation_guard_and_validation():
    mask = support.from_autocorrelation(torch.zeros(1, M, M), max_fraction=0.5)
    assert 0 < mask.sum() <= 0.5 * M * M
    with pytest.raises(ValueError, match="nonnegative"):
        support.from_autocorrelation(-torch.ones(1, M, M))
    with pytest.raises(ValueError, match="threshold"):
        support.from_autocorrelation(torch.ones(1, M, M), threshold=0.0)


@pytest.mark.parametrize("solver", [hio_sw, raar_sw], ids=["hio_sw", "raar_sw"])
@pytest.mark.parametrize("scale", [1e-20, 0.0], ids=["tiny", "zero"])
def test_shrinkwrap_never_empty_on_degenerate_data(solver, scale):
    x = blob_objects(2, seed=4, n=G.n) * scale
    Y = forward(x, M)  # 1e-40 intensities underflow float32 to (almost) 0
    X, info = solver(Y, seed=0, geometry=G, iters=40, n_starts=2, er_iters=5, update_every=5)
    counts = info.support.flatten(1).sum(dim=1)
    # Initial (autocorrelation) supports are capped at 75% of the grid, updates at 50%.
    assert (counts > 0).all() and (counts <= 0.75 * M * M).all()
    assert torch.isfinite(torch.view_as_real(X)).all()


def test_shrinkwrap_tightens_support():
    """From the autocorrelation support (threshold 0.1: here ~1.8x the object's area),
    shrink-wrap ends near the object's area; X_hat vanishes off the final support."""
    x = blob_objects(3, seed=5, n=G.n)
    Y = forward(x, M)
    initial = support.from_autocorrelation(Y)
    X, info = hio_sw(Y, seed=0, geometry=G, iters=300, n_starts=2, er_iters=20)
    area = (x != 0).flatten(1).sum(dim=1)
    final = info.support.flatten(1).sum(dim=1)
    assert (final < 0.75 * initial.flatten(1).sum(dim=1)).all()
    assert (final > area / 2).all() and (final < 2 * area).all()
    assert torch.equal(X[~info.support], torch.zeros_like(X[~info.support]))
    assert info.extra["support_guard_count"].shape == (3,)
