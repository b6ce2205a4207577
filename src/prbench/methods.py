"""The executor of the method registry: reconstruct one test shard with any method.

What a method is lives in :mod:`prbench.registry` (pure data); this module runs it:
an iterative solver from random starts, a trained network's output, a solver from the
network's support (and output), prDeep with its denoiser, or the calibration's mean
training object.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .data import synth
from .devices import select_device
from .geometry import Geometry, check_geometry
from .nets import load_network
from .physics import fourier_residual, pad
from .registry import METHODS
from .solvers import SOLVERS
from .solvers import support as support_module
from .train import predict

__all__ = ["ShardResult", "image_seeds", "reconstruct", "shard_indices"]


@dataclass(frozen=True)
class ShardResult:
    """Reconstructions of one shard: x_hat (B, m, m) or, for a network's output, (B, n, n)
    complex64; per-image residual and iterations; the stage's seconds and device."""

    x_hat: np.ndarray
    residual: np.ndarray
    iterations: np.ndarray
    seconds: float
    device: str


def image_seeds(seed: int, method: str, indices: np.ndarray) -> list[int]:
    """One seed per test image, from (run seed, method, image index).

    Independent of how the test set is sharded, so a result does not change
    with the shard count.
    """
    key = zlib.crc32(method.encode())
    return [int(np.random.SeedSequence([seed, key, int(index)]).generate_state(1)[0] >> 1)
            for index in indices]


def reconstruct(method: str, y: np.ndarray, indices: np.ndarray, params: dict[str, Any], *,
                seed: int, geometry: Geometry, device: str = "auto",
                network: str | Path | None = None, denoiser: str | Path | None = None,
                training_set: str | Path | None = None) -> ShardResult:
    """Reconstruct one shard with a registered method.

    y: (B, m, m) float32 measurements; indices: (B,) their test-set indices (for
    seeding); params: the method's parameters from the config (solver keyword
    arguments, plus ``support`` keyword arguments of
    :func:`prbench.solvers.support.from_estimate` for methods built on a network);
    geometry: the run's (n, m), passed to the solver (y must be (B, m, m));
    network: path of the trained U-Net's ``best.pt``, required when the method has
    a model; denoiser: path of the trained denoiser's ``best.pt``, required when
    the method uses one; training_set: path of the synthesized training split,
    required by the mean-object calibration. A network-output method returns the
    network's (B, n, n) output, the mean-object method the (n, n) mean of the
    training objects for every image, every other method (B, m, m) solver iterates.
    ``seconds`` is the method's own stage: the network's inference for a
    network-output method, the solver alone for the others.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; registered: {sorted(METHODS)}")
    spec = METHODS[method]
    if (spec.model is None) != (network is None):
        raise ValueError(f"method {method!r} needs "
                         + (f"the {spec.model} network's weights" if spec.model
                            else "no network"))
    if spec.denoiser != (denoiser is not None):
        raise ValueError(f"method {method!r} needs " + ("a trained denoiser" if spec.denoiser
                                                        else "no denoiser"))
    if spec.mean_object != (training_set is not None):
        raise ValueError(f"method {method!r} needs " + ("the training split"
                                                        if spec.mean_object
                                                        else "no training split"))
    solver_params = dict(params)
    support_params = solver_params.pop("support", None)
    if spec.solver is None and params:
        raise ValueError(f"method {method!r} is the network output itself: it takes no params")
    if spec.solver is not None and (spec.model is None) != (support_params is None):
        raise ValueError(f"method {method!r}: a 'support' entry is "
                         + ("required" if spec.model else "not accepted"))
    overlap = set(solver_params) & set(spec.fixed)
    if overlap:
        raise ValueError(f"method {method!r} fixes {sorted(overlap)}; remove them from its params")
    reserved = set(solver_params) & {"seed", "geometry", "frame"}
    if reserved:
        raise ValueError(f"method {method!r}: {sorted(reserved)} may not be set in its params; "
                         "seeds come from the run seed, the frame from the run's geometry")
    check_geometry(geometry).check_measurements(y, "y")
    target = select_device(device)
    measurements = torch.from_numpy(np.ascontiguousarray(y))
    if spec.mean_object:
        mean = torch.from_numpy(synth.load(training_set).x).mean(dim=0)
        geometry.check_objects(mean, f"objects of {training_set}")
        x_hat = mean.expand(len(indices), *mean.shape).contiguous()
        return ShardResult(x_hat=x_hat.numpy(),
                           residual=fourier_residual(x_hat, measurements.sqrt()).numpy(),
                           iterations=np.zeros(len(indices), np.int64), seconds=0.0,
                           device="cpu")
    support = init = None
    if spec.model is not None:
        model = load_network(network, target, produced_by=f"train_{spec.model}")
        start = time.perf_counter()
        output = predict(model, measurements, device=target)  # (B, n, n) on the CPU
        seconds = time.perf_counter() - start
        geometry.check_objects(output, f"output of the network {network}")
        if spec.solver is None:
            residual = fourier_residual(output, measurements.sqrt())
            return ShardResult(x_hat=output.numpy(), residual=residual.numpy(),
                               iterations=np.zeros(len(indices), np.int64), seconds=seconds,
                               device=str(target))
        estimate = pad(output.to(target), geometry.m)
        support = support_module.from_estimate(estimate, **support_params)
        if spec.start == "output":
            init = estimate
    if spec.denoiser:
        solver_params["denoiser"] = denoiser
    measurements = measurements.to(target)
    start = time.perf_counter()
    x_hat, info = SOLVERS[spec.solver](measurements, support, init,
                                       seed=image_seeds(seed, method, indices),
                                       geometry=geometry, **solver_params, **spec.fixed)
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
