"""The executor of the method registry: reconstruct one test shard with any method.

What a method is lives in :mod:`prbench.registry` (pure data); this module runs it:
an iterative solver from random starts, a trained network's output, a solver from the
network's support (and output; :func:`refine`, which the support selection also runs),
prDeep with its denoiser, or the calibration's mean training object.
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
from .registry import METHODS, Method
from .solvers import SOLVERS, STOP_REASONS, Stopping
from .solvers import support as support_module
from .train import predict

__all__ = ["ShardResult", "image_seeds", "network_output", "reconstruct", "refine",
           "shard_indices"]


@dataclass(frozen=True)
class ShardResult:
    """Reconstructions of one shard: x_hat (B, m, m) or, for a network's output, (B, n, n)
    complex64; per-image residual, iterations and stop reason (a name in
    :data:`prbench.solvers.STOP_REASONS`; "budget" for a method without iterations);
    the stage's seconds and device."""

    x_hat: np.ndarray
    residual: np.ndarray
    iterations: np.ndarray
    stop_reason: np.ndarray
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


def _spec(method: str) -> Method:
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; registered: {sorted(METHODS)}")
    return METHODS[method]


def _solver_params(method: str, params: dict[str, Any],
                   support: dict[str, Any] | None) -> dict[str, Any]:
    """A copy of ``params``, checked as the keyword arguments of ``method``'s solver, and
    ``support`` checked against whether the method estimates a support (model and solver)."""
    spec = _spec(method)
    if spec.solver is None and params:
        raise ValueError(f"method {method!r} is the network output itself: it takes no params")
    if spec.needs_support != (support is not None):
        raise ValueError(f"method {method!r}: support parameters (sigma, threshold of the "
                         "selection) are " + ("required" if spec.needs_support
                                              else "not accepted"))
    overlap = set(params) & set(spec.fixed)
    if overlap:
        raise ValueError(f"method {method!r} fixes {sorted(overlap)}; remove them from its params")
    reserved = set(params) & {"seed", "geometry", "frame", "support"}
    if reserved:
        raise ValueError(f"method {method!r}: {sorted(reserved)} may not be set in its params; "
                         "seeds come from the run seed, the frame from the run's geometry, "
                         "the support from the support selection")
    return dict(params)


def network_output(model: str, network: str | Path, y: np.ndarray, geometry: Geometry,
                   device: str | torch.device = "auto") -> tuple[torch.Tensor, float]:
    """The trained ``model`` U-Net (its ``best.pt`` at ``network``) applied to y (B, m, m):
    its (B, n, n) complex64 output on the CPU, and the inference's seconds."""
    target = select_device(device)
    net = load_network(network, target, produced_by=f"train_{model}")
    start = time.perf_counter()
    output = predict(net, torch.from_numpy(np.ascontiguousarray(y)), device=target)
    seconds = time.perf_counter() - start
    geometry.check_objects(output, f"output of the network {network}")
    return output, seconds


def _stopping(settings: dict[str, Any] | None) -> Stopping | None:
    """The config's ``reconstruction.stopping`` (tol, window, floor; None: off) as a test."""
    return None if settings is None else Stopping(**settings)


def _solve(method: str, y: np.ndarray, indices: np.ndarray, solver_params: dict[str, Any],
           support: torch.Tensor | None, init: torch.Tensor | None, *, seed: int,
           geometry: Geometry, target: torch.device,
           stopping: dict[str, Any] | None) -> ShardResult:
    """Run ``method``'s solver on y (B, m, m) with a (B, m, m) support (None: the frame),
    start ``init`` (None: random phases, seeded per image) and the ``stopping`` settings;
    ``seconds``: the solver alone."""
    spec = METHODS[method]
    measurements = torch.from_numpy(np.ascontiguousarray(y)).to(target)
    start = time.perf_counter()
    x_hat, info = SOLVERS[spec.solver](measurements, support, init,
                                       seed=image_seeds(seed, method, indices),
                                       geometry=geometry, stopping=_stopping(stopping),
                                       **solver_params, **spec.fixed)
    if target.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return ShardResult(x_hat=x_hat.cpu().numpy(), residual=info.residual.cpu().numpy(),
                       iterations=info.iterations.cpu().numpy(),
                       stop_reason=np.array(STOP_REASONS)[info.stop_reason.cpu().numpy()],
                       seconds=seconds,
                       device=str(target))


def refine(method: str, y: np.ndarray, indices: np.ndarray, params: dict[str, Any],
           output: torch.Tensor, support: dict[str, Any], *, seed: int, geometry: Geometry,
           device: str | torch.device = "auto",
           stopping: dict[str, Any] | None = None) -> ShardResult:
    """A method built on a network and a solver, from its network's output.

    y: (B, m, m) float32 measurements; indices: (B,) their indices (for seeding);
    params: the solver's keyword arguments from the config; output: (B, n, n) the
    network's output for y; support: keyword arguments of
    :func:`prbench.solvers.support.from_estimate` (the selection's sigma and
    threshold), applied to the output padded to the m x m grid. The solver starts
    from that padded output (start "output") or from random phases (start
    "random"), with the ``stopping`` settings (tol, window, floor; None: the full
    budget). Returns (B, m, m) solver iterates; ``seconds``: the solver alone.
    """
    spec = _spec(method)
    if not spec.needs_support:
        raise ValueError(f"method {method!r} has no network output and solver to refine with")
    solver_params = _solver_params(method, params, support)
    check_geometry(geometry).check_measurements(y, "y")
    geometry.check_objects(output, "output")
    if len(output) != len(y) or len(indices) != len(y):
        raise ValueError(f"y, indices and output disagree in length: {len(y)}, "
                         f"{len(indices)}, {len(output)}")
    target = select_device(device)
    estimate = pad(torch.as_tensor(output).to(target), geometry.m)
    mask = support_module.from_estimate(estimate, **support)
    init = estimate if spec.start == "output" else None
    return _solve(method, y, indices, solver_params, mask, init, seed=seed, geometry=geometry,
                  target=target, stopping=stopping)


def reconstruct(method: str, y: np.ndarray, indices: np.ndarray, params: dict[str, Any], *,
                seed: int, geometry: Geometry, device: str = "auto",
                network: str | Path | None = None, denoiser: str | Path | None = None,
                training_set: str | Path | None = None,
                support: dict[str, Any] | None = None,
                stopping: dict[str, Any] | None = None) -> ShardResult:
    """Reconstruct one shard with a registered method.

    y: (B, m, m) float32 measurements; indices: (B,) their test-set indices (for
    seeding); params: the method's solver keyword arguments from the config;
    geometry: the run's (n, m), passed to the solver (y must be (B, m, m));
    network: path of the trained U-Net's ``best.pt``, required when the method has
    a model; support: the support selection's keyword arguments of
    :func:`prbench.solvers.support.from_estimate` (sigma, threshold), required when
    the method has a model and a solver (see :func:`refine`); denoiser: path of the
    trained denoiser's ``best.pt``, required when the method uses one;
    training_set: path of the synthesized training split, required by the
    mean-object calibration; stopping: the solvers' convergence test
    (:class:`prbench.solvers.Stopping` keyword arguments; None: every start runs its
    whole budget). A network-output method returns the network's
    (B, n, n) output, the mean-object method the (n, n) mean of the training
    objects for every image, every other method (B, m, m) solver iterates.
    ``seconds`` is the method's own stage: the network's inference for a
    network-output method, the solver alone for the others.
    """
    spec = _spec(method)
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
    solver_params = _solver_params(method, params, support)
    check_geometry(geometry).check_measurements(y, "y")
    target = select_device(device)
    amplitudes = torch.from_numpy(np.ascontiguousarray(y)).sqrt()
    if spec.mean_object:
        mean = torch.from_numpy(synth.load(training_set).x).mean(dim=0)
        geometry.check_objects(mean, f"objects of {training_set}")
        x_hat = mean.expand(len(indices), *mean.shape).contiguous()
        return ShardResult(x_hat=x_hat.numpy(),
                           residual=fourier_residual(x_hat, amplitudes).numpy(),
                           iterations=np.zeros(len(indices), np.int64),
                           stop_reason=np.full(len(indices), STOP_REASONS[0]), seconds=0.0,
                           device="cpu")
    if spec.model is not None:
        output, seconds = network_output(spec.model, network, y, geometry, target)
        if spec.solver is None:
            residual = fourier_residual(output, amplitudes)
            return ShardResult(x_hat=output.numpy(), residual=residual.numpy(),
                               iterations=np.zeros(len(indices), np.int64),
                               stop_reason=np.full(len(indices), STOP_REASONS[0]),
                               seconds=seconds,
                               device=str(target))
        return refine(method, y, indices, params, output, support, seed=seed,
                      geometry=geometry, device=target, stopping=stopping)
    if spec.denoiser:
        solver_params["denoiser"] = denoiser
    return _solve(method, y, indices, solver_params, None, None, seed=seed, geometry=geometry,
                  target=target, stopping=stopping)


def shard_indices(count: int, shards: int, shard: int) -> np.ndarray:
    """Test-set indices of shard ``shard`` out of ``shards`` near-equal contiguous shards."""
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} is outside 0..{shards - 1}")
    if shards > count:
        raise ValueError(f"{shards} shards for {count} test images would leave shards empty")
    return np.array_split(np.arange(count), shards)[shard]
