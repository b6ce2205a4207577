"""Projection-based solvers: HIO, RAAR, the difference map and their shrink-wrap variants.

All share one driver (:func:`_run`): K starts per image run as one (B*K, m, m)
batch, iterate ``x_{k+1} = T(x_k)``, optionally update the support (shrink-wrap),
polish with error reduction ``x <- P_C P_M x`` and keep, per image, the start whose
final estimate ``P_C x`` has the smallest Fourier residual
``|| |F P_C x| - sqrt(Y) ||^2 / ||sqrt(Y)||^2``. A :class:`Scheme` is the map T and,
for the difference map, the read-out of its estimate from the iterate.

Notation: P_M is the Fourier-modulus projection ``F^-1(sqrt(Y) F x / |F x|)``,
P_C the object-domain projection (zero off the support S; with
``real_nonnegative`` also real and >= 0 on S), R = 2P - I.
"""

from __future__ import annotations

import inspect
from typing import Callable, NamedTuple

import torch

from ..geometry import Geometry
from ..physics import fourier_residual
from . import support as support_mod
from ._common import (Constraint, Convergence, SeedLike, SolverInfo, Stopping, check_measurements,
                      check_param, finish, modulus_projection, prepare, solver)

__all__ = ["hio", "raar", "dm", "hio_sw", "raar_sw", "dm_sw"]

#: P_M of a (B*K, m, m) iterate, bound to the measured magnitudes.
Projection = Callable[[torch.Tensor], torch.Tensor]
#: A map of the iterate x, given P_M and the constraint C (whose ``project`` is P_C).
Step = Callable[[torch.Tensor, Projection, Constraint], torch.Tensor]


class Scheme(NamedTuple):
    """One projection algorithm: ``update`` is x_{k+1} = T(x_k); ``readout`` maps an
    iterate to the point its estimates are read from (the driver logs, polishes and
    returns P_C of it, shrink-wrap thresholds P_M of it); None means x itself."""

    update: Step
    readout: Step | None = None


def _hio(beta: float) -> Scheme:
    """Fienup's HIO: x' = p where p = P_M x is feasible (on S; and Re p >= 0 with the
    real_nonnegative flag), x - beta p elsewhere."""
    def update(x: torch.Tensor, project_m: Projection, c: Constraint) -> torch.Tensor:
        p = project_m(x)
        return torch.where(c.feasible(p), p, x - beta * p)
    return Scheme(update)


def _raar(beta: float) -> Scheme:
    """Luke's RAAR: x' = beta/2 (R_C R_M + I) x + (1 - beta) P_M x
    = beta (P_C(2p - x) + x - p) + (1 - beta) p, p = P_M x."""
    def update(x: torch.Tensor, project_m: Projection, c: Constraint) -> torch.Tensor:
        p = project_m(x)
        return beta * (c.project(2 * p - x) + x - p) + (1 - beta) * p
    return Scheme(update)


def _dm(beta: float) -> Scheme:
    """Elser's difference map (Elser 2003, JOSA A 20, 40; Elser, Rankenburg & Thibault
    2007, "Searching with iterated maps", PNAS 104, 418) with A = C, B = M:

        x' = x + beta [P_C(f_M(x)) - P_M(f_C(x))],
        f_C(x) = (1 + gamma_C) P_C x - gamma_C x,  gamma_C = -1/beta,
        f_M(x) = (1 + gamma_M) P_M x - gamma_M x,  gamma_M = +1/beta

    (the paper's f_A = P_A - (P_A - x)/beta, f_B = P_B + (P_B - x)/beta). At a fixed
    point P_C(f_M(x)) = P_M(f_C(x)) is a solution; the read-out is P_C(f_M(x)), the one
    in C, so the driver's final P_C leaves it as it is and ER polishes it like the
    HIO/RAAR estimate. Two P_M per step. beta = 1 gives f_C = I and
    x' = x + P_C(R_M x) - P_M x, HIO/RAAR with beta = 1 (Douglas-Rachford)."""
    gamma = 1 / beta

    def readout(x: torch.Tensor, project_m: Projection, c: Constraint) -> torch.Tensor:
        return c.project((1 + gamma) * project_m(x) - gamma * x)

    def update(x: torch.Tensor, project_m: Projection, c: Constraint) -> torch.Tensor:
        f_c = (1 - gamma) * c.project(x) + gamma * x
        return x + beta * (readout(x, project_m, c) - project_m(f_c))
    return Scheme(update, readout)


def _check_beta(beta: float) -> None:
    check_param("beta", beta, gt=0, le=1)


class _ShrinkWrap:
    """Marchesini et al. (2003) support update, every ``update_every`` iterations:
    S <- {G_sigma * |P_M x| >= threshold * max}, sigma decaying geometrically from
    sigma_start (iteration 0) to sigma_end (last main iteration). The estimate is the
    Fourier-consistent image P_M x (x: the scheme's read-out), so the support can also
    grow where the data demand it. A support that would be empty or exceed max_fraction
    of the grid is not updated."""

    def __init__(self, update_every: int, sigma_start: float, sigma_end: float,
                 threshold: float, max_fraction: float, iters: int):
        check_param("update_every", update_every, integer=True, ge=1)
        check_param("sigma_start", sigma_start, gt=0)
        check_param("sigma_end", sigma_end, gt=0, le=sigma_start)
        check_param("threshold", threshold, gt=0, lt=1)
        check_param("max_fraction", max_fraction, gt=0, le=1)
        self.update_every, self.threshold, self.max_fraction = update_every, threshold, max_fraction
        self.sigma_start, self.sigma_end, self.iters = sigma_start, sigma_end, max(iters, 1)

    def due(self, t: int) -> bool:
        """Whether to update after main iteration t (1-based)."""
        return t % self.update_every == 0

    def update(self, t: int, p: torch.Tensor,
               support: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """New (B, m, m) supports from the estimate p after iteration t, and (B,) flags
        of the images whose old support was kept by the guard."""
        sigma = self.sigma_start * (self.sigma_end / self.sigma_start) ** (t / self.iters)
        return support_mod.from_estimate(p, sigma, self.threshold, max_fraction=self.max_fraction,
                                         fallback=support, return_fallback=True)


def _run(Y: torch.Tensor, support: torch.Tensor | None, init: torch.Tensor | None,
         seed: SeedLike, scheme: Scheme, *, iters: int, n_starts: int, er_iters: int,
         geometry: Geometry, real_nonnegative: bool, log_every: int,
         stopping: Stopping | None = None,
         shrinkwrap: _ShrinkWrap | None = None) -> tuple[torch.Tensor, SolverInfo]:
    """Common driver: starts, up to ``iters`` updates of ``scheme`` with optional
    shrink-wrap, read-out, ``er_iters`` error-reduction steps, best-of-K selection.

    Every ``log_every`` iterations the residual of P_C(read-out) is logged; with
    ``stopping`` a start whose residual meets the test leaves the batch there (its
    read-out goes on to the ER polish), so the work follows the starts still running;
    with shrink-wrap only once an update has left its support unchanged.
    """
    check_param("iters", iters, integer=True, ge=0)
    check_param("er_iters", er_iters, integer=True, ge=0)
    check_param("log_every", log_every, integer=True, ge=1)
    problem = prepare(Y, support, init, seed, n_starts, geometry, real_nonnegative)
    a = problem.magnitude
    spectrum_modulus = a.to(torch.complex64)  # complex once, not promoted at every P_M
    constraint = Constraint(problem.support, real_nonnegative)
    x = problem.x0
    rows = x.shape[0]
    convergence = Convergence(rows, stopping, log_every, x.device)
    guard_count = torch.zeros(rows, dtype=torch.int64, device=x.device)

    def project_m(z: torch.Tensor) -> torch.Tensor:
        return modulus_projection(z, spectrum_modulus, real_nonnegative)

    def estimate() -> torch.Tensor:
        return x if scheme.readout is None else scheme.readout(x, project_m, constraint)

    final = torch.empty_like(x)  # each start's read-out where it stopped
    full_support = constraint.support.clone()
    # Shrink-wrap: a start may stop only once an update has left its support unchanged
    # (a loose support is easy to fit, so a low residual before then proves nothing).
    settled = None if shrinkwrap is None else torch.zeros(rows, dtype=torch.bool,
                                                           device=x.device)
    for t in range(1, iters + 1):
        x = scheme.update(x, project_m, constraint)
        if shrinkwrap is not None and shrinkwrap.due(t):
            previous = constraint.support
            constraint.support, kept = shrinkwrap.update(t, project_m(estimate()), previous)
            guard_count[convergence.active] += kept.long()
            settled = (constraint.support == previous).flatten(1).all(dim=1) & ~kept
        if t % log_every == 0:
            current = estimate()
            active = convergence.active
            going = convergence.check(t, fourier_residual(constraint.project(current), a),
                                      settled=settled)
            if not going.all():
                final[active[~going]] = current[~going]
                full_support[active] = constraint.support
                x, a, spectrum_modulus = x[going], a[going], spectrum_modulus[going]
                constraint.support = constraint.support[going]
                settled = None if settled is None else settled[going]
                if not going.any():
                    break
    if convergence.active.numel():
        final[convergence.active] = estimate()
        full_support[convergence.active] = constraint.support
    a, spectrum_modulus = problem.magnitude, problem.magnitude.to(torch.complex64)
    constraint.support = full_support
    x = final
    for _ in range(er_iters):
        x = constraint.project(project_m(x))
    convergence.log(iters + er_iters, fourier_residual(constraint.project(x), a))
    extra = {} if shrinkwrap is None else {"support_guard_count": guard_count}
    return finish(problem, constraint.project(x), constraint.support, convergence.history,
                  convergence.logged, convergence.iterations(iters) + er_iters, extra,
                  convergence.reason)


@solver
def hio(Y: torch.Tensor, support: torch.Tensor | None = None, init: torch.Tensor | None = None,
        *, seed: SeedLike = 0, geometry: Geometry, iters: int = 1000, beta: float = 0.9,
        n_starts: int = 4, er_iters: int = 100, real_nonnegative: bool = False,
        log_every: int = 10, stopping: Stopping | None = None):
    """Hybrid input-output (Fienup 1982), batched, best of ``n_starts`` random starts.

    x_{k+1} = P_M x_k on S, x_k - beta P_M x_k off S; then ``er_iters`` steps of
    x <- P_S P_M x. Y: (B, m, m) intensities |F pad x|^2, m = geometry.m; support:
    (m, m) or (B, m, m) bool, None = the geometry's n x n top-left frame; init: (B, m, m)
    complex, the first start x_0 of each image, the other n_starts - 1 random; else
    ``n_starts`` random starts x_0 = P_S F^-1(sqrt(Y) e^{i phi}), phi i.i.d. uniform,
    drawn from a generator seeded per image; seed: an int shared by all images (an
    image gets the same starts alone or in any batch) or one int per image.
    ``real_nonnegative`` (reference only) takes Re P_M and also treats pixels of S with
    Re < 0 as infeasible. ``stopping`` (:class:`prbench.solvers.Stopping`, tested every
    ``log_every`` iterations) lets a start that has converged leave the batch before
    ``iters`` (None: every start runs them all); info.iterations (main + ER) and
    info.stop_reason say where and why it stopped.
    Returns X_hat (B, m, m) complex64 = P_S of the final iterate, and a SolverInfo.
    """
    _check_beta(beta)
    return _run(Y, support, init, seed, _hio(beta), iters=iters, n_starts=n_starts,
                er_iters=er_iters, geometry=geometry, real_nonnegative=real_nonnegative,
                log_every=log_every, stopping=stopping)


@solver
def raar(Y: torch.Tensor, support: torch.Tensor | None = None, init: torch.Tensor | None = None,
         *, seed: SeedLike = 0, geometry: Geometry, iters: int = 1000, beta: float = 0.9,
         n_starts: int = 4, er_iters: int = 100, real_nonnegative: bool = False,
         log_every: int = 10, stopping: Stopping | None = None):
    """Relaxed averaged alternating reflections (Luke 2005); arguments as :func:`hio`.

    x_{k+1} = beta/2 (R_S R_M + I) x_k + (1 - beta) P_M x_k, i.e. P_M x_k on S and
    beta x_k + (1 - 2 beta) P_M x_k off S; then ER polish and best-of-K selection.
    """
    _check_beta(beta)
    return _run(Y, support, init, seed, _raar(beta), iters=iters, n_starts=n_starts,
                er_iters=er_iters, geometry=geometry, real_nonnegative=real_nonnegative,
                log_every=log_every, stopping=stopping)


@solver
def dm(Y: torch.Tensor, support: torch.Tensor | None = None, init: torch.Tensor | None = None,
       *, seed: SeedLike = 0, geometry: Geometry, iters: int = 1000, beta: float = 0.9,
       n_starts: int = 4, er_iters: int = 100, log_every: int = 10,
       stopping: Stopping | None = None):
    """Difference map (Elser 2003; Elser, Rankenburg & Thibault 2007, PNAS), batched, best
    of ``n_starts`` random starts; arguments as :func:`hio` (no real_nonnegative).

    x_{k+1} = x_k + beta [P_S(f_M(x_k)) - P_M(f_S(x_k))], f_S = (1 - 1/beta) P_S + I/beta,
    f_M = (1 + 1/beta) P_M - I/beta (two P_M per iteration); the estimate P_S(f_M(x))
    is then ER-polished. X_hat (B, m, m) complex64 = P_S of the final iterate.
    """
    _check_beta(beta)
    return _run(Y, support, init, seed, _dm(beta), iters=iters, n_starts=n_starts,
                er_iters=er_iters, geometry=geometry, real_nonnegative=False,
                log_every=log_every, stopping=stopping)


def _shrinkwrap_run(scheme: Scheme, Y: torch.Tensor, support: torch.Tensor | None,
                    init: torch.Tensor | None, seed: SeedLike, *, geometry: Geometry,
                    iters: int = 1000, n_starts: int = 4, er_iters: int = 100,
                    update_every: int = 20, sigma_start: float = 2.0, sigma_end: float = 0.5,
                    threshold: float = 0.1, initial_support: str = "autocorrelation",
                    autocorr_threshold: float = 0.1, max_fraction: float = 0.5,
                    log_every: int = 10, stopping: Stopping | None = None):
    """The shrink-wrap driver shared by :func:`hio_sw`, :func:`raar_sw` and :func:`dm_sw`
    (defaults here)."""
    check_measurements(Y, geometry)
    sw = _ShrinkWrap(update_every, sigma_start, sigma_end, threshold, max_fraction, iters)
    check_param("autocorr_threshold", autocorr_threshold, gt=0, lt=1)
    if support is None:
        if initial_support == "autocorrelation":
            support = support_mod.from_autocorrelation(Y, autocorr_threshold)
        elif initial_support != "frame":
            raise ValueError(f"initial_support must be 'autocorrelation' or 'frame', "
                             f"got {initial_support!r}")
    return _run(Y, support, init, seed, scheme, iters=iters, n_starts=n_starts, er_iters=er_iters,
                geometry=geometry, real_nonnegative=False, log_every=log_every, stopping=stopping,
                shrinkwrap=sw)


def _shrinkwrap_signature(function: Callable) -> Callable:
    """Give a shrink-wrap solver ``f(..., beta, **params)`` the signature it really takes:
    its own parameters and, for ``**params``, the keyword parameters of
    :func:`_shrinkwrap_run` (so that a config's unknown name is refused before a run)."""
    own = [p for p in inspect.signature(function).parameters.values()
           if p.kind is not inspect.Parameter.VAR_KEYWORD]
    shared = [p for p in inspect.signature(_shrinkwrap_run).parameters.values()
              if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name != "geometry"]
    function.__signature__ = inspect.signature(function).replace(parameters=own + shared)
    return function


@solver
@_shrinkwrap_signature
def hio_sw(Y: torch.Tensor, support: torch.Tensor | None = None,
           init: torch.Tensor | None = None, *, seed: SeedLike = 0, geometry: Geometry,
           beta: float = 0.9, **params):
    """HIO with shrink-wrap support updates (Marchesini et al. 2003, as in PyNX/cohere).

    The initial support is ``support`` if given, else the thresholded autocorrelation
    (``initial_support="autocorrelation"``, threshold ``autocorr_threshold``) or the
    geometry's n x n frame (``"frame"``). Every ``update_every`` iterations
    S <- {G_sigma * |P_M x| >= threshold * max} with sigma going geometrically from
    ``sigma_start`` to ``sigma_end`` px (never empty, never > ``max_fraction`` of the
    grid: the old support is kept then). ER polish uses the final support.
    info.support holds the final supports; info.extra["support_guard_count"] how
    often the guard kept the old support. ``params`` and their defaults: those of
    ``_shrinkwrap_run`` (iters=1000, n_starts=4, er_iters=100, update_every=20,
    sigma_start=2.0, sigma_end=0.5, threshold=0.1, initial_support="autocorrelation",
    autocorr_threshold=0.1, max_fraction=0.5, log_every=10, stopping=None).
    """
    _check_beta(beta)
    return _shrinkwrap_run(_hio(beta), Y, support, init, seed, geometry=geometry, **params)


@solver
@_shrinkwrap_signature
def raar_sw(Y: torch.Tensor, support: torch.Tensor | None = None,
            init: torch.Tensor | None = None, *, seed: SeedLike = 0, geometry: Geometry,
            beta: float = 0.9, **params):
    """RAAR with shrink-wrap support updates; arguments and support rule as :func:`hio_sw`."""
    _check_beta(beta)
    return _shrinkwrap_run(_raar(beta), Y, support, init, seed, geometry=geometry, **params)


@solver
@_shrinkwrap_signature
def dm_sw(Y: torch.Tensor, support: torch.Tensor | None = None,
          init: torch.Tensor | None = None, *, seed: SeedLike = 0, geometry: Geometry,
          beta: float = 0.9, **params):
    """Difference map (:func:`dm`) with shrink-wrap support updates; arguments and support
    rule as :func:`hio_sw`, the support thresholded from P_M of the estimate P_S(f_M(x))."""
    _check_beta(beta)
    return _shrinkwrap_run(_dm(beta), Y, support, init, seed, geometry=geometry, **params)
