"""Forward model: brute-force DFT and the three intrinsic symmetries."""

import cmath

import numpy as np
import pytest
import torch

from prbench.physics import conjugate_flip, forward, fourier_magnitude_projection, pad


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
