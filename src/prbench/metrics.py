"""Symmetry-adjusted relative MSE (paper, Appendix A.1, with (A.4) corrected).

For a ground truth A (n x n) and a reconstruction embedded at the top-left of an
m x m grid, the error is

    min_{p, f, theta, eta >= 0} ||A_f - eta e^{i theta} R_p||^2 / ||A||^2
  = min_{p, f} 1 - |<A_f, R_p>|^2 / (||A||^2 ||R_p||^2),

where R_p is the n x n window of the reconstruction whose top-left corner is at
circular position p, and A_f ranges over A and its conjugate flip
``conj(A[::-1, ::-1])``. (The paper's (A.4) drops the square on |<A, B>|.)

All m^2 positions are scored at once: ``<A_f, R_p>`` is a circular
cross-correlation, computed with FFTs, and so are the window energies ||R_p||^2.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .geometry import Geometry, check_geometry
from .physics import check_batch, conjugate_flip, pad

__all__ = ["MSE_SLACK", "Alignment", "align", "border_energy_fraction", "brightest_window",
           "invariant_error", "symmetric_mse", "window_energy", "EMPTY_WINDOW_FRACTION"]

#: Rounding slack above 1 that a stored symmetric MSE may show (exactly it is <= 1: eta = 0
#: is allowed); readers of scores, tables and support curves accept values up to 1 + this.
MSE_SLACK = 1e-5

#: Windows holding less than this fraction of the reconstruction's total energy
#: count as error 1 (their 0/0 ratio would otherwise be FFT rounding noise).
EMPTY_WINDOW_FRACTION = 1e-6


@dataclass(frozen=True)
class Alignment:
    """Result of :func:`align` for a batch of B images.

    mse: (B,) float64 relative errors in [0, 1].
    aligned: (B, n, n) complex128, the reconstruction window moved, flipped,
        phase-rotated and scaled onto the truth, so that
        ``||truth - aligned||^2 / ||truth||^2 == mse``.
    shift: (B, 2) int64, top-left corner p of the best window in the m x m grid.
    flipped: (B,) bool, True where the best match is the truth's conjugate flip.
    """

    mse: torch.Tensor
    aligned: torch.Tensor
    shift: torch.Tensor
    flipped: torch.Tensor


def _circular_correlation(a_padded: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """c[p] = sum_q conj(a[q]) r[q + p mod m] for (B, m, m) inputs."""
    return torch.fft.ifft2(torch.conj(torch.fft.fft2(a_padded)) * torch.fft.fft2(r))


def _window_energy(r: torch.Tensor, n: int) -> torch.Tensor:
    """:func:`window_energy` in the precision of the complex (B, m, m) ``r``."""
    box = pad(torch.ones(1, n, n, dtype=r.dtype, device=r.device), r.shape[-1])
    return _circular_correlation(box, r.abs().square().to(r.dtype)).real


def window_energy(r: torch.Tensor, n: int) -> torch.Tensor:
    """E[b, p] = sum_{q in [0, n)^2} |r_b[p + q mod m]|^2: the energy of every n x n
    circular window of r (B, m, m), by its top-left corner p; (B, m, m) float64, one
    FFT-based box correlation."""
    return _window_energy(r.to(torch.complex128), n)


def _flip_correlations(a: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """<A_f, R_p> for f in (A, its conjugate flip) and every circular shift p: a (B, n, n)
    truth and r (B, m, m) reconstruction of one complex dtype -> (B, 2, m, m)."""
    candidates = torch.stack([a, conjugate_flip(a)], dim=1)
    return _circular_correlation(pad(candidates, r.shape[-1]), r.unsqueeze(1))


def _windows(r: torch.Tensor, row: torch.Tensor, col: torch.Tensor, n: int) -> torch.Tensor:
    """The n x n circular windows of r (B, m, m) with top-left corners (row, col) (B,)."""
    m = r.shape[-1]
    index = torch.arange(n, device=r.device)
    rows = (row[:, None] + index) % m  # (B, n)
    cols = (col[:, None] + index) % m
    return r[torch.arange(r.shape[0], device=r.device)[:, None, None], rows[:, :, None],
             cols[:, None, :]]


def brightest_window(r: torch.Tensor, n: int) -> torch.Tensor:
    """The n x n circular window of largest energy sum |r|^2 of each r (B, m, m), n <= m:
    (B, n, n) in r's dtype (energies from :func:`window_energy`; windows tied to rounding
    are chosen between arbitrarily). Reads an object frame out of a reconstruction on
    the m x m grid."""
    if r.ndim != 3 or r.shape[-1] != r.shape[-2] or not 1 <= n <= r.shape[-1]:
        raise ValueError(f"need r of shape (B, m, m) and 1 <= n <= m, got {tuple(r.shape)} "
                         f"and n = {n}")
    best = window_energy(r, n).flatten(1).argmax(dim=1)
    m = r.shape[-1]
    return _windows(r, best // m, best % m, n)


def _check_pair(truth: torch.Tensor, recon: torch.Tensor,
                geometry: Geometry) -> tuple[torch.Tensor, torch.Tensor]:
    """The checked (truth, recon), half precision upcast (:func:`prbench.physics.check_tensor`)."""
    check_geometry(geometry)
    truth = check_batch(truth, "truth", max_size=geometry.m)
    geometry.check_objects(truth, "truth")
    recon = check_batch(recon, "recon", max_size=geometry.m)
    if truth.shape[0] != recon.shape[0]:
        raise ValueError(
            f"truth and recon batch sizes differ: {truth.shape[0]} vs {recon.shape[0]}"
        )
    if truth.device != recon.device:
        raise ValueError(f"truth is on {truth.device} but recon on {recon.device}")
    if not (truth.abs().flatten(1).amax(1) > 0).all():
        raise ValueError("truth contains an all-zero image; the relative error is undefined")
    return truth, recon


def align(truth: torch.Tensor, recon: torch.Tensor, geometry: Geometry) -> Alignment:
    """Best symmetric alignment of ``recon`` onto ``truth``; see the module docstring.

    truth: (B, n, n) real or complex, n = geometry.n; recon: (B, h, w), h, w <= m =
    geometry.m, real or complex, embedded at the top-left of the m x m grid (circular
    windows wrap around). Any float16/32/64, bfloat16 or complex32/64/128 dtype;
    computed in float64/complex128 on the inputs' device.
    """
    truth, recon = _check_pair(truth, recon, geometry)
    n, m = geometry.n, geometry.m
    a = truth.to(torch.complex128)
    r = pad(recon.to(torch.complex128), m)

    truth_energy = a.abs().square().sum(dim=(-2, -1))  # (B,)
    total_energy = r.abs().square().sum(dim=(-2, -1))  # (B,)
    energy = window_energy(r, n)  # (B, m, m)

    inner = _flip_correlations(a, r)  # (B, 2, m, m)
    nonempty = energy > EMPTY_WINDOW_FRACTION * total_energy[:, None, None]
    denominator = truth_energy[:, None, None, None] * energy.unsqueeze(1)
    ratio = inner.abs().square() / torch.where(nonempty.unsqueeze(1), denominator,
                                                torch.ones_like(denominator))
    error = torch.where(nonempty.unsqueeze(1), 1.0 - ratio, torch.ones_like(ratio))
    error = error.clamp(0.0, 1.0)

    best = error.flatten(1).argmin(dim=1)  # over (flip, row, col)
    mse = error.flatten(1).gather(1, best[:, None]).squeeze(1)
    flipped = best // (m * m) == 1
    row, col = (best % (m * m)) // m, best % m

    window = _windows(r, row, col, n)  # (B, n, n)
    # Optimal eta e^{i theta} = <R_p, A_f> / ||R_p||^2 (zero for an empty window).
    best_inner = inner.flatten(1).gather(1, best[:, None]).squeeze(1)
    best_energy = energy.flatten(1).gather(1, (best % (m * m))[:, None]).squeeze(1)
    usable = nonempty.flatten(1).gather(1, (best % (m * m))[:, None]).squeeze(1)
    scale = torch.where(usable, torch.conj(best_inner) / best_energy.clamp_min(1e-300),
                        torch.zeros_like(best_inner))
    fitted = scale[:, None, None] * window
    aligned = torch.where(flipped[:, None, None], conjugate_flip(fitted), fitted)
    return Alignment(mse=mse, aligned=aligned, shift=torch.stack([row, col], dim=1),
                     flipped=flipped)


def symmetric_mse(truth: torch.Tensor, recon: torch.Tensor, geometry: Geometry) -> torch.Tensor:
    """Symmetry-adjusted relative MSE, a (B,) float64 tensor in [0, 1].

    truth: (B, n, n) real or complex, n = geometry.n; recon: (B, h, w) with
    h, w <= m = geometry.m; dtypes as :func:`align`. See :func:`align` for the
    best-aligned reconstruction itself.
    """
    return align(truth, recon, geometry).mse


def invariant_error(truth: torch.Tensor, recon: torch.Tensor, m: int, *,
                    fit_scale: bool = False) -> torch.Tensor:
    """Relative error of ``recon`` to the nearest symmetric copy of ``truth``, (B,),
    differentiable: the training loss of the ``invariant`` U-Net.

    truth: (B, n, n), recon: (B, h, w), h, w <= m, both placed at the top-left of the
    m x m grid; computed in complex64, or complex128 if either input is double. With
    A_f over (A, its conjugate flip), S_p the circular shift by p and R = pad(recon, m):

    * ``fit_scale=False`` (the loss): min_{p, f, theta} ||S_p A_f - e^{i theta} R||^2 / ||A||^2
      over the whole grid, = min_{p, f} (||A||^2 + ||R||^2 - 2 |<A_f, R_p>|) / ||A||^2, so the
      output's scale and any energy outside the shifted truth's frame count;
    * ``fit_scale=True``: the score, :func:`symmetric_mse` (the n x n window R_p, scale
      eta >= 0 fitted too): min_{p, f} 1 - |<A_f, R_p>|^2 / (||A||^2 ||R_p||^2).

    The correlations <A_f, R_p> for all p are FFT cross-correlations, as in :func:`align`;
    the minimum passes its gradient to the best (p, f).
    """
    if truth.ndim != 3 or recon.ndim != 3 or len(truth) != len(recon):
        raise ValueError(f"truth and recon must be (B, n, n) and (B, h, w) batches of one B, "
                         f"got {tuple(truth.shape)} and {tuple(recon.shape)}")
    double = torch.float64 in (truth.real.dtype, recon.real.dtype)
    dtype = torch.complex128 if double else torch.complex64
    a, r = truth.to(dtype), pad(recon.to(dtype), m)
    inner = _flip_correlations(a, r)  # (B, 2, m, m)
    truth_energy = a.abs().square().sum(dim=(-2, -1))[:, None, None, None]
    if fit_scale:
        energy = _window_energy(r, truth.shape[-1]).unsqueeze(1)
        total = r.abs().square().sum(dim=(-2, -1))[:, None, None, None]
        nonempty = energy > EMPTY_WINDOW_FRACTION * total
        ratio = inner.abs().square() / (truth_energy * torch.where(nonempty, energy,
                                                                    torch.ones_like(energy)))
        error = torch.where(nonempty, 1.0 - ratio, torch.ones_like(ratio)).clamp(0.0, 1.0)
    else:
        recon_energy = r.abs().square().sum(dim=(-2, -1))[:, None, None, None]
        error = (truth_energy + recon_energy - 2 * inner.abs()) / truth_energy
    return error.flatten(1).amin(dim=1)


def border_energy_fraction(x: torch.Tensor, width: int = 2) -> torch.Tensor:
    """Fraction of each image's energy in its outer ring of ``width`` pixels, (B,) float64.

    x: (B, h, w) real or complex, h, w > 2 width. ``sum_ring |x|^2 / sum |x|^2``
    (0 for an all-zero image): the edge-artefact diagnostic of the U-Nets' outputs,
    compared with the same fraction of the true objects.
    """
    x = check_batch(x, "x")
    if isinstance(width, bool) or not isinstance(width, int) or width < 1 \
            or 2 * width >= min(x.shape[-2:]):
        raise ValueError(f"width must be an int in [1, {(min(x.shape[-2:]) - 1) // 2}] for "
                         f"images of shape {tuple(x.shape[-2:])}, got {width!r}")
    energy = x.to(torch.complex128).abs().square()
    total = energy.sum(dim=(-2, -1))
    inner = energy[:, width:-width, width:-width].sum(dim=(-2, -1))
    return torch.where(total > 0, (total - inner) / total.clamp_min(1e-300),
                       torch.zeros_like(total))
