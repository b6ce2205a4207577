"""Symmetry breaking of training targets (canonical_form) and the symmetry-invariant loss
(invariant_error), against hand-built cases, prbench.metrics and brute force."""

import itertools

import numpy as np
import pytest
import torch

from prbench.data.synth import place
from prbench.geometry import Geometry
from prbench.metrics import invariant_error, symmetric_mse
from prbench.physics import conjugate_flip, forward
from prbench.symmetry import canonical_form
from prbench.registry import SUPERVISED_MODELS, SUPPORT_SELECTORS
from prbench.train.losses import OBJECTIVES, SUPERVISED_OBJECTIVES, supervised_loss
from synthetic_objects import blob_objects

GEOMETRY = Geometry(12, 24)


def asymmetric_image(seed, complex_=False):
    """A (5, 6) image with no symmetry: positive random values, one corner emptied."""
    generator = torch.Generator().manual_seed(seed)
    image = 0.2 + torch.rand(5, 6, generator=generator, dtype=torch.float64)
    image[0, :2] = 0
    if complex_:
        image = image * torch.exp(1j * torch.rand(5, 6, generator=generator,
                                                  dtype=torch.float64))
    return image


@pytest.mark.parametrize("complex_", [False, True])
def test_shifted_flipped_and_rotated_copies_have_one_canonical_form(complex_):
    image = asymmetric_image(0, complex_)
    placements = [((0, 0), False), ((7, 6), False), ((3, 2), True), ((7, 0), True)]
    copies = torch.cat([place(image[None], torch.tensor([offset]), torch.tensor([flip]),
                              GEOMETRY).to(torch.complex128)
                        for offset, flip in placements])
    copies[1] = copies[1] * np.exp(0.7j)  # a global phase too
    canonical = canonical_form(copies)
    for other in canonical[1:]:
        torch.testing.assert_close(other, canonical[0], rtol=0, atol=1e-12)
    # The representative is one of the class: the same measurements, centred, sum > 0.
    torch.testing.assert_close(forward(canonical, 24), forward(copies, 24), rtol=1e-9,
                               atol=1e-9)
    rows = canonical[0].abs().sum(dim=1).nonzero().flatten()
    cols = canonical[0].abs().sum(dim=0).nonzero().flatten()
    assert (rows[0].item(), cols[0].item()) == ((12 - 5) // 2, (12 - 6) // 2)
    total = canonical[0].sum()
    assert total.real > 0 and abs(total.imag) < 1e-12


def test_the_flip_is_chosen_by_the_sign_of_the_third_moments():
    # Mass at the top-left with a long tail to the bottom-right: positive skew, kept.
    image = torch.zeros(1, 4, 4, dtype=torch.float64)
    image[0, 0, 0], image[0, 3, 3] = 3.0, 1.0
    frame = place(image, torch.tensor([[0, 0]]), torch.tensor([False]), Geometry(6, 12))
    kept = canonical_form(frame.to(torch.complex128))
    assert kept[0, 1, 1].real == pytest.approx(3.0) and kept[0, 4, 4].real == pytest.approx(1.0)
    flipped = canonical_form(conjugate_flip(frame).to(torch.complex128))
    torch.testing.assert_close(flipped, kept)


def test_canonical_form_refuses_an_all_zero_image():
    with pytest.raises(ValueError, match="all-zero image"):
        canonical_form(torch.zeros(2, 4, 4))


def brute_force_invariant_error(truth, recon, m):
    """min over all circular shifts, both flips and a fine grid of global phases of
    ||S_p A_f - e^{i t} R||^2 / ||A||^2 on the m x m grid (numpy loops)."""
    n = truth.shape[-1]
    grid = np.zeros((m, m), dtype=complex)
    grid[: recon.shape[0], : recon.shape[1]] = recon
    thetas = np.exp(1j * np.linspace(-np.pi, np.pi, 4001))[:, None, None]
    best = np.inf
    for a in (truth, np.conj(truth[::-1, ::-1])):
        padded = np.zeros((m, m), dtype=complex)
        padded[:n, :n] = a
        for p, q in itertools.product(range(m), range(m)):
            shifted = np.roll(padded, (p, q), axis=(0, 1))
            errors = np.abs(shifted[None] - thetas * grid[None]) ** 2
            best = min(best, errors.sum(axis=(1, 2)).min())
    return best / np.sum(np.abs(truth) ** 2)


@pytest.mark.parametrize("seed", [0, 1])
def test_invariant_error_matches_brute_force(seed):
    generator = torch.Generator().manual_seed(seed)
    truth = torch.randn(2, 3, 3, dtype=torch.complex128, generator=generator)
    recon = torch.randn(2, 4, 5, dtype=torch.complex128, generator=generator)
    recon[1] = 0
    recon[1, 1:4, 2:5] = 0.8 * conjugate_flip(truth[1:2])[0] * 1j
    ours = invariant_error(truth, recon, 7).numpy()
    expected = [brute_force_invariant_error(truth[b].numpy(), recon[b].numpy(), 7)
                for b in range(2)]
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_invariant_error_with_a_fitted_scale_is_the_score(seed):
    generator = torch.Generator().manual_seed(seed)
    truth = torch.randn(4, 6, 6, dtype=torch.complex128, generator=generator)
    recon = torch.randn(4, 6, 6, dtype=torch.complex128, generator=generator)
    recon[:2] += 2 * truth[:2]  # some near, some far
    torch.testing.assert_close(invariant_error(truth, recon, 13, fit_scale=True),
                               symmetric_mse(truth, recon, Geometry(6, 13)), rtol=0,
                               atol=1e-12)


def test_invariant_error_is_zero_for_every_symmetric_copy_and_differentiable():
    truth = blob_objects(3, n=12, size=10, seed=1).to(torch.complex64)
    grid = torch.zeros(3, 24, 24, dtype=torch.complex64)
    grid[:, :12, :12] = truth * np.exp(-1.1j)
    grid = torch.roll(grid, (9, 4), dims=(-2, -1))
    assert invariant_error(truth, grid, 24).abs().max() < 1e-5
    assert invariant_error(truth, conjugate_flip(truth) * 1j, 24).abs().max() < 1e-5
    # A scaled copy costs its scale error, the score does not see it.
    scaled = invariant_error(truth, 0.5 * truth, 24)
    torch.testing.assert_close(scaled, torch.full((3,), 0.25), rtol=1e-5, atol=1e-6)
    assert invariant_error(truth, 0.5 * truth, 24, fit_scale=True).abs().max() < 1e-5
    recon = (0.3 * torch.randn(3, 12, 12, dtype=torch.complex64)).requires_grad_(True)
    invariant_error(truth, recon, 24).sum().backward()
    assert torch.isfinite(recon.grad).all() and recon.grad.abs().sum() > 0


def test_supervised_losses_on_symmetric_copies():
    truth = blob_objects(4, n=12, size=10, seed=2).to(torch.complex64)
    flipped = conjugate_flip(truth)
    assert supervised_loss("naive", truth, flipped, 24) > 0.1  # the paper's difficulty
    assert supervised_loss("invariant", truth, flipped, 24) < 1e-5
    # The canonical target of a flipped copy is the truth's: a network that outputs it
    # for both scores zero on both.
    target = canonical_form(truth)
    assert supervised_loss("canonical", truth, target, 24) < 1e-10
    assert supervised_loss("canonical", flipped, target, 24) < 1e-10
    with pytest.raises(ValueError, match="supervised objective must be one of"):
        supervised_loss("passive", truth, truth, 24)


def test_the_registry_names_the_losses_objectives():
    """The torch-free registry's U-Nets are the training objectives, named alike."""
    assert SUPERVISED_MODELS == SUPERVISED_OBJECTIVES
    assert set(SUPPORT_SELECTORS) == set(OBJECTIVES)
