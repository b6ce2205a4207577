"""Synthetic test objects (phantoms) for the tests and the speed benchmarks: no data needed.

Both place their images with :func:`prbench.data.synth.place`, as the paper's data are
placed: at a random offset in an n x n zero frame, conjugate-flipped with probability 1/2.
"""

from __future__ import annotations

import torch

from ..geometry import Geometry
from .synth import place, random_placement

__all__ = ["blob_objects", "smooth_objects"]


def blob_objects(batch: int, *, n: int, seed: int = 0, size: int = 28,
                 bumps: int = 4) -> torch.Tensor:
    """(batch, n, n) float32 nonnegative objects, CPU; n: the frame side (geometry.n).

    Each is a ``size`` x ``size`` image (a few Gaussian bumps plus a rectangle,
    minus 15% of its max and clipped at 0, so its support is an irregular
    sub-region), placed at a random offset in an n x n zero frame, conjugate-flipped
    (for real images: rotated by 180 degrees) with probability 1/2.
    """
    if size > n:
        raise ValueError(f"{size} x {size} images do not fit the n = {n} frame")
    gen = torch.Generator().manual_seed(seed)
    grid = torch.arange(size, dtype=torch.float32)
    images = torch.zeros(batch, size, size)
    offsets = torch.zeros(batch, 2, dtype=torch.int64)
    flips = torch.zeros(batch, dtype=torch.bool)
    for b in range(batch):
        img = images[b]
        for _ in range(bumps):
            cy, cx = (torch.rand(2, generator=gen) * 0.6 + 0.2) * size
            width = 2.0 + 4.0 * torch.rand((), generator=gen)
            amp = 0.5 + torch.rand((), generator=gen)
            img += amp * torch.exp(-((grid[:, None] - cy) ** 2 + (grid[None, :] - cx) ** 2)
                                   / (2 * width**2))
        r0, c0 = torch.randint(0, size // 2, (2,), generator=gen).tolist()
        h, w = torch.randint(4, size // 2, (2,), generator=gen).tolist()
        img[r0:r0 + h, c0:c0 + w] += 0.5
        images[b] = (img - 0.15 * img.max()).clamp_min(0)
        flips[b] = torch.rand((), generator=gen) < 0.5
        offsets[b] = torch.randint(0, n - size + 1, (2,), generator=gen)
    return place(images, offsets, flips, Geometry(n, 2 * n)).real.contiguous()


def smooth_objects(count: int, seed: int, n: int = 36) -> torch.Tensor:
    """(count, n, n) complex64 test objects on [0, 1]: three Gaussian blobs (std 2-5 px)
    in a 28 x 28 image, peak 1, values below 0.15 set to 0 (a compact support), placed
    and conjugate-flipped in an n x n frame like the paper's data."""
    g = torch.Generator().manual_seed(seed)
    grid = torch.arange(28.0)
    centers = 6 + 16 * torch.rand(count, 3, 2, generator=g)
    widths = 2 + 3 * torch.rand(count, 3, 1, 1, generator=g)
    d2 = ((grid[:, None] - centers[..., 0, None, None]) ** 2
          + (grid - centers[..., 1, None, None]) ** 2)
    images = torch.exp(-d2 / (2 * widths ** 2)).sum(dim=1)
    images = images / images.flatten(1).amax(1)[:, None, None]
    images = torch.where(images >= 0.15, images, torch.zeros(()))
    return random_placement(images, Geometry(n, 2 * n), g)[0]
