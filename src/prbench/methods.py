"""The method registry: method name -> how one shard of the test set is reconstructed.

Adding a method is one entry in :data:`METHODS` (plus its solver); the workflow
reconstructs, scores and tabulates every method listed in the config's
``reconstruction.methods`` that is registered here.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .solvers import SOLVERS

__all__ = ["METHODS", "Method", "ShardResult", "image_seeds", "reconstruct", "select_device",
           "shard_indices"]


@dataclass(frozen=True)
class Method:
    """One reconstruction method.

    name: registry key, used in file names; label: display name in tables;
    group: "paper" (compared in the paper's Table 1), "beyond" (support-free
    baselines and controls the paper did not run) or "reference" (uses prior
    knowledge the paper's methods do not: a reference point only);
    solver: key into :data:`prbench.solvers.SOLVERS`; fixed: solver keyword
    arguments that define the method and are not configurable.
    """

    name: str
    label: str
    group: str
    solver: str
    fixed: dict[str, Any] = field(default_factory=dict)


METHODS: dict[str, Method] = {
    method.name: method
    for method in (
        Method("alm", "ALM", "paper", "alm"),
        Method("hio", "HIO", "paper", "hio"),
        Method("hio_sw", "HIO shrink-wrap", "beyond", "hio_sw"),
        Method("raar_sw", "RAAR shrink-wrap", "beyond", "raar_sw"),
        Method("hio_realpos", "HIO real>=0 (ref.)", "reference", "hio",
               {"real_nonnegative": True}),
    )
}


@dataclass(frozen=True)
class ShardResult:
    """Reconstructions of one shard: x_hat (B, m, m) complex64 and per-image diagnostics."""

    x_hat: np.ndarray
    residual: np.ndarray
    iterations: np.ndarray
    seconds: float
    device: str


def select_device(name: str = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; otherwise the named device."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was requested but CUDA is not available")
    return device


def image_seeds(seed: int, method: str, indices: np.ndarray) -> list[int]:
    """One seed per test image, from (run seed, method, image index).

    Independent of how the test set is sharded, so a result does not change
    with the shard count.
    """
    key = zlib.crc32(method.encode())
    return [int(np.random.SeedSequence([seed, key, int(index)]).generate_state(1)[0] >> 1)
            for index in indices]


def reconstruct(method: str, y: np.ndarray, indices: np.ndarray, params: dict[str, Any], *,
                seed: int, device: str = "auto") -> ShardResult:
    """Reconstruct one shard with a registered iterative method.

    y: (B, m, m) float32 measurements; indices: (B,) their test-set indices (for
    seeding); params: the method's solver parameters from the config.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; registered: {sorted(METHODS)}")
    spec = METHODS[method]
    overlap = set(params) & set(spec.fixed)
    if overlap:
        raise ValueError(f"method {method!r} fixes {sorted(overlap)}; remove them from its params")
    target = select_device(device)
    measurements = torch.from_numpy(np.ascontiguousarray(y)).to(target)
    start = time.perf_counter()
    x_hat, info = SOLVERS[spec.solver](measurements, seed=image_seeds(seed, method, indices),
                                       **params, **spec.fixed)
    if target.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return ShardResult(x_hat=x_hat.cpu().numpy(), residual=info.residual.cpu().numpy(),
                       iterations=info.iterations.cpu().numpy(), seconds=seconds,
                       device=str(target))


def shard_indices(count: int, shards: int, shard: int) -> np.ndarray:
    """Test-set indices of shard ``shard`` out of ``shards`` near-equal contiguous shards."""
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} is outside 0..{shards - 1}")
    if shards > count:
        raise ValueError(f"{shards} shards for {count} test images would leave shards empty")
    return np.array_split(np.arange(count), shards)[shard]
