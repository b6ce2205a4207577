"""Shared machinery of the iterative solvers: input checks, random starts,
the Fourier residual, the object-domain constraint, per-start convergence stopping,
best-of-K selection and the check of numeric solver parameters.

Conventions (see :mod:`prbench.physics`): measurements ``Y = |F pad(x, m)|^2``
with the unnormalised 2-D DFT F, shape (B, m, m); iterates are (B, m, m)
complex64 on ``Y.device``. The ``K`` random starts of image b are the rows
``b * K + k`` of one (B * K, m, m) batch.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch

from ..geometry import Geometry, check_geometry
from ..physics import check_tensor, fourier_magnitude_projection, fourier_residual

__all__ = ["Problem", "SolverInfo", "Constraint", "Stopping", "Convergence", "STOP_REASONS",
           "SOLVERS", "solver", "prepare", "finish", "modulus_projection",
           "check_measurements", "check_param"]

SeedLike = int | Sequence[int] | torch.Tensor

#: Every solver by name (its function's name), filled by :func:`solver`.
SOLVERS: dict[str, Callable[..., tuple[torch.Tensor, "SolverInfo"]]] = {}


def solver(function: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: put ``function`` in :data:`SOLVERS` under its name (once)."""
    if function.__name__ in SOLVERS:
        raise ValueError(f"solver {function.__name__!r} is defined twice")
    SOLVERS[function.__name__] = function
    return function


_COMPARISONS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}


@dataclass
class SolverInfo:
    """Diagnostics of a solver run on B images (K starts each).

    residual: (B,) float, Fourier residual (:func:`prbench.physics.fourier_residual`) of
        the returned X_hat.
    history: (B, T) float, residual of the selected start's support-projected iterate,
        recorded after the iterations listed in ``history_iterations`` (T,) int64.
    start_residuals: (B, K) float, final residual of every start (selection criterion).
    best_start: (B,) int64, index k of the selected start.
    iterations: (B,) int64, iterations used by the selected start (ALM: L-BFGS iterations).
    stop_reason: (B,) int8, why the selected start stopped: an index into
        :data:`STOP_REASONS` (0 "budget": it ran its iterations; 1 "floor", 2 "stalled":
        :class:`Stopping`; 3 "solved": the solver's own criterion, ALM's tolerances).
    support: (B, m, m) bool, the support applied at the end (shrink-wrap: the final support).
    extra: method-specific (B,)-tensors, e.g. ALM's constraint violation and penalty rho.
    """

    residual: torch.Tensor
    history: torch.Tensor
    history_iterations: torch.Tensor
    start_residuals: torch.Tensor
    best_start: torch.Tensor
    iterations: torch.Tensor
    stop_reason: torch.Tensor
    support: torch.Tensor
    extra: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass
class Problem:
    """Validated inputs, expanded to the (B * K, m, m) batch of starts."""

    batch: int  # B
    starts: int  # K
    magnitude: torch.Tensor  # (B*K, m, m) float32, sqrt(Y)
    support: torch.Tensor  # (B*K, m, m) bool
    x0: torch.Tensor  # (B*K, m, m) complex64


class Constraint:
    """Object-domain set C: zero off ``support`` (and, if ``real_nonnegative``,
    real and >= 0 on it). ``project`` is the Euclidean projection P_C."""

    def __init__(self, support: torch.Tensor, real_nonnegative: bool = False):
        self.support = support
        self.real_nonnegative = real_nonnegative

    def feasible(self, x: torch.Tensor) -> torch.Tensor:
        """Pixels where ``x`` may stay: the support (and Re x >= 0 there if real_nonnegative)."""
        return self.support & (x.real >= 0) if self.real_nonnegative else self.support

    def project(self, x: torch.Tensor) -> torch.Tensor:
        if self.real_nonnegative:
            x = x.real.clamp_min(0).to(x.dtype)
        return torch.where(self.support, x, torch.zeros((), dtype=x.dtype, device=x.device))


#: Why a start stopped (:attr:`SolverInfo.stop_reason` indexes this tuple).
STOP_REASONS = ("budget", "floor", "stalled", "solved")


@dataclass(frozen=True)
class Stopping:
    """Per-start convergence test, evaluated on the Fourier residual r (the solvers'
    history, :func:`prbench.physics.fourier_residual`) at each of the solver's checks.

    A start stops once r <= ``floor`` ("floor": the data are fitted), or once its lowest
    residual has improved by less than the relative ``tol`` over the last ``window``
    iterations ("stalled"): min r(up to now) >= (1 - tol) min r(up to ``window``
    iterations ago). Checks every c iterations compare with ceil(window / c) checks ago;
    ``window`` None: no stall test, the floor alone.
    """

    floor: float
    tol: float = 0.0
    window: int | None = None

    def __post_init__(self) -> None:
        check_param("stopping floor", self.floor, ge=0)
        check_param("stopping tol", self.tol, ge=0, lt=1)
        if self.window is not None:
            check_param("stopping window", self.window, integer=True, ge=1)


class Convergence:
    """Which of R independent rows (image starts) still iterate, and their residual history.

    The solver iterates only the rows in ``active`` (compaction: converged rows leave
    its batch). :meth:`check` records the active rows' residuals after iteration t and
    returns which of them go on; a stopped row's history repeats its last residual.
    :meth:`log` records every row's residual (a final estimate) without testing.
    """

    def __init__(self, rows: int, stopping: Stopping | None, check_every: int,
                 device: torch.device):
        self.stopping = stopping
        self.patience = (None if stopping is None or stopping.window is None
                         else math.ceil(stopping.window / check_every))
        self.active = torch.arange(rows, device=device)
        self.stopped_at = torch.full((rows,), -1, dtype=torch.int64, device=device)
        self.reason = torch.zeros(rows, dtype=torch.int8, device=device)
        self.history: list[torch.Tensor] = []
        self.logged: list[int] = []

    def check(self, t: int, residual: torch.Tensor, solved: torch.Tensor | None = None,
              settled: torch.Tensor | None = None) -> torch.Tensor:
        """Record ``residual`` (A,) of the A active rows after iteration t; mark the rows
        that meet the stopping test (only where ``settled`` (A,) bool, if given: e.g. the
        shrink-wrap support has stopped changing), or are ``solved`` (A,) bool by the
        solver's own criterion, as stopped at t and return the (A,) bool mask of the rows
        that go on."""
        full = (self.history[-1].clone() if self.history
                else residual.new_full(self.stopped_at.shape, float("nan")))
        full[self.active] = residual
        self.log(t, full)
        reason = torch.zeros_like(residual, dtype=torch.int8)
        if self.stopping is not None:
            if self.patience is not None and len(self.history) > self.patience:
                past = torch.stack(self.history)[:, self.active]
                best_then = past[:-self.patience].amin(dim=0)
                stalled = past.amin(dim=0) >= (1 - self.stopping.tol) * best_then
                reason[stalled] = STOP_REASONS.index("stalled")
            reason[residual <= self.stopping.floor] = STOP_REASONS.index("floor")
            if settled is not None:
                reason[~settled] = 0
        if solved is not None:
            reason[solved] = STOP_REASONS.index("solved")
        stop = reason > 0
        self.stopped_at[self.active[stop]] = t
        self.reason[self.active[stop]] = reason[stop]
        self.active = self.active[~stop]
        return ~stop

    def log(self, t: int, residual: torch.Tensor) -> None:
        """Record the (R,) residuals of all rows after iteration t (replacing a record
        of the same t)."""
        if self.logged and self.logged[-1] == t:
            self.history.pop()
            self.logged.pop()
        self.history.append(residual)
        self.logged.append(t)

    def iterations(self, budget: int) -> torch.Tensor:
        """(R,) iterations each row ran: its stop, or ``budget`` if it never stopped."""
        return torch.where(self.stopped_at >= 0, self.stopped_at,
                           torch.full_like(self.stopped_at, budget))


def modulus_projection(x: torch.Tensor, magnitude: torch.Tensor,
                       real: bool = False) -> torch.Tensor:
    """P_M x (:func:`prbench.physics.fourier_magnitude_projection`); with ``real`` its
    real part (Fienup's real-object variant)."""
    p = fourier_magnitude_projection(x, magnitude)
    return p.real.to(p.dtype) if real else p


def _check_measurements(Y: torch.Tensor) -> torch.Tensor:
    if not isinstance(Y, torch.Tensor):
        raise TypeError(f"Y must be a torch.Tensor, got {type(Y).__name__}")
    if Y.ndim != 3 or Y.shape[-1] != Y.shape[-2]:
        raise ValueError(f"Y must have shape (B, m, m), got shape {tuple(Y.shape)}")
    if Y.shape[0] == 0:
        raise ValueError("Y is an empty batch (B = 0)")
    Y = check_tensor(Y, "Y", real=True)
    if (Y < 0).any():
        raise ValueError(f"Y must be nonnegative intensities; its minimum is {Y.min().item():.3g}")
    return Y


def check_measurements(Y: torch.Tensor, geometry: Geometry) -> torch.Tensor:
    """Raise a clear error unless Y is a finite, nonnegative, real floating (B, m, m) batch
    with m = geometry.m; return it, float16/bfloat16 upcast to float32
    (:func:`prbench.physics.check_tensor`)."""
    check_geometry(geometry)
    Y = _check_measurements(Y)
    geometry.check_measurements(Y)
    return Y


def check_param(name: str, value: object, *, integer: bool = False, ge: float | None = None,
                gt: float | None = None, le: float | None = None,
                lt: float | None = None) -> None:
    """Raise a ValueError naming ``name`` unless ``value`` is a number (an int if
    ``integer``; never a bool or NaN) with value >= ge, > gt, <= le and < lt (bounds
    left None are not checked)."""
    bounds = [(op, b) for op, b in zip(_COMPARISONS, (ge, gt, le, lt)) if b is not None]
    ok = (isinstance(value, int if integer else (int, float)) and not isinstance(value, bool)
          and not math.isnan(value) and all(_COMPARISONS[op](value, b) for op, b in bounds))
    if not ok:
        wanted = " and ".join(f"{op} {b}" for op, b in bounds)
        raise ValueError(f"{name} must be {'an int' if integer else 'a number'} {wanted}, "
                         f"got {value!r}")


def check_support(support: torch.Tensor, batch: int, m: int, device: torch.device) -> torch.Tensor:
    """Validate a (m, m) or (B, m, m) bool support; return it expanded to (B, m, m)."""
    if not isinstance(support, torch.Tensor) or support.dtype != torch.bool:
        raise ValueError("support must be a bool torch.Tensor of shape (m, m) or (B, m, m)")
    if support.shape not in {(m, m), (batch, m, m)}:
        raise ValueError(f"support has shape {tuple(support.shape)}; expected {(m, m)} or "
                         f"{(batch, m, m)} to match Y")
    if support.device != device:
        raise ValueError(f"support is on {support.device} but Y on {device}")
    support = support.expand(batch, m, m)
    empty = ~support.flatten(1).any(dim=1)
    if empty.any():
        raise ValueError(f"support is empty for image(s) {empty.nonzero().flatten().tolist()}")
    return support


def instance_seeds(seed: SeedLike, batch: int) -> list[int]:
    """One integer seed per image: an int is shared by all images (so an image gets the
    same starts alone or in any batch); a length-B sequence gives each image its own."""
    if isinstance(seed, int):
        return [seed] * batch
    seeds = [int(s) for s in (seed.tolist() if isinstance(seed, torch.Tensor) else seed)]
    if len(seeds) != batch:
        raise ValueError(f"seed has {len(seeds)} entries but Y has {batch} images")
    return seeds


def random_phases(seeds: list[int], starts: int, m: int, device: torch.device) -> torch.Tensor:
    """(B*K, m, m) uniform phases in [0, 2 pi); image b's K draws come from its own
    generator seeded with ``seeds[b]``, so they do not depend on the rest of the batch."""
    draws = []
    for s in seeds:
        gen = torch.Generator(device=device).manual_seed(s)
        draws.append(torch.rand(starts, m, m, generator=gen, device=device))
    return 2 * torch.pi * torch.cat(draws)


def prepare(Y: torch.Tensor, support: torch.Tensor | None, init: torch.Tensor | None,
            seed: SeedLike, n_starts: int, geometry: Geometry,
            real_nonnegative: bool = False) -> Problem:
    """Validate solver inputs and build the (B*K, m, m) batch of starts.

    Y must be (B, m, m) with m = geometry.m; support None means the geometry's
    n x n frame at the top-left (:meth:`Geometry.frame_mask`). K = n_starts starts
    per image: random starts ``x_0 = P_C F^-1(sqrt(Y) e^{i phi})`` with i.i.d. uniform
    phases phi, except that with ``init`` (B, m, m) given, each image's first start is
    its init as it is and the other n_starts - 1 are random (drawn as for
    n_starts - 1 random starts), so that the final choice by Fourier residual picks
    between them. Y may be float16/bfloat16 (upcast, :func:`check_measurements`).
    """
    Y = check_measurements(Y, geometry)
    batch, m = Y.shape[0], geometry.m
    device = Y.device
    if support is None:
        support = geometry.frame_mask(device)
    support = check_support(support, batch, m, device)
    magnitude = Y.to(torch.float32).sqrt()
    if init is not None:
        if not isinstance(init, torch.Tensor) or init.shape != Y.shape:
            got = tuple(init.shape) if isinstance(init, torch.Tensor) else type(init).__name__
            raise ValueError(f"init must be a tensor of shape {tuple(Y.shape)} like Y, got {got}")
        if init.device != device:
            raise ValueError(f"init is on {init.device} but Y on {device}")
        init = init.to(torch.complex64)
        if not torch.isfinite(torch.view_as_real(init)).all():
            raise ValueError("init contains NaN or infinite values")
    check_param("n_starts", n_starts, integer=True, ge=1)
    drawn = n_starts - (init is not None)  # random starts per image
    x0 = init.new_empty(0, m, m) if init is not None else None
    if drawn:
        phases = random_phases(instance_seeds(seed, batch), drawn, m, device)
        x0 = Constraint(support.repeat_interleave(drawn, dim=0), real_nonnegative).project(
            torch.fft.ifft2(torch.polar(magnitude.repeat_interleave(drawn, dim=0), phases)))
    if init is not None:
        x0 = torch.cat([init[:, None], x0.view(batch, drawn, m, m)], dim=1).view(-1, m, m)
    return Problem(batch, n_starts, magnitude.repeat_interleave(n_starts, dim=0),
                   support.repeat_interleave(n_starts, dim=0), x0)


def finish(problem: Problem, x: torch.Tensor, support: torch.Tensor, history: list[torch.Tensor],
           history_iterations: list[int], iterations: torch.Tensor,
           extra: dict[str, torch.Tensor] | None = None,
           stop_reason: torch.Tensor | None = None) -> tuple[torch.Tensor, SolverInfo]:
    """Pick, per image, the start whose final object-domain estimate ``x`` (B*K, m, m)
    has the smallest Fourier residual; gather its diagnostics.

    history: list of (B*K,) residuals; iterations: (B*K,) int; extra: (B*K,) tensors;
    stop_reason: (B*K,) int8 (:data:`STOP_REASONS`), None: every start ran its budget.
    """
    B, K = problem.batch, problem.starts
    residual = fourier_residual(x, problem.magnitude).view(B, K)
    best = residual.argmin(dim=1)
    rows = torch.arange(B, device=x.device) * K + best

    def pick(t: torch.Tensor) -> torch.Tensor:
        return t[rows]

    hist = torch.stack(history, dim=1) if history else residual.new_zeros(B * K, 0)
    info = SolverInfo(
        residual=residual.gather(1, best[:, None]).squeeze(1),
        history=pick(hist),
        history_iterations=torch.tensor(history_iterations, dtype=torch.int64),
        start_residuals=residual,
        best_start=best,
        iterations=pick(iterations),
        stop_reason=(torch.zeros(B, dtype=torch.int8, device=x.device) if stop_reason is None
                     else pick(stop_reason)),
        support=pick(support),
        extra={k: pick(v) for k, v in (extra or {}).items()},
    )
    return pick(x).to(torch.complex64), info
