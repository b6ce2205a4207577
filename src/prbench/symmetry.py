"""Symmetry breaking of training targets: one representative per class of objects that
give the same Fourier magnitudes (Tayal, Lai, Kumar & Sun 2020, "Inverse Problems, Deep
Learning, and Symmetry Breaking", arXiv:2003.09077; Zhang, Wan, Zhuang & Sun 2024,
arXiv:2403.15448).

An object x (n x n frame, zero-padded to the m x m grid) and its circular shifts, its
conjugate flip ``conj(x[::-1, ::-1])`` and its global phase rotations all have the
measurements |F pad(x, m)|^2. A network trained to map Y to the object as synthesized
must fit targets that this class leaves undetermined; :func:`canonical_form` maps every
member of the class to one object, so that Y -> target is a function again.
"""

from __future__ import annotations

import torch

from .physics import check_batch, conjugate_flip

__all__ = ["SUPPORT_LEVEL", "canonical_form"]

#: Pixels with |x| above this fraction of the image's largest |x| form its support.
SUPPORT_LEVEL = 1e-6


def _centred_third_moments(weight: torch.Tensor) -> torch.Tensor:
    """sum_q w(q) [(q_r - mean_r)^3 + (q_c - mean_c)^3] / sum_q w(q) for (B, n, n)
    weights w >= 0 (the means are the w-weighted centroid): (B,). Unchanged by shifts of w,
    negated by the point reflection w[::-1, ::-1]."""
    total = weight.sum(dim=(-2, -1))
    moment = torch.zeros_like(total)
    for profile in (weight.sum(dim=-1), weight.sum(dim=-2)):  # rows, columns
        position = torch.arange(profile.shape[-1], dtype=weight.dtype, device=weight.device)
        mean = (profile * position).sum(dim=-1) / total
        moment = moment + (profile * (position - mean[:, None]) ** 3).sum(dim=-1)
    return moment / total


def _centring_shift(occupied: torch.Tensor) -> torch.Tensor:
    """Per image (B,), the shift that centres the occupied span of a (B, n) bool profile
    in [0, n): (n - width) // 2 - first occupied index."""
    n = occupied.shape[-1]
    first = occupied.int().argmax(dim=-1)
    last = n - 1 - occupied.flip(-1).int().argmax(dim=-1)
    return (n - (last - first + 1)) // 2 - first


def canonical_form(x: torch.Tensor) -> torch.Tensor:
    """The representative of each object's symmetry class: x (B, n, n) real or complex
    -> (B, n, n) complex (complex64, or complex128 for double input).

    1. Conjugate flip: x is replaced by conj(x[::-1, ::-1]) where the centred third
       moments of |x|^2 along rows and columns sum to a negative number (the flip negates
       them), so that the sum is >= 0.
    2. Translation: the bounding box of the support (|x| > SUPPORT_LEVEL max |x|) is
       centred in the frame (offset (n - width) // 2 on each axis), by a circular shift
       that moves no pixel of the support across the frame's edge.
    3. Global phase: x is rotated so that its sum is real and > 0 (real objects with a
       positive sum are left as they are).

    Two members of a class (an object, its shifts within the frame, its flip and phase
    rotations) map to the same representative, except objects whose |x|^2 has moments
    that vanish to rounding (nearly point-symmetric magnitudes), where step 1 may
    choose differently. All-zero images are refused.
    """
    x = check_batch(x, "x")
    x = x.to(torch.complex128 if x.real.dtype == torch.float64 else torch.complex64)
    magnitude = x.abs()
    peak = magnitude.flatten(1).amax(dim=1)
    if not (peak > 0).all():
        raise ValueError("x contains an all-zero image: it has no canonical form")
    flip = _centred_third_moments(magnitude.square()) < 0
    x = torch.where(flip[:, None, None], conjugate_flip(x), x)
    support = x.abs() > SUPPORT_LEVEL * peak[:, None, None]
    n_rows, n_cols = x.shape[-2:]
    row_shift = _centring_shift(support.any(dim=-1))
    col_shift = _centring_shift(support.any(dim=-2))
    rows = (torch.arange(n_rows, device=x.device) - row_shift[:, None]) % n_rows  # (B, n)
    cols = (torch.arange(n_cols, device=x.device) - col_shift[:, None]) % n_cols
    x = x[torch.arange(len(x), device=x.device)[:, None, None], rows[:, :, None],
          cols[:, None, :]]
    total = x.sum(dim=(-2, -1))
    rotation = torch.where(total.abs() > 0, total.conj() / total.abs().clamp_min(1e-300),
                           torch.ones_like(total))
    return x * rotation[:, None, None]
