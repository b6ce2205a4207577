"""The executor of the method registry: reconstruct one test shard with any method.

What a method is lives in :mod:`prbench.registry` (pure data); this module runs it, one
executor per kind (:data:`prbench.registry.KINDS`): an iterative solver from random
starts ("iterative"), a trained network's output ("network"), a solver from the
network's support and output ("refined"; :func:`refine`, which the support selection
also runs), a solver with the trained denoiser ("prdeep") or the mean training object
("calibration"). Every solver's result is checked (shape, complex, finite) before it is
kept, so that a plugin's faulty solver fails its job with the plugin's name.
"""

from __future__ import annotations

import inspect
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .data import synth
from .devices import select_device
from .geometry import Geometry, check_geometry
from .nets import load_network
from .physics import fourier_residual, pad
from .registry import METHODS, Method, parameter_problem, plugin_solver
from .solvers import SOLVERS, STOP_REASONS, SolverInfo, Stopping
from .solvers import support as support_module
from .train import predict

__all__ = ["ShardResult", "check_parameters", "image_seeds", "network_output", "reconstruct",
           "refine", "shard_indices", "solver_function"]


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


def _described(spec: Method) -> str:
    """``method 'x'``, with its plugin where it comes from one."""
    return f"method {spec.name!r}" + (f" (plugin {spec.plugin!r})" if spec.plugin else "")


def solver_function(name: str) -> Callable[..., Any]:
    """The solver registered as ``name``: built in (:data:`prbench.solvers.SOLVERS`) or a
    plugin's (:func:`prbench.registry.plugin_solver`)."""
    built_in, plugin = SOLVERS.get(name), plugin_solver(name)
    if built_in is not None and plugin is not None:
        raise ValueError(f"solver {name!r}: a plugin registered the name of a built-in solver")
    if built_in is None and plugin is None:
        raise ValueError(f"unknown solver {name!r}; built in: {sorted(SOLVERS)}")
    return built_in or plugin


def check_parameters(method: str, params: dict[str, Any], solver: str | None = None) -> None:
    """Refuse ``params`` that ``method``'s solver (or ``solver``, which replaces it) does not
    take (:func:`prbench.registry.parameter_problem`, its signature included)."""
    spec = _spec(method)
    name = solver or spec.solver
    problem = parameter_problem(spec, params, name and solver_function(name))
    if problem:
        raise ValueError(f"{_described(spec)}: {problem}")


def _solver_params(method: str, params: dict[str, Any],
                   support: dict[str, Any] | None, solver: str | None = None) -> dict[str, Any]:
    """A copy of ``params``, checked as the keyword arguments of ``method``'s solver (or of
    ``solver``), and ``support`` checked against whether the method takes one ("refined")."""
    spec = _spec(method)
    if spec.needs_support != (support is not None):
        raise ValueError(f"method {method!r}: support parameters (sigma, threshold of the "
                         "selection) are " + ("required" if spec.needs_support
                                              else "not accepted"))
    check_parameters(method, params, solver)
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


def _checked_result(spec: Method, x_hat: Any, info: Any, measurements: torch.Tensor,
                    geometry: Geometry) -> tuple[torch.Tensor, SolverInfo | dict]:
    """The solver's (X_hat, info), refused with one error naming the method (and its
    plugin) unless X_hat is a finite complex (B, m, m) tensor of Y's batch."""
    expected = (len(measurements), geometry.m, geometry.m)
    problem = None
    if not isinstance(x_hat, torch.Tensor):
        problem = f"returned {type(x_hat).__name__}, not a torch.Tensor"
    elif tuple(x_hat.shape) != expected:
        problem = f"returned shape {tuple(x_hat.shape)}, expected (B, m, m) = {expected}"
    elif not x_hat.is_complex():
        problem = f"returned dtype {x_hat.dtype}, not a complex tensor"
    elif not torch.isfinite(torch.view_as_real(x_hat)).all():
        problem = "returned NaN or infinite values"
    elif not (info is None or isinstance(info, (SolverInfo, dict))):
        problem = f"returned info of type {type(info).__name__}, not SolverInfo, dict or None"
    if problem:
        raise ValueError(f"{_described(spec)}: its solver {spec.solver!r} {problem}")
    return x_hat.to(torch.complex64), info if info is not None else {}


def _solve(method: str, y: np.ndarray, indices: np.ndarray, solver_params: dict[str, Any],
           support: torch.Tensor | None, init: torch.Tensor | None, *, seed: int,
           geometry: Geometry, target: torch.device,
           stopping: dict[str, Any] | None, solver: str | None = None) -> ShardResult:
    """Run ``method``'s solver (or ``solver``, which replaces it) on y (B, m, m) with a
    (B, m, m) support (None: the frame), start ``init`` (None: random phases, seeded per
    image) and the ``stopping`` settings (passed to a solver that takes them);
    ``seconds``: the solver alone. A solver whose info is not a SolverInfo (a plugin's)
    gets its residual computed from X_hat and 0 iterations unless info["iterations"]."""
    spec = METHODS[method]
    function = solver_function(solver or spec.solver)
    if "stopping" in inspect.signature(function).parameters:
        solver_params = solver_params | {"stopping": _stopping(stopping)}
    measurements = torch.from_numpy(np.ascontiguousarray(y)).to(target)
    start = time.perf_counter()
    x_hat, info = function(measurements, support, init, seed=image_seeds(seed, method, indices),
                           geometry=geometry, **solver_params, **spec.fixed)
    if target.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    x_hat, info = _checked_result(spec, x_hat, info, measurements, geometry)
    if isinstance(info, SolverInfo):
        residual, iterations = info.residual, info.iterations
        stop_reason = np.array(STOP_REASONS)[info.stop_reason.cpu().numpy()]
    else:
        residual = fourier_residual(x_hat, measurements.sqrt())
        iterations = torch.as_tensor(info.get("iterations", np.zeros(len(y), np.int64)))
        stop_reason = np.full(len(y), STOP_REASONS[0])
    return ShardResult(x_hat=x_hat.cpu().numpy(), residual=residual.cpu().numpy(),
                       iterations=iterations.cpu().numpy(), stop_reason=stop_reason,
                       seconds=seconds, device=str(target))


def refine(method: str, y: np.ndarray, indices: np.ndarray, params: dict[str, Any],
           output: torch.Tensor, support: dict[str, Any], *, seed: int, geometry: Geometry,
           device: str | torch.device = "auto", stopping: dict[str, Any] | None = None,
           solver: str | None = None) -> ShardResult:
    """A "refined" method (a network and a solver), from its network's output.

    y: (B, m, m) float32 measurements; indices: (B,) their indices (for seeding);
    params: the solver's keyword arguments from the config; output: (B, n, n) the
    network's output for y; support: keyword arguments of
    :func:`prbench.solvers.support.from_estimate` (the selection's sigma and
    threshold), applied to the output padded to the m x m grid. The solver (the method's,
    or ``solver`` in its place) starts from that padded output (start "output") or from
    random phases (start "random"), with the ``stopping`` settings (tol, window, floor;
    None: the full budget). Returns (B, m, m) solver iterates; ``seconds``: the solver
    alone.
    """
    spec = _spec(method)
    if not spec.needs_support:
        raise ValueError(f"method {method!r} has no network output and solver to refine with")
    solver_params = _solver_params(method, params, support, solver)
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
                  target=target, stopping=stopping, solver=solver)


def _constant_result(x_hat: torch.Tensor, amplitudes: torch.Tensor, seconds: float,
                     device: str) -> ShardResult:
    """A method without iterations (a network's output, the mean object): x_hat (B, n, n)."""
    return ShardResult(x_hat=x_hat.numpy(), residual=fourier_residual(x_hat, amplitudes).numpy(),
                       iterations=np.zeros(len(x_hat), np.int64),
                       stop_reason=np.full(len(x_hat), STOP_REASONS[0]), seconds=seconds,
                       device=device)


#: Each file argument of :func:`reconstruct` by its role in Method.needs(): what a method
#: that needs it is missing, and what one that does not is given.
_INPUTS = {"network": ("the {model} network's weights", "network"),
           "denoiser": ("a trained denoiser", "denoiser"),
           "training_set": ("the training split", "training split")}


def reconstruct(method: str, y: np.ndarray, indices: np.ndarray, params: dict[str, Any], *,
                seed: int, geometry: Geometry, device: str = "auto",
                network: str | Path | None = None, denoiser: str | Path | None = None,
                training_set: str | Path | None = None,
                support: dict[str, Any] | None = None,
                stopping: dict[str, Any] | None = None,
                support_mask: np.ndarray | None = None) -> ShardResult:
    """Reconstruct one shard with a registered method, by its kind.

    y: (B, m, m) float32 measurements; indices: (B,) their test-set indices (for
    seeding); params: the method's solver keyword arguments from the config;
    geometry: the run's (n, m), passed to the solver (y must be (B, m, m));
    network: path of the trained U-Net's ``best.pt``, required when the method has
    a model; support: the support selection's keyword arguments of
    :func:`prbench.solvers.support.from_estimate` (sigma, threshold), required by a
    "refined" method (see :func:`refine`); denoiser: path of the
    trained denoiser's ``best.pt``, required by a "prdeep" method;
    training_set: path of the synthesized training split, required by the
    mean-object calibration; stopping: the solvers' convergence test
    (:class:`prbench.solvers.Stopping` keyword arguments; None: every start runs its
    whole budget); support_mask: an (m, m) or (B, m, m) bool support for an
    "iterative" or "prdeep" method (None: the n x n frame). A network-output method
    returns the network's (B, n, n) output, the mean-object method the (n, n) mean of
    the training objects for every image, every other method (B, m, m) solver iterates.
    ``seconds`` is the method's own stage: the network's inference for a
    network-output method, the solver alone for the others.
    """
    spec = _spec(method)
    given = {"network": network, "denoiser": denoiser, "training_set": training_set}
    for role, value in given.items():
        needed = role in spec.needs()
        if needed != (value is not None):
            missing, extra = _INPUTS[role]
            raise ValueError(f"method {method!r} needs " + (
                missing.format(model=spec.model) if needed else f"no {extra}"))
    if support_mask is not None and spec.kind not in ("iterative", "prdeep"):
        raise ValueError(f"method {method!r} is a {spec.kind!r} method: a support mask is for "
                         "methods that need nothing trained")
    solver_params = _solver_params(method, params, support)
    check_geometry(geometry).check_measurements(y, "y")
    target = select_device(device)
    amplitudes = torch.from_numpy(np.ascontiguousarray(y)).sqrt()
    if spec.kind == "calibration":
        mean = torch.from_numpy(synth.load(training_set).x).mean(dim=0)
        geometry.check_objects(mean, f"objects of {training_set}")
        return _constant_result(mean.expand(len(indices), *mean.shape).contiguous(),
                                amplitudes, 0.0, "cpu")
    if spec.kind in ("network", "refined"):
        output, seconds = network_output(spec.model, network, y, geometry, target)
        if spec.kind == "network":
            return _constant_result(output, amplitudes, seconds, str(target))
        return refine(method, y, indices, params, output, support, seed=seed,
                      geometry=geometry, device=target, stopping=stopping)
    if spec.kind == "prdeep":
        solver_params["denoiser"] = denoiser
    mask = None
    if support_mask is not None:
        mask = torch.as_tensor(np.asarray(support_mask, dtype=bool)).to(target)
    return _solve(method, y, indices, solver_params, mask, None, seed=seed, geometry=geometry,
                  target=target, stopping=stopping)


def shard_indices(count: int, shards: int, shard: int) -> np.ndarray:
    """Test-set indices of shard ``shard`` out of ``shards`` near-equal contiguous shards."""
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} is outside 0..{shards - 1}")
    if shards > count:
        raise ValueError(f"{shards} shards for {count} test images would leave shards empty")
    return np.array_split(np.arange(count), shards)[shard]
