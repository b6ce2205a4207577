"""Fourier-splitting augmented Lagrangian (ALM) phase retrieval, batched.

Reading of the paper's ALM [27] (Zhuang, Wang, Travadi, Sun, "Phase retrieval via
second-order nonsmooth optimization", ICML workshop 2020), whose text was not
reachable here (nor its code): an augmented Lagrangian method for the nonsmooth
amplitude loss, "second-order" presumably through its subproblem solver. This module
uses the standard variable splitting of Fourier phase retrieval (Wen, Yang, Liu,
"Alternating direction methods for classical and ptychographic phase retrieval",
Inverse Problems 28, 115010, 2012): the multiplier sits on the coupling z = F x of the
object and its spectrum, and each block of the AL is minimised exactly, in closed form,
so no inner solver is needed. (:mod:`.augmented_lagrangian` keeps the other reading, a
multiplier on the support constraint alone with L-BFGS subproblems; from random starts
it stalls even with the exact support.)

Problem, for x (m, m) complex, zero off the support S, a = sqrt(Y), unnormalised DFT F:

    min_{x, z} 1/2 || |z| - a ||^2   s.t.  z = F x,  x = P_S x.

Augmented Lagrangian, multiplier lambda (m, m) complex, penalty rho > 0:

    L(x, z, lambda) = 1/2 || |z| - a ||^2 + Re<lambda, z - F x> + rho/2 || z - F x ||^2.

One iteration: exact minimisation of L in z, then in x, then the multiplier step (ADMM):

    v       = F x - lambda / rho
    z      <- argmin_z L = (a + rho |v|) / (1 + rho) * v / |v|     (phase 0 where v = 0)
    x      <- argmin_{x = P_S x} L = P_S F^-1 (z + lambda / rho)   (F / m is unitary)
    lambda <- lambda + rho (z - F x).

The z-step is the proximal map of the amplitude loss, (P v + rho v) / (1 + rho) with
P v = a v / |v| the projection onto {|z| = a}. Both terms of L are Fourier-domain sums,
so rho is dimensionless (scale-free in Y). In object-domain variables
s_k = F^-1 (z_k + lambda_{k-1} / rho), x_k = P_S s_k, the iteration reads
s <- beta T(s) + (1 - beta) P_S s with beta = 1 / (1 + rho), T = (I + R_M R_S) / 2 the
Douglas-Rachford map, R = 2P - I, P_M the Fourier-modulus projection. T is Fienup's
HIO with beta = 1 conjugated by R_S, so as rho -> 0 the estimates x are (in exact
arithmetic) those of HIO with beta = 1 from the same start; rho > 0 damps the iteration
towards P_S.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from ..geometry import Geometry
from ..physics import fourier_residual, unit_phase
from ._common import (Constraint, Convergence, SeedLike, Stopping, check_param, finish, prepare,
                      solver)

__all__ = ["SplitState", "alm", "alm_split_lagrangian", "alm_split_start",
           "alm_split_step"]


class SplitState(NamedTuple):
    """Iterate of the splitting, all (B, m, m) complex: x (zero off S), fx = F x, the
    spectrum z and the multiplier lam (Fourier domain, same units as z)."""

    x: torch.Tensor
    fx: torch.Tensor
    z: torch.Tensor
    lam: torch.Tensor


def alm_split_start(x0: torch.Tensor, support: torch.Tensor) -> SplitState:
    """State at x = P_S x0, z = F x, lambda = 0 (the first iteration is then
    x <- P_S F^-1 prox(F x), a relaxed error-reduction step)."""
    x = Constraint(support).project(x0)
    fx = torch.fft.fft2(x)
    return SplitState(x, fx, fx, torch.zeros_like(fx))


def alm_split_step(state: SplitState, magnitude: torch.Tensor, support: torch.Tensor,
                   rho: float) -> SplitState:
    """One z-step, x-step and multiplier update (module docstring), two FFTs.

    magnitude a: (B, m, m) float, or complex with zero imaginary part (saves its
    conversion at every step); support: (B, m, m) bool; rho > 0. The z-step is
    computed as a / (1 + rho) v / |v| + rho / (1 + rho) v, which needs no |v|.
    """
    v = torch.sub(state.fx, state.lam, alpha=1 / rho)
    z = torch.add(magnitude * unit_phase(v) / (1 + rho), v, alpha=rho / (1 + rho))
    x = Constraint(support).project(torch.fft.ifft2(torch.add(z, state.lam, alpha=1 / rho)))
    fx = torch.fft.fft2(x)
    return SplitState(x, fx, z, torch.add(state.lam, z - fx, alpha=rho))


def alm_split_lagrangian(state: SplitState, magnitude: torch.Tensor,
                         rho: float) -> tuple[torch.Tensor, torch.Tensor]:
    """L(x, z, lambda) / ||a||^2 and the primal residual ||z - F x|| / ||a||, each (B,)."""
    energy = magnitude.square().flatten(1).sum(dim=1)
    energy = torch.where(energy > 0, energy, torch.ones_like(energy))
    gap = (state.z - state.fx).flatten(1)
    value = (0.5 * (state.z.abs() - magnitude).square().flatten(1).sum(dim=1)
             + (state.lam.flatten(1).conj() * gap).real.sum(dim=1)
             + 0.5 * rho * gap.abs().square().sum(dim=1))
    return value / energy, (gap.abs().square().sum(dim=1) / energy).sqrt()


@solver
def alm(Y: torch.Tensor, support: torch.Tensor | None = None,
              init: torch.Tensor | None = None, *, seed: SeedLike = 0, geometry: Geometry,
              n_starts: int = 4, iters: int = 1000, rho: float = 0.01, log_every: int = 10,
              stopping: Stopping | None = None):
    """Batched Fourier-splitting ALM (module docstring), best of ``n_starts``.

    Y, support, init, seed, geometry: as :func:`prbench.solvers.hio`; the start is
    x_0 = P_S F^-1(sqrt(Y) e^{i phi}) (random phases) or P_S init, with lambda_0 = 0.
    Runs ``iters`` iterations with penalty ``rho``; with ``stopping``
    (:class:`prbench.solvers.Stopping`, tested every ``log_every`` iterations) a start
    that has converged leaves the batch earlier. Defaults from synthetic validation
    problems (random complex 28 x 28 objects, exact support, 2 starts, 1000 iterations:
    rho = 1e-4..1e-2 recovered 12/12, 0.03 10/12, 0.1 none; Fashion-MNIST training
    objects with a loose support: rho = 3e-3..1e-2 best). Returns X_hat = x (B, m, m)
    complex64, zero off S, and a SolverInfo whose history is the Fourier residual of x
    every ``log_every`` iterations; extra holds "lagrangian" (L / ||a||^2) and
    "primal_residual" (||z - F x|| / ||a||) of each start's last iterate.
    """
    check_param("iters", iters, integer=True, ge=0)
    check_param("rho", rho, gt=0)
    check_param("log_every", log_every, integer=True, ge=1)
    problem = prepare(Y, support, init, seed, n_starts, geometry)
    a, inside = problem.magnitude, problem.support
    modulus = a.to(torch.complex64)  # complex once, not promoted at every step
    state = alm_split_start(problem.x0, inside)
    rows = a.shape[0]
    convergence = Convergence(rows, stopping, log_every, a.device)
    final = SplitState(*(torch.empty_like(part) for part in state))
    for t in range(1, iters + 1):
        state = alm_split_step(state, modulus, inside, rho)
        if t % log_every == 0 or t == iters:
            active = convergence.active
            going = convergence.check(t, fourier_residual(state.x, a))
            if not going.all():
                for part, value in zip(final, state):
                    part[active[~going]] = value[~going]
                state = SplitState(*(part[going] for part in state))
                a, modulus, inside = a[going], modulus[going], inside[going]
                if not going.any():
                    break
    for part, value in zip(final, state):
        part[convergence.active] = value
    lagrangian, primal = alm_split_lagrangian(final, problem.magnitude, rho)
    return finish(problem, final.x, problem.support, convergence.history, convergence.logged,
                  convergence.iterations(iters),
                  {"lagrangian": lagrangian, "primal_residual": primal}, convergence.reason)
