"""Forward model: brute-force DFT, the three intrinsic symmetries, the Fourier residual."""

import cmath
import re

import numpy as np
import pytest
import torch

from prbench.physics import (conjugate_flip, forward, fourier_magnitude_projection,
                             fourier_residual, pad, poisson_noise)


def random_objects(batch, h, w, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, h, w, dtype=torch.complex128, generator=generator)


def test_forward_matches_brute_force_dft():
    x = random_objects(2, 3, 4)
    m = 7
    k = np.arange(m)
    dft = np.exp(-2j * np.pi * np.outer(k, k) / m)
    for b in range(2):
        padded = np.zeros((m, m), dtype=complex)
        padded[:3, :4] = x[b].numpy()
        expected = np.abs(dft @ padded @ dft.T) ** 2
        np.testing.assert_allclose(forward(x, m)[b].numpy(), expected, rtol=1e-10)


def test_forward_is_invariant_under_global_phase_shift_and_conjugate_flip():
    m = 16
    x = random_objects(3, 6, 5)
    y = forward(x, m)
    rotated = x * cmath.exp(1.234j)
    shifted = torch.roll(pad(x, m), shifts=(5, 11), dims=(-2, -1))
    flipped = conjugate_flip(x)
    for variant in (rotated, shifted, flipped, conjugate_flip(pad(x, m))):
        torch.testing.assert_close(forward(variant, m), y, rtol=1e-9, atol=1e-9)
    # ...but not under a plain (unconjugated) flip of a complex object.
    assert not torch.allclose(forward(torch.flip(x, dims=(-2, -1)), m), y)


def test_forward_keeps_float32_for_complex64():
    x = random_objects(1, 4, 4).to(torch.complex64)
    assert forward(x, 8).dtype == torch.float32


def test_magnitude_projection_is_exact_and_idempotent():
    m = 12
    z = pad(random_objects(2, m, m, seed=1), m)
    magnitude = forward(random_objects(2, 5, 5, seed=2), m).sqrt()
    projected = fourier_magnitude_projection(z, magnitude)
    torch.testing.assert_close(torch.fft.fft2(projected).abs(), magnitude, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(fourier_magnitude_projection(projected, magnitude), projected)
    # Nearest point: no other point with the same magnitude is closer than P_M(z).
    other = fourier_magnitude_projection(pad(random_objects(2, m, m, seed=3), m), magnitude)
    assert ((z - projected).abs().square().sum() <= (z - other).abs().square().sum())


def test_fourier_residual_hand_computed():
    # x = [[1], [i]] padded to 2 x 2: F x [k, l] = 1 + i (-1)^k, so |F x| = sqrt 2 everywhere.
    x = torch.tensor([[[1.0 + 0j], [1j]], [[1.0 + 0j], [1j]], [[0j], [0j]]])  # (3, 2, 1)
    magnitude = torch.tensor([[[2.0, 0.0], [0.0, 0.0]]]).repeat(3, 1, 1)
    magnitude[1:] = 0  # all-zero Y: the unnormalised misfit sum |F x|^2 = m^2 ||x||^2 = 8, and 0
    residual = fourier_residual(x, magnitude)
    assert residual.shape == (3,)
    # ((sqrt 2 - 2)^2 + 3 * 2) / ||magnitude||^2 = (12 - 4 sqrt 2) / 4
    expected = torch.tensor([3 - 2 ** 0.5, 8.0, 0.0], dtype=torch.float64)
    torch.testing.assert_close(residual.double(), expected, rtol=1e-6, atol=0)


def test_fourier_residual_matches_numpy_and_is_zero_at_the_truth():
    m = 20
    x = random_objects(3, 9, 8, seed=4).to(torch.complex64)
    magnitude = forward(x, m).sqrt()
    z = x + 0.1 * random_objects(3, 9, 8, seed=5).to(torch.complex64)
    reference = []
    for z_b, a_b in zip(z.numpy().astype(np.complex128), magnitude.numpy().astype(np.float64)):
        padded = np.zeros((m, m), complex)
        padded[:9, :8] = z_b
        reference.append(np.sum((np.abs(np.fft.fft2(padded)) - a_b) ** 2) / np.sum(a_b ** 2))
    residual = fourier_residual(z, magnitude)
    assert residual.dtype == torch.float32
    np.testing.assert_allclose(residual.numpy(), reference, rtol=1e-4)
    assert fourier_residual(x, magnitude).max() < 1e-10
    np.testing.assert_allclose(fourier_residual(torch.zeros_like(z), magnitude).numpy(), 1.0)


def test_fourier_residual_gradient():
    # d r / d conj(x) = m^2 (x - P_M x) / ||a||^2 on the frame (F^H = m^2 F^-1); torch's
    # gradient of a real function of complex x is twice that.
    m = 10
    x = random_objects(2, 4, 5, seed=6).requires_grad_(True)
    magnitude = forward(random_objects(2, 4, 5, seed=7), m).sqrt()
    fourier_residual(x, magnitude).sum().backward()
    padded = pad(x.detach(), m)
    expected = (2 * m ** 2 * (padded - fourier_magnitude_projection(padded, magnitude))
                / magnitude.square().sum(dim=(-2, -1))[:, None, None])[:, :4, :5]
    torch.testing.assert_close(x.grad, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    "bad, message",
    [
        (torch.zeros(4, 4), "shape"),
        (torch.zeros(1, 4, 4, dtype=torch.int64), "dtype"),
        (torch.zeros(1, 9, 4), "larger than the grid"),
        (torch.full((1, 4, 4), float("nan")), "NaN"),
        (torch.zeros(0, 4, 4), r"x is an empty batch \(B = 0\)"),
    ],
)
def test_forward_rejects_bad_input(bad, message):
    with pytest.raises((ValueError, TypeError), match=message):
        forward(bad, 8)


@pytest.mark.parametrize("m", [8.5, 8.0, True, "8", None])
def test_grid_size_must_be_an_integer(m):
    x = random_objects(1, 4, 4)
    for function in (forward, pad):
        with pytest.raises(ValueError, match=rf"^m must be an integer, got {re.escape(repr(m))}$"):
            function(x, m)


def test_numpy_integer_grid_size_is_accepted():
    x = random_objects(2, 4, 5)
    for m in (np.int64(8), np.int32(8), np.uint8(8)):
        assert torch.equal(forward(x, m), forward(x, 8))
        assert torch.equal(pad(x, m), pad(x, 8))


@pytest.mark.filterwarnings("ignore:ComplexHalf support is experimental")
@pytest.mark.parametrize("half, full", [(torch.float16, torch.float32),
                                        (torch.bfloat16, torch.float32),
                                        (torch.complex32, torch.complex64)])
def test_forward_upcasts_half_precision(half, full):
    # Half precision objects are measured as their float32 (complex64) values.
    x = random_objects(2, 4, 5).to(torch.complex64)
    x = (x if half.is_complex else x.real).to(half)
    y = forward(x, 8)
    assert y.dtype == torch.float32
    assert torch.equal(y, forward(x.to(full), 8))


@pytest.mark.parametrize("dtype", [torch.int32, torch.bool, torch.float8_e4m3fn])
def test_forward_names_the_dtype_and_the_accepted_ones(dtype):
    x = torch.ones(1, 4, 4).to(dtype)
    accepted = "float16, bfloat16, float32, float64, complex32, complex64, complex128"
    with pytest.raises(TypeError, match=rf"^x must be a real floating or complex tensor "
                                        rf"\({accepted}\), got dtype {dtype}$"):
        forward(x, 8)


# --- photon-limited measurements ----------------------------------------------------------

def _intensities():
    """Two 6 x 6 intensity images with zeros and a range of values, in arbitrary units."""
    gen = torch.Generator().manual_seed(3)
    y = torch.rand(2, 6, 6, generator=gen, dtype=torch.float64) * torch.tensor([5.0, 900.0])[
        :, None, None]
    y[:, 0, :3] = 0
    return y.to(torch.float32)


def test_poisson_noise_is_integer_counts_in_the_units_of_y():
    y = _intensities()
    noisy = poisson_noise(y, 200.0, generator=torch.Generator().manual_seed(0))
    assert noisy.dtype == torch.float32 and noisy.shape == y.shape
    total = y.double().sum(dim=(-2, -1), keepdim=True)
    counts = noisy.double() * 200.0 / total
    torch.testing.assert_close(counts, counts.round(), rtol=0, atol=1e-4)
    assert (counts >= 0).all() and (noisy[:, 0, :3] == 0).all()


def test_poisson_noise_mean_and_variance_over_many_draws():
    # 20,000 draws: per pixel the mean is y (unbiased) and the counts' variance equals
    # their mean (Poisson); the total count averages the photon budget.
    y, photons, draws = _intensities(), 150.0, 20_000
    gen = torch.Generator().manual_seed(1)
    stack = torch.stack([poisson_noise(y, photons, generator=gen) for _ in range(draws)])
    total = y.double().sum(dim=(-2, -1), keepdim=True)
    rate = photons * y.double() / total
    counts = stack.double() * photons / total
    standard_error = (rate / draws).sqrt()
    assert ((counts.mean(dim=0) - rate).abs() <= 5 * standard_error + 1e-12).all()
    busy = rate > 2
    ratio = counts.var(dim=0)[busy] / rate[busy]
    assert ((ratio - 1).abs() < 0.1).all()
    assert counts.sum(dim=(-2, -1)).mean().item() == pytest.approx(photons, rel=0.01)


def test_poisson_noise_is_seeded():
    y = _intensities()
    first = poisson_noise(y, 50.0, generator=torch.Generator().manual_seed(7))
    again = poisson_noise(y, 50.0, generator=torch.Generator().manual_seed(7))
    other = poisson_noise(y, 50.0, generator=torch.Generator().manual_seed(8))
    assert torch.equal(first, again) and not torch.equal(first, other)


@pytest.mark.parametrize("y, photons, message", [
    (torch.ones(1, 4, 4), 0.0, "photons"),
    (torch.ones(1, 4, 4), float("inf"), "photons"),
    (torch.ones(1, 4, 4), True, "photons"),
    (-torch.ones(1, 4, 4), 10.0, "nonnegative"),
    (torch.zeros(2, 4, 4), 10.0, "all-zero"),
    (torch.ones(4, 4), 10.0, "shape"),
])
def test_poisson_noise_rejects_bad_input(y, photons, message):
    with pytest.raises((ValueError, TypeError), match=message):
        poisson_noise(y, photons)


@pytest.mark.parametrize("photons, canonical", [(np.int64(200), 200), (np.int32(200), 200),
                                                (np.float32(200.0), 200.0),
                                                (np.float64(0.5), 0.5)])
def test_poisson_noise_accepts_numpy_photon_counts(photons, canonical):
    y = _intensities()
    expected = poisson_noise(y, canonical, generator=torch.Generator().manual_seed(4))
    noisy = poisson_noise(y, photons, generator=torch.Generator().manual_seed(4))
    assert torch.equal(noisy, expected)


@pytest.mark.parametrize("photons", [float("nan"), np.float64("nan"), float("inf"),
                                     -float("inf"), 0, 0.0, -100, np.int64(-5), True,
                                     np.True_, "1e4", None, 1 + 2j])
def test_poisson_noise_names_a_bad_photon_count(photons):
    with pytest.raises(ValueError, match=rf"^photons must be a positive finite number, "
                                         rf"got {re.escape(repr(photons))}$"):
        poisson_noise(_intensities(), photons)


def test_poisson_noise_upcasts_half_precision_intensities():
    y = _intensities() / 100  # within float16's range
    for dtype in (torch.float16, torch.bfloat16):
        noisy = poisson_noise(y.to(dtype), 50.0, generator=torch.Generator().manual_seed(2))
        expected = poisson_noise(y.to(dtype).float(), 50.0,
                                 generator=torch.Generator().manual_seed(2))
        assert torch.equal(noisy, expected)


def test_poisson_noise_refuses_complex_and_names_a_float16_overflow():
    y = _intensities()
    with pytest.raises(TypeError, match=r"^y must be a real floating tensor \(float16, bfloat16, "
                                        r"float32, float64\), got dtype torch.complex64$"):
        poisson_noise(y.to(torch.complex64), 50.0)
    with pytest.raises(ValueError, match=r"^y contains NaN or infinite values \(torch.float16 "
                                         r"holds at most 65504: pass float32\)$"):
        poisson_noise((y * 1000).half(), 50.0)  # 900 * 1000 overflows float16
