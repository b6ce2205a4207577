"""Example prbench plugin: Fienup's error reduction (ER) as the method ``fienup_er``.

Each iteration projects onto the measured Fourier magnitudes, then onto the object
constraints: ``x <- P_C P_M x``, where P_M keeps the phase of ``F x`` and replaces its
modulus by ``sqrt(Y)``, and P_C zeroes everything outside the support (and, with
``positivity``, keeps only the nonnegative real part). Every image gets ``n_starts``
random starts (random Fourier phases, seeded by the image's seed); the start with the
lowest Fourier residual is returned.

Importing this module registers the method (:func:`prbench.registry.register`) and
imports no torch, so that a workflow that lists it under ``plugins:`` plans without
torch; the solver imports torch when it runs.
"""

from __future__ import annotations

import math
from typing import Any

from prbench.registry import Method, register

__version__ = "0.1.0"
__all__ = ["PARAMETERS", "error_reduction"]

#: JSON Schema of the method's parameters (the config's
#: ``reconstruction.methods.fienup_er``), checked before a run starts.
PARAMETERS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["iters"],
    "properties": {
        "iters": {"type": "integer", "minimum": 1,
                  "description": "ER iterations per start"},
        "n_starts": {"type": "integer", "minimum": 1, "default": 1,
                     "description": "random starts per image; the lowest residual is kept"},
        "positivity": {"type": "boolean", "default": False,
                       "description": "constrain the object to be real and >= 0"},
    },
}


def _check_settings(iters: Any, n_starts: Any, positivity: Any) -> None:
    """The settings' types and ranges, for calls that bypass the config's schema."""
    for name, value in (("iters", iters), ("n_starts", n_starts)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"fienup_er: {name} must be an integer >= 1, got {value!r}")
    if not isinstance(positivity, bool):
        raise ValueError(f"fienup_er: positivity must be true or false, got {positivity!r}")


def error_reduction(Y, support=None, init=None, *, seed, geometry, iters: int,
                    n_starts: int = 1, positivity: bool = False):
    """Error reduction on Y (B, m, m) intensities; returns ((B, m, m) complex64, info).

    support: None (the n x n frame of ``geometry``) or a (B, m, m) bool mask; init: None
    (``n_starts`` random starts per image, seeded by ``seed[b]``) or a (B, m, m) start
    (then one start per image); info: {"iterations": (B,) iterations of the kept start}.
    """
    import torch

    from prbench.physics import fourier_magnitude_projection, fourier_residual

    _check_settings(iters, n_starts, positivity)
    batch, m = Y.shape[0], Y.shape[-1]
    if len(seed) != batch:
        raise ValueError(f"fienup_er: {len(seed)} seeds for {batch} images")
    device = Y.device
    magnitude = Y.clamp(min=0).sqrt()
    mask = (geometry.frame_mask(device).expand(batch, m, m) if support is None
            else torch.as_tensor(support, device=device).bool())

    if init is None:
        phases = torch.stack([
            torch.rand(n_starts, m, m, generator=torch.Generator().manual_seed(int(s)))
            for s in seed]).to(device)
        start = torch.fft.ifft2(magnitude[:, None] * torch.polar(torch.ones_like(phases),
                                                                  2 * math.pi * phases))
    else:
        n_starts = 1
        start = torch.as_tensor(init, device=device).to(torch.complex64)[:, None]

    # every start of every image in one batch: (B * S, m, m)
    magnitude = magnitude.repeat_interleave(n_starts, dim=0)
    mask = mask.repeat_interleave(n_starts, dim=0)

    def constrain(z):
        if positivity:
            z = z.real.clamp(min=0).to(z.dtype)
        return torch.where(mask, z, torch.zeros_like(z))

    x = constrain(start.reshape(batch * n_starts, m, m).to(torch.complex64))
    for _ in range(iters):
        x = constrain(fourier_magnitude_projection(x, magnitude))

    residual = fourier_residual(x, magnitude).view(batch, n_starts)
    best = residual.argmin(dim=1)
    x_hat = x.view(batch, n_starts, m, m)[torch.arange(batch, device=device), best]
    return x_hat, {"iterations": torch.full((batch,), iters, dtype=torch.int64)}


register(Method("fienup_er", "Error reduction (plugin)", "plugin", "iterative",
                solver="fienup_er"),
         solver=error_reduction, parameters=PARAMETERS)
