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

from .devices import select_device
from .geometry import Geometry, check_geometry
from .physics import pad
from .solvers import SOLVERS
from .solvers import support as support_module

__all__ = ["METHODS", "Method", "ShardResult", "image_seeds", "reconstruct", "select_device",
           "shard_indices"]


@dataclass(frozen=True)
class Method:
    """One reconstruction method.

    name: registry key, used in file names; label: display name in tables;
    group: "paper" (compared in the paper's Table 1), "beyond" (support-free
    baselines and controls the paper did not run) or "reference" (uses prior
    knowledge the paper's methods do not: a reference point only).
    solver: key into :data:`prbench.solvers.SOLVERS`, or None for a network's
    output taken as it is. model: the trained network ("naive", "passive") whose
    output the method uses, or None. start: "output" starts the solver from the
    network output, "random" from random phases. A method with a model and a
    solver estimates its support from the network output (paper, Sec. 2.2).
    denoiser: the solver takes the trained denoiser (prDeep).
    fixed: solver keyword arguments that define the method and are not configurable.
    """

    name: str
    label: str
    group: str
    solver: str | None
    model: str | None = None
    start: str = "random"
    denoiser: bool = False
    fixed: dict[str, Any] = field(default_factory=dict)


METHODS: dict[str, Method] = {
    method.name: method
    for method in (
        Method("alm", "ALM", "paper", "alm"),
        Method("hio", "HIO", "paper", "hio"),
        Method("passive_dnn", "Passive DNN", "paper", None, "passive"),
        Method("passive_refined", "Passive Refined", "paper", "alm", "passive", "output"),
        Method("naive_dnn", "Naive DNN", "paper", None, "naive"),
        Method("naive_refined", "Naive Refined", "paper", "alm", "naive", "output"),
        Method("prdeep", "prDeep", "paper", "prdeep", denoiser=True),
        Method("hio_sw", "HIO shrink-wrap", "beyond", "hio_sw"),
        Method("raar_sw", "RAAR shrink-wrap", "beyond", "raar_sw"),
        Method("passive_support_only", "Passive support, random start", "beyond", "alm",
               "passive"),
        Method("naive_support_only", "Naive support, random start", "beyond", "alm", "naive"),
        Method("hio_realpos", "HIO real>=0 (ref.)", "reference", "hio",
               fixed={"real_nonnegative": True}),
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
                network_output: np.ndarray | None = None,
                denoiser: str | None = None) -> ShardResult:
    """Reconstruct one shard with a registered method.

    y: (B, m, m) float32 measurements; indices: (B,) their test-set indices (for
    seeding); params: the method's parameters from the config (solver keyword
    arguments, plus ``support`` keyword arguments of
    :func:`prbench.solvers.support.from_estimate` for methods built on a network);
    geometry: the run's (n, m), passed to the solver (y must be (B, m, m));
    network_output: (B, n, n) complex output of the method's network, required
    when the method has a model; denoiser: path of the trained denoiser's weights,
    required when the method uses one.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; registered: {sorted(METHODS)}")
    spec = METHODS[method]
    if (spec.model is None) != (network_output is None):
        raise ValueError(f"method {method!r} needs "
                         + (f"the {spec.model} network's output" if spec.model
                            else "no network output"))
    if spec.denoiser != (denoiser is not None):
        raise ValueError(f"method {method!r} needs " + ("a trained denoiser" if spec.denoiser
                                                        else "no denoiser"))
    if spec.solver is None:
        raise ValueError(f"method {method!r} is the network output itself: nothing to solve")
    solver_params = dict(params)
    support_params = solver_params.pop("support", None)
    if (spec.model is None) != (support_params is None):
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
    if network_output is not None:
        geometry.check_objects(network_output, "network_output")
    target = select_device(device)
    measurements = torch.from_numpy(np.ascontiguousarray(y)).to(target)
    start = time.perf_counter()
    support = init = None
    if spec.denoiser:
        solver_params["denoiser"] = denoiser
    if spec.model is not None:
        estimate = pad(torch.from_numpy(np.ascontiguousarray(network_output)).to(target),
                       geometry.m)
        support = support_module.from_estimate(estimate, **support_params)
        if spec.start == "output":
            init = estimate
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
