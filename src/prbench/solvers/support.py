"""Support estimation on the periodic m x m grid (batched, (B, m, m) bool outputs).

* :func:`from_estimate` thresholds a Gaussian-smoothed modulus of an object
  estimate, the support update of shrink-wrap (Marchesini et al. 2003).
* :func:`from_autocorrelation` thresholds the autocorrelation ``F^-1 Y``: a loose
  initial support for shrink-wrap.

Everything is circular (the Fourier PR grid is periodic: circular shifts of the
object are solutions too), so supports may wrap around the grid edges.
"""

from __future__ import annotations

import torch

from ._common import _check_measurements, check_param

__all__ = ["gaussian_smooth", "from_estimate", "from_autocorrelation", "open_mask"]


def _gaussian_spectrum(n: int, sigma: float, dtype: torch.dtype,
                       device: torch.device) -> torch.Tensor:
    """DFT (real, length n) of the periodised, sampled 1-D Gaussian normalised to unit sum."""
    d = torch.arange(n, dtype=dtype, device=device)
    wraps = int(5 * sigma / n) + 1
    kernel = sum(torch.exp(-((d + k * n) ** 2) / (2 * sigma**2)) for k in range(-wraps, wraps + 1))
    return torch.fft.fft(kernel / kernel.sum()).real


def gaussian_smooth(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Circular Gaussian blur of a real (B, h, w) tensor, std ``sigma`` pixels.

    Circular convolution with the sampled Gaussian ``exp(-d^2 / 2 sigma^2)``,
    periodised over the grid and normalised to unit sum (so sums are preserved),
    applied separably in Fourier space. sigma = 0 returns x unchanged.
    """
    check_param("sigma", sigma, ge=0)
    if sigma == 0:
        return x
    h, w = x.shape[-2:]
    ky = _gaussian_spectrum(h, sigma, x.dtype, x.device)
    kx = _gaussian_spectrum(w, sigma, x.dtype, x.device)[: w // 2 + 1]
    return torch.fft.irfft2(torch.fft.rfft2(x) * (ky[:, None] * kx[None, :]), s=(h, w))


def open_mask(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """Binary opening (erosion then dilation) of a (B, m, m) bool mask with a
    (2 radius + 1)^2 square, circular boundary. Removes specks thinner than the square."""
    if radius <= 0:
        return mask
    k = 2 * radius + 1

    def dilate(a: torch.Tensor) -> torch.Tensor:
        padded = torch.nn.functional.pad(a[:, None], (radius,) * 4, mode="circular")
        return torch.nn.functional.max_pool2d(padded, k, stride=1)[:, 0]

    eroded = 1 - dilate(1 - mask.float())
    return dilate(eroded) > 0.5


def _top_k(score: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """(B, m, m) mask of each image's k[b] highest-score pixels (ties broken by position)."""
    order = score.flatten(1).argsort(dim=1, descending=True, stable=True)
    ranks = torch.empty_like(order).scatter_(
        1, order, torch.arange(order.shape[1], device=order.device).expand_as(order))
    return (ranks < k[:, None]).view(score.shape)


def _guarded_threshold(score: torch.Tensor, mask: torch.Tensor, max_fraction: float,
                       fallback: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Replace masks that are empty or cover more than ``max_fraction`` of the grid.

    Such an image gets ``fallback`` if given, else the k highest-``score`` pixels with
    k = the mask's pixel count clipped to [1, max_fraction * m^2]. Returns (mask, fell_back (B,)).
    """
    check_param("max_fraction", max_fraction, gt=0, le=1)
    count = mask.flatten(1).sum(dim=1)
    k_max = max(1, int(max_fraction * mask[0].numel()))
    bad = (count == 0) | (count > k_max)
    if not bad.any():
        return mask, bad
    if fallback is not None:
        replacement = fallback.expand_as(mask)
    else:
        replacement = _top_k(score, count.clamp(1, k_max))
    return torch.where(bad[:, None, None], replacement, mask), bad


def from_estimate(x: torch.Tensor, sigma: float = 1.0, threshold: float = 0.2, *,
                  mode: str = "max", target_fraction: float | None = None,
                  shrink_grow: int = 0, max_fraction: float = 0.5,
                  fallback: torch.Tensor | None = None, return_fallback: bool = False):
    """Support ``{ s >= threshold * ref }`` of ``s = G_sigma * |x|`` (shrink-wrap update).

    x: (B, m, m) real or complex estimate. ref is the per-image max of s
    (``mode="max"``) or its RMS over the grid (``mode="rms"``). With
    ``target_fraction`` set, threshold/mode are ignored and each image keeps its
    ``round(target_fraction * m^2)`` largest pixels of s. ``shrink_grow`` > 0 then
    applies a binary opening of that radius (px) to drop isolated specks.

    Guard: an image whose support is empty or covers more than ``max_fraction`` of
    the grid gets ``fallback`` (B, m, m) if given (shrink-wrap passes the previous
    support), else its k largest pixels of s, k clipped into [1, max_fraction m^2].
    Returns the (B, m, m) bool support, and also the (B,) bool "guard fired"
    flags if ``return_fallback``.
    """
    if x.ndim != 3:
        raise ValueError(f"x must have shape (B, m, m), got {tuple(x.shape)}")
    score = gaussian_smooth(x.abs().to(torch.float32), sigma)
    if target_fraction is not None:
        check_param("target_fraction", target_fraction, gt=0, le=1)
        k = max(1, round(target_fraction * score[0].numel()))
        mask = _top_k(score, torch.full((score.shape[0],), k, device=score.device))
    else:
        if mode == "max":
            ref = score.flatten(1).amax(dim=1)
        elif mode == "rms":
            ref = score.square().flatten(1).mean(dim=1).sqrt()
        else:
            raise ValueError(f"mode must be 'max' or 'rms', got {mode!r}")
        mask = score >= threshold * ref[:, None, None]
    mask, fell_back = _guarded_threshold(score, open_mask(mask, shrink_grow), max_fraction,
                                         fallback)
    return (mask, fell_back) if return_fallback else mask


def from_autocorrelation(Y: torch.Tensor, threshold: float = 0.1, *,
                         max_fraction: float = 0.75) -> torch.Tensor:
    """Support of the autocorrelation ``a = F^-1 Y`` (lag 0 at pixel [0, 0], wrapping).

    Y: (B, m, m) intensities. Returns ``|a| >= threshold * max|a|`` as (B, m, m) bool
    (``|a|``: a is complex for complex objects). Since supp(a) = supp(x) - supp(x)
    contains ``supp(x) - q`` for every q in supp(x), it holds a circularly shifted
    copy of the object support (a valid solution by shift symmetry), but is about
    twice as wide: a loose initial support that shrink-wrap then tightens. The lag
    0 stays at [0, 0] (no fftshift), consistent with the circular grid. Guarded
    like :func:`from_estimate` (never empty, at most ``max_fraction`` of the grid).
    """
    _check_measurements(Y)
    check_param("threshold", threshold, gt=0, lt=1)
    auto = torch.fft.ifft2(Y.to(torch.float32)).abs()
    mask = auto >= threshold * auto.flatten(1).amax(dim=1)[:, None, None]
    return _guarded_threshold(auto, mask, max_fraction, None)[0]
