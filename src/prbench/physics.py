"""Fourier phase-retrieval forward model and its symmetries.

Conventions (used by every module of prbench):

* Objects are batched complex tensors ``x`` of shape (B, h, w), h, w <= m.
* ``pad(x, m)`` embeds them at the top-left corner of an m x m zero grid.
* The measurement is ``Y = |F(pad(x, m))|^2`` with the unnormalised DFT
  (``torch.fft.fft2``, norm="backward"), shape (B, m, m), real.
* Public entry points accept float16/32/64, bfloat16 and complex32/64/128 tensors;
  half precision (float16, bfloat16, complex32) is upcast to float32/complex64
  (:func:`check_tensor`). Other dtypes raise a TypeError naming the argument.

Y is invariant under the three intrinsic symmetries of Fourier PR
(paper, Sec. 1): global phase ``x -> e^{i theta} x``, circular shift of the
padded object, and conjugate flip ``x -> conj(x[::-1, ::-1])``.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import torch

from .geometry import check_int

__all__ = [
    "check_batch",
    "check_photons",
    "check_tensor",
    "pad",
    "forward",
    "conjugate_flip",
    "fourier_magnitude_projection",
    "fourier_residual",
    "poisson_noise",
    "unit_phase",
]


#: Half-precision dtypes accepted on input and computed in the dtype they map to.
_UPCAST = {torch.float16: torch.float32, torch.bfloat16: torch.float32,
          torch.complex32: torch.complex64}
_REAL = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
_COMPLEX = (torch.complex32, torch.complex64, torch.complex128)


def _names(dtypes: tuple[torch.dtype, ...]) -> str:
    return ", ".join(str(d).removeprefix("torch.") for d in dtypes)


def check_tensor(x: Any, name: str, *, real: bool = False) -> torch.Tensor:
    """``x`` checked to be a finite real floating (or, unless ``real``, complex) tensor of
    any shape, returned with float16/bfloat16 upcast to float32 and complex32 to complex64
    (other dtypes unchanged). TypeError for a non-tensor or another dtype, naming ``name``,
    the dtype and the accepted ones; ValueError for NaN or infinite values.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    accepted = _REAL if real else _REAL + _COMPLEX
    if x.dtype not in accepted:
        kind = "a real floating" if real else "a real floating or complex"
        raise TypeError(f"{name} must be {kind} tensor ({_names(accepted)}), "
                        f"got dtype {x.dtype}")
    given = x.dtype
    x = x.to(_UPCAST.get(given, given))
    if not torch.isfinite(torch.view_as_real(x) if x.is_complex() else x).all():
        hint = (f" ({given} holds at most {torch.finfo(torch.float16).max:g}: pass float32)"
                if given in (torch.float16, torch.complex32) else "")
        raise ValueError(f"{name} contains NaN or infinite values{hint}")
    return x


def check_batch(x: Any, name: str, *, max_size: int | None = None,
                real: bool = False) -> torch.Tensor:
    """:func:`check_tensor` for a (B, h, w) batch, B >= 1: returns ``x`` (half precision
    upcast). ``max_size`` bounds h and w (e.g. the grid size m).
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 3:
        raise ValueError(f"{name} must have shape (B, h, w), got shape {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} is an empty batch (B = 0)")
    if max_size is not None and (x.shape[-2] > max_size or x.shape[-1] > max_size):
        raise ValueError(
            f"{name} has spatial size {tuple(x.shape[-2:])}, larger than the grid m = {max_size}"
        )
    return check_tensor(x, name, real=real)


def check_photons(photons: Any) -> int | float:
    """``photons`` (expected photons per image) as a plain int or float. ValueError naming
    it unless it is a positive finite real number (Python or NumPy; not a bool)."""
    if isinstance(photons, bool) or not isinstance(photons, numbers.Real) \
            or not (math.isfinite(photons) and photons > 0):
        raise ValueError(f"photons must be a positive finite number, got {photons!r}")
    return int(photons) if isinstance(photons, numbers.Integral) else float(photons)


def pad(x: torch.Tensor, m: int) -> torch.Tensor:
    """Zero-pad (B, h, w) to (B, m, m), keeping ``x`` in the top-left corner.
    m: an integer (NumPy integers accepted)."""
    m = check_int("m", m, minimum=1)
    h, w = x.shape[-2:]
    if h > m or w > m:
        raise ValueError(f"cannot pad an object of size {(h, w)} into an m = {m} grid")
    return torch.nn.functional.pad(x, (0, m - w, 0, m - h))


def forward(x: torch.Tensor, m: int) -> torch.Tensor:
    """Oversampled Fourier intensities ``|FFT2(pad(x, m))|^2``.

    x: (B, h, w) real or complex, h, w <= m; float16/bfloat16 (complex32) is upcast to
    float32 (complex64). m: an integer (NumPy integers accepted). Returns (B, m, m) real
    tensor, float32 for float32/complex64 input. Unnormalised DFT.
    """
    m = check_int("m", m, minimum=1)
    x = check_batch(x, "x", max_size=m)
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

    ``photons`` is the expected total photon count per image, a positive finite real
    (:func:`check_photons`). Each pixel's count is drawn
    ``n ~ Poisson(photons * y / sum(y))`` (sum over the image; computed in float64) and
    returned in y's units, ``n * sum(y) / photons``: unbiased (E = y), variance
    ``y * sum(y) / photons``, exact zeros where y is 0. Deterministic for a seeded
    ``generator`` (on y's device); the global RNG otherwise.
    """
    photons = check_photons(photons)
    intensities = check_batch(y, "y", real=True).to(torch.float64)
    if (intensities < 0).any():
        raise ValueError("y must be nonnegative intensities")
    total = intensities.sum(dim=(-2, -1), keepdim=True)
    if not (total > 0).all():
        raise ValueError("y contains an all-zero image: its photon rates are undefined")
    counts = torch.poisson(photons * intensities / total, generator=generator)
    return (counts * total / photons).to(torch.float32)
