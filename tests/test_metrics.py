"""Symmetry-adjusted MSE against brute force and the symmetries it must absorb."""

import itertools

import numpy as np
import pytest
import torch

from prbench.geometry import Geometry
from prbench.metrics import (align, border_energy_fraction, brightest_window,
                             symmetric_mse, window_energy)
from prbench.physics import conjugate_flip, pad


def random_complex(shape, seed):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, dtype=torch.complex128, generator=generator)


def brute_force_mse(truth, recon, m):
    """Direct minimisation over all m^2 circular windows and both flips (numpy loops).

    For each window B, the optimum over eta >= 0 and theta is solved by a fine
    grid over theta and the closed-form eta at each theta: an independent route
    to the corrected (A.4).
    """
    n = truth.shape[-1]
    grid = np.zeros((m, m), dtype=complex)
    grid[: recon.shape[0], : recon.shape[1]] = recon
    candidates = [truth, np.conj(truth[::-1, ::-1])]
    thetas = np.linspace(-np.pi, np.pi, 2001)
    best = 1.0
    for a in candidates:
        for p, q in itertools.product(range(m), range(m)):
            window = np.roll(grid, (-p, -q), axis=(0, 1))[:n, :n]
            energy = np.sum(np.abs(window) ** 2)
            if energy <= 1e-6 * np.sum(np.abs(grid) ** 2):
                continue
            real_parts = np.real(np.vdot(window, a) * np.exp(1j * thetas))  # Re<B e^{i t}, A>
            eta = np.clip(real_parts / energy, 0.0, None)
            errors = (np.sum(np.abs(a) ** 2) - 2 * eta * real_parts + eta**2 * energy)
            best = min(best, errors.min() / np.sum(np.abs(a) ** 2))
    return best


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_brute_force_on_small_random_cases(seed):
    n, m = 4, 9
    truth = random_complex((2, n, n), seed)
    recon = random_complex((2, 6, 7), seed + 100)
    recon[1] = 0.0
    recon[1, 2:6, 3:7] = conjugate_flip(truth[1:2])[0] + 0.3 * random_complex((n, n), seed + 7)
    ours = symmetric_mse(truth, recon, Geometry(n, m)).numpy()
    expected = [brute_force_mse(truth[b].numpy(), recon[b].numpy(), m) for b in range(2)]
    np.testing.assert_allclose(ours, expected, atol=1e-5)


def test_real_inputs_match_complex_ones():
    truth = random_complex((2, 5, 5), 3).real
    recon = random_complex((2, 10, 10), 4).real
    geometry = Geometry(5, 12)
    torch.testing.assert_close(
        symmetric_mse(truth, recon, geometry),
        symmetric_mse(truth.to(torch.complex128), recon.to(torch.complex128), geometry))


def test_zero_for_every_symmetric_copy():
    n, m = 8, 20
    truth = random_complex((1, n, n), 5).repeat(5, 1, 1)
    grid = pad(truth, m)
    copies = torch.stack([
        grid[0],
        torch.roll(grid[1], (7, 13), (-2, -1)),  # translated, wrapping around the grid
        conjugate_flip(torch.roll(grid[2], (3, 2), (-2, -1))),  # conjugate-flipped
        grid[3] * 2.5 * torch.exp(torch.tensor(-2.1j)),  # scaled and phase-rotated
        conjugate_flip(torch.roll(grid[4], (19, 0), (-2, -1))) * 0.01j,
    ])
    errors = symmetric_mse(truth, copies, Geometry(n, m))
    assert errors.max() < 1e-12


def test_orders_partial_matches_and_stays_in_unit_interval():
    n, m = 6, 14
    truth = random_complex((1, n, n), 6)
    noise = random_complex((1, n, n), 7)
    levels = [0.0, 0.1, 0.3, 1.0, 3.0]
    recon = torch.cat([pad(truth + level * noise, m) for level in levels])
    geometry = Geometry(n, m)
    errors = symmetric_mse(truth.repeat(len(levels), 1, 1), recon, geometry)
    assert torch.all(errors[1:] > errors[:-1])
    unrelated = symmetric_mse(random_complex((50, n, n), 8), random_complex((50, m, m), 9),
                              geometry=geometry)
    assert torch.all((unrelated >= 0) & (unrelated <= 1))
    assert torch.all(unrelated > 0.3)


def test_energy_guard_counts_nearly_empty_windows_as_total_error():
    """Windows holding < 1e-6 of the reconstruction's energy count as error 1.

    Their ratio |<A, R_p>|^2 / (||A||^2 ||R_p||^2) is scale-free, so a faint copy
    of the truth (or, in single precision, pure FFT rounding noise) would
    otherwise score ~0. Here a faint exact copy (1e-8 of the energy) sits beside
    one bright pixel; only the bright pixel may be fitted.
    """
    n, m = 6, 20
    truth = random_complex((1, n, n), 10).abs()
    recon = 1e-4 * pad(truth, m).to(torch.complex128)
    recon[0, 15, 15] = truth.square().sum().sqrt()
    error = symmetric_mse(truth, recon, Geometry(n, m))
    expected = 1 - truth.square().max() / truth.square().sum()
    torch.testing.assert_close(error, expected.reshape(1), rtol=1e-9, atol=0)


def test_align_returns_the_fitted_window():
    n, m = 7, 16
    truth = random_complex((3, n, n), 11)
    recon = random_complex((3, m, m), 12) * 0.2
    recon[0] = recon[0] + torch.roll(pad(truth[0:1], m)[0], (4, 9), (-2, -1)) * 1.7j
    recon[1] = recon[1] + conjugate_flip(pad(truth[1:2], m))[0] * 0.5
    result = align(truth, recon, Geometry(n, m))
    direct = (truth - result.aligned).abs().square().sum((1, 2)) / truth.abs().square().sum((1, 2))
    torch.testing.assert_close(direct, result.mse)
    assert result.mse[0] < 0.2 and result.mse[1] < 0.4
    assert not result.flipped[0] and result.flipped[1]
    assert result.shift[0].tolist() == [4, 9]


@pytest.mark.parametrize(
    "truth, recon, message",
    [
        (torch.ones(4, 4), torch.ones(1, 8, 8), "shape"),
        (torch.ones(1, 4, 5), torch.ones(1, 8, 8), r"last two dims must be \(4, 4\)"),
        (torch.ones(1, 5, 5), torch.ones(1, 8, 8), r"last two dims must be \(4, 4\)"),
        (torch.ones(0, 4, 4), torch.ones(0, 8, 8), r"empty batch \(B = 0\)"),
        (torch.ones(2, 4, 4), torch.ones(1, 8, 8), "batch sizes"),
        (torch.ones(1, 4, 4), torch.ones(1, 13, 8), "larger than the grid"),
        (torch.ones(1, 4, 4, dtype=torch.int32), torch.ones(1, 8, 8), "dtype"),
        (torch.ones(1, 4, 4), torch.full((1, 8, 8), float("nan")), "NaN"),
        (torch.zeros(1, 4, 4), torch.ones(1, 8, 8), "all-zero"),
    ],
)
def test_rejects_bad_input(truth, recon, message):
    with pytest.raises((ValueError, TypeError), match=message):
        symmetric_mse(truth, recon, Geometry(4, 12))


@pytest.mark.filterwarnings("ignore:ComplexHalf support is experimental")
@pytest.mark.parametrize("half, full", [(torch.float16, torch.float32),
                                        (torch.bfloat16, torch.float32),
                                        (torch.complex32, torch.complex64)])
def test_half_precision_inputs_score_as_their_upcast_values(half, full):
    truth, recon = random_complex((2, 4, 4), 11), random_complex((2, 9, 9), 12)
    if not half.is_complex:
        truth, recon = truth.real, recon.real
    truth, recon = truth.to(half), recon.to(half)
    for first, second in ((truth, recon), (truth.to(full), recon), (truth, recon.to(full))):
        result = align(first, second, Geometry(4, 12))
        expected = align(truth.to(full), recon.to(full), Geometry(4, 12))
        assert torch.equal(result.mse, expected.mse)
        assert torch.equal(result.aligned, expected.aligned)
    assert torch.equal(symmetric_mse(truth, recon, Geometry(4, 12)),
                       symmetric_mse(truth.to(full), recon.to(full), Geometry(4, 12)))


def test_bad_dtypes_name_the_argument_and_the_accepted_dtypes():
    truth, recon, geometry = torch.ones(1, 4, 4), torch.ones(1, 8, 8), Geometry(4, 12)
    accepted = r"\(float16, bfloat16, float32, float64, complex32, complex64, complex128\)"
    with pytest.raises(TypeError, match=rf"^recon must be a real floating or complex tensor "
                                        rf"{accepted}, got dtype torch.int64$"):
        symmetric_mse(truth, recon.long(), geometry)
    with pytest.raises(TypeError, match=rf"^truth must be .* got dtype torch.uint8$"):
        symmetric_mse(truth.to(torch.uint8), recon, geometry)
    with pytest.raises(ValueError, match=r"^recon contains NaN or infinite values "
                                         r"\(torch.float16 holds at most 65504: pass float32\)$"):
        symmetric_mse(truth, (recon * 1e5).half(), geometry)  # 1e5 overflows float16


def test_geometry_is_required_and_must_be_a_geometry():
    truth, recon = torch.ones(1, 4, 4), torch.ones(1, 8, 8)
    with pytest.raises(TypeError):
        symmetric_mse(truth, recon)
    with pytest.raises(TypeError, match="Geometry"):
        align(truth, recon, 12)


def test_border_energy_fraction_matches_a_pixel_loop():
    gen = torch.Generator().manual_seed(4)
    x = torch.complex(torch.randn(3, 9, 9, generator=gen), torch.randn(3, 9, 9, generator=gen))
    for width in (1, 2, 4):
        expected = []
        for image in x:
            ring = sum(abs(image[i, j].item()) ** 2 for i in range(9) for j in range(9)
                       if min(i, j, 8 - i, 8 - j) < width)
            expected.append(ring / image.abs().square().sum().item())
        assert border_energy_fraction(x, width).tolist() == pytest.approx(expected, rel=1e-6)
    flat = torch.ones(1, 36, 36)
    assert border_energy_fraction(flat).item() == pytest.approx((36**2 - 32**2) / 36**2)
    assert border_energy_fraction(torch.zeros(1, 5, 5), 1).item() == 0
    for width in (0, 5, 2.0):
        with pytest.raises(ValueError, match="width"):
            border_energy_fraction(x, width)


@pytest.mark.parametrize("m, n, seed", [(12, 6, 0), (9, 4, 1), (8, 3, 2), (5, 1, 3)])
def test_brightest_window_matches_brute_force_over_all_offsets(m, n, seed):
    # Every circular offset (p, q) by a numpy pixel loop; the window read out must be the
    # one of largest energy, taken with circular indexing.
    r = random_complex((3, m, m), seed).to(torch.complex64)
    grid = r.numpy().astype(np.complex128)
    for b in range(3):
        energies = np.array([[sum(abs(grid[b, (p + i) % m, (q + j) % m]) ** 2
                                  for i in range(n) for j in range(n))
                              for q in range(m)] for p in range(m)])
        np.testing.assert_allclose(window_energy(r, n)[b].numpy(), energies, rtol=1e-12)
        p, q = np.unravel_index(np.argmax(energies), energies.shape)
        expected = np.roll(grid[b], (-p, -q), axis=(0, 1))[:n, :n]
        window = brightest_window(r, n)[b]
        assert window.dtype == torch.complex64 and np.array_equal(window.numpy(),
                                                               expected.astype(np.complex64))
    with pytest.raises(ValueError, match="n <= m"):
        brightest_window(r, m + 1)
