"""Fourier phase-retrieval forward model and its symmetries.

Conventions (used by every module of prbench):

* Objects are batched complex tensors ``x`` of shape (B, h, w), h, w <= m.
* ``pad(x, m)`` embeds them at the top-left corner of an m x m zero grid.
* The measurement is ``Y = |F(pad(x, m))|^2`` with the unnormalised DFT
  (``torch.fft.fft2``, norm="backward"), shape (B, m, m), real.

Y is invariant under the three intrinsic symmetries of Fourier PR
(paper, Sec. 1): global phase ``x -> e^{i theta} x``, circular shift of the
padded object, and conjugate flip ``x -> conj(x[::-1, ::-1])``.
"""

from __future__ import annotations

import torch

__all__ = [
    "check_batch",
    "pad",
    "forward",
    "conjugate_flip",
    "fourier_magnitude_projection",
    "fourier_residual",
    "poisson_noise",
    "unit_phase",
]


def check_batch(x: torch.Tensor, name: str, *, max_size: int | None = None) -> None:
    """Raise a clear error unless ``x`` is a finite (B, h, w) float/complex tensor, B >= 1.

    ``max_size`` bounds h and w (e.g. the grid size m).
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 3:
        raise ValueError(f"{name} must have shape (B, h, w), got shape {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} is an empty batch (B = 0)")
    if not (x.dtype.is_floating_point or x.dtype.is_complex):
        raise TypeError(f"{name} must be a real floating or complex tensor, got dtype {x.dtype}")
    if max_size is not None and (x.shape[-2] > max_size or x.shape[-1] > max_size):
        raise ValueError(
            f"{name} has spatial size {tuple(x.shape[-2:])}, larger than the grid m = {max_size}"
        )
    if not torch.isfinite(torch.view_as_real(x) if x.is_complex() else x).all():
        raise ValueError(f"{name} contains NaN or infinite values")


def pad(x: torch.Tensor, m: int) -> torch.Tensor:
    """Zero-pad (B, h, w) to (B, m, m), keeping ``x`` in the top-left corner."""
    h, w = x.shape[-2:]
    if h > m or w > m:
        raise ValueError(f"cannot pad an object of size {(h, w)} into an m = {m} grid")
    return torch.nn.functional.pad(x, (0, m - w, 0, m - h))


def forward(x: torch.Tensor, m: int) -> torch.Tensor:
    """Oversampled Fourier intensities ``|FFT2(pad(x, m))|^2``.

    x: (B, h, w) real or complex, h, w <= m. Returns (B, m, m) real tensor
    (float32 for float32/complex64 input). Unnormalised DFT.
    """
    check_batch(x, "x", max_size=m)
    spectrum = torch.fft.fft2(pad(x, m))
    return spectrum.real.square() + spectrum.imag.square()


def conjugate_flip(x: torch.Tensor) -> torch.Tensor:
    """2-D conjugate flip ``x -> conj(x[..., ::-1, ::-1])`` of the last two axes."""
    return torch.conj(torch.flip(x, dims=(-2, -1))).resolve_conj()


def unit_phase(spectrum: torch.Tensor) -> torch.Tensor:
    """``s / |s|`` elementwise, with phase 0 (value 1) where s == 0 exactly.

    Adding the smallest normal float moves no nonzero float32/64 value above 1e-30
    and turns exact zeros into a positive real, whose sign is 1.
    """
    return torch.sgn(spectrum + torch.finfo(spectrum.real.dtype).tiny)


def fourier_magnitude_projection(z: torch.Tensor, magnitude: torch.Tensor) -> torch.Tensor:
    """Projection P_M onto {z : |F z| = magnitude}: ``F^-1(magnitude * F z / |F z|)``.

    z: (B, m, m) complex; magnitude: (B, m, m) or (m, m), the measured ``sqrt(Y)``.
    Where ``F z`` is exactly 0 the phase is undefined; the projection then takes
    phase 0 (any choice is a valid nearest point).
    """
    return torch.fft.ifft2(magnitude * unit_phase(torch.fft.fft2(z)))


def fourier_residual(x: torch.Tensor, magnitude: torch.Tensor) -> torch.Tensor:
    """Relative Fourier misfit per image, shape (B,):

        || |F pad(x_b, m)| - sqrt(Y_b) ||^2 / ||sqrt(Y_b)||^2

    (the paper's passive loss, Eq. 2.1, before the batch mean; the solvers'
    convergence measure). x: (B, h, w) complex (or real), h, w <= m;
    magnitude: (B, m, m) measured ``sqrt(Y)``, m read from its shape. Computed in
    the dtype of ``x`` and differentiable. An all-zero Y gives the unnormalised
    numerator (0 for x = 0).
    """
    spectrum = torch.fft.fft2(pad(x, magnitude.shape[-1]))
    misfit = (spectrum.abs() - magnitude).square().sum(dim=(-2, -1))
    energy = magnitude.square().sum(dim=(-2, -1))
    return misfit / torch.where(energy > 0, energy, torch.ones_like(energy))


def poisson_noise(y: torch.Tensor, photons: float, *,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """Photon-limited measurements: y (B, m, m) noiseless intensities -> (B, m, m) float32.

    ``photons`` is the expected total photon count per image. Each pixel's count is drawn
    ``n ~ Poisson(photons * y / sum(y))`` (sum over the image; computed in float64) and
    returned in y's units, ``n * sum(y) / photons``: unbiased (E = y), variance
    ``y * sum(y) / photons``, exact zeros where y is 0. Deterministic for a seeded
    ``generator`` (on y's device); the global RNG otherwise.
    """
    check_batch(y, "y")
    if y.dtype.is_complex:
        raise TypeError(f"y must be real intensities, got dtype {y.dtype}")
    if isinstance(photons, bool) or not isinstance(photons, (int, float)) \
            or not 0 < photons < float("inf"):
        raise ValueError(f"photons must be a positive finite number, got {photons!r}")
    intensities = y.to(torch.float64)
    if not torch.isfinite(intensities).all() or (intensities < 0).any():
        raise ValueError("y must be finite and nonnegative intensities")
    total = intensities.sum(dim=(-2, -1), keepdim=True)
    if not (total > 0).all():
        raise ValueError("y contains an all-zero image: its photon rates are undefined")
    counts = torch.poisson(photons * intensities / total, generator=generator)
    return (counts * total / photons).to(torch.float32)
