"""Synthetic Fashion-MNIST-like test objects for solver tests and benchmarks."""

from __future__ import annotations

import torch

__all__ = ["blob_objects"]


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
    out = torch.zeros(batch, n, n)
    for b in range(batch):
        img = torch.zeros(size, size)
        for _ in range(bumps):
            cy, cx = (torch.rand(2, generator=gen) * 0.6 + 0.2) * size
            width = 2.0 + 4.0 * torch.rand((), generator=gen)
            amp = 0.5 + torch.rand((), generator=gen)
            img += amp * torch.exp(-((grid[:, None] - cy) ** 2 + (grid[None, :] - cx) ** 2)
                                   / (2 * width**2))
        r0, c0 = torch.randint(0, size // 2, (2,), generator=gen).tolist()
        h, w = torch.randint(4, size // 2, (2,), generator=gen).tolist()
        img[r0:r0 + h, c0:c0 + w] += 0.5
        img = (img - 0.15 * img.max()).clamp_min(0)
        if torch.rand((), generator=gen) < 0.5:
            img = torch.flip(img, dims=(0, 1))
        dy, dx = torch.randint(0, n - size + 1, (2,), generator=gen).tolist()
        out[b, dy:dy + size, dx:dx + size] = img
    return out
