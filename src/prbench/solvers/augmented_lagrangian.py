"""Augmented-Lagrangian phase retrieval (Zhuang et al. 2020, "Phase retrieval via
second-order nonsmooth optimization"), batched over images and starts.

Problem, for Z (m, m) complex, a = sqrt(Y), unnormalised DFT F:

    min_Z f(Z) = 1/2 || |F Z| - a ||^2 / m^2   s.t.  A(Z) = Z restricted to ~S = 0.

By Parseval (||F v||^2 = m^2 ||v||^2) f(Z) = 1/2 ||Z - P_M Z||^2, differentiable
wherever F Z has no zero, with gradient (convention g = df/dRe Z + i df/dIm Z,
= 2 df/dconj(Z), the one torch autograd uses) g = Z - P_M Z.

Augmented Lagrangian with multiplier lambda (supported on ~S) and penalty rho:
    L(Z, lambda) = f(Z) + Re<lambda, A Z> + rho/2 ||A Z||^2,
    grad_Z L = Z - P_M Z + A*(lambda + rho A Z).
Outer loop: Z <- argmin_Z L (warm-started batched L-BFGS), lambda <- lambda + rho A Z,
and rho <- min(rho_factor rho, rho_max) for instances whose relative constraint
violation ||A Z|| / ||x|| did not drop below ``decrease`` times its previous value.
f and ||A Z||^2 are both quadratic in Z, so rho is scale-free; tolerances are
relative to ||x||^2 = ||a||^2 / m^2.
"""

from __future__ import annotations

import torch

from ..geometry import Geometry
from ..physics import fourier_residual, unit_phase
from ._common import Convergence, SeedLike, Stopping, check_param, finish, prepare, solver
from .lbfgs import _bcast, _dot, lbfgs

__all__ = ["alm_lbfgs", "alm_objective"]


def alm_objective(z: torch.Tensor, magnitude: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """f(Z) = 1/2 || |F Z| - a ||^2 / m^2 per instance (B,) and its gradient Z - P_M Z.

    z: (B, m, m) complex; magnitude a = sqrt(Y): (B, m, m). Gradient convention
    df/dRe Z + i df/dIm Z (torch autograd's). Where F Z = 0, P_M uses phase 0.
    """
    m2 = z.shape[-1] * z.shape[-2]
    spectrum = torch.fft.fft2(z)
    modulus = spectrum.abs()
    value = 0.5 * (modulus - magnitude).square().flatten(1).sum(dim=1) / m2
    return value, z - torch.fft.ifft2(magnitude * unit_phase(spectrum))


@solver
def alm_lbfgs(Y: torch.Tensor, support: torch.Tensor | None = None,
              init: torch.Tensor | None = None, *, seed: SeedLike = 0, geometry: Geometry,
              n_starts: int = 4, outer_iters: int = 20, inner_iters: int = 50, memory: int = 8,
              rho: float = 1.0, rho_factor: float = 10.0, rho_max: float = 1e4,
              decrease: float = 0.25, tol: float = 1e-6, grad_tol: float = 1e-5,
              stopping: Stopping | None = None):
    """Batched augmented-Lagrangian PR (see module docstring), best of ``n_starts``.

    Y, support, init, seed, geometry: as :func:`prbench.solvers.hio`. Each outer
    iteration runs at most ``inner_iters`` L-BFGS iterations (``memory`` pairs,
    Armijo backtracking) until ||grad L|| <= grad_tol ||x||. Instance b stops once
    its relative violation ||A Z|| / ||x|| <= ``tol`` and its inner solve met
    grad_tol (or could not decrease L any more), or, with ``stopping``
    (:class:`prbench.solvers.Stopping`, tested after every outer iteration, a window
    of w iterations spanning ceil(w / inner_iters) of them), once it has converged;
    stopped instances leave the batch. Random starts are as for hio; with the frame
    support ALM, like error reduction, often stalls in a local minimum, so it is best
    used from a good ``init``. Returns X_hat = P_S Z (B, m, m) complex64 and a SolverInfo whose
    history is the Fourier residual after every outer iteration, iterations the
    total L-BFGS iterations, and extra holds "violation" (relative ||A Z|| before
    the final projection), "rho", "outer_iterations".
    """
    for name, value in (("outer_iters", outer_iters), ("inner_iters", inner_iters),
                        ("memory", memory)):
        check_param(name, value, integer=True, ge=1)
    check_param("rho", rho, gt=0)
    check_param("rho_factor", rho_factor, ge=1)
    check_param("rho_max", rho_max, ge=rho)
    check_param("decrease", decrease, gt=0, lt=1)
    check_param("tol", tol, ge=0)
    check_param("grad_tol", grad_tol, ge=0)
    problem = prepare(Y, support, init, seed, n_starts, geometry)
    a, inside = problem.magnitude, problem.support
    outside = (~inside).to(torch.complex64)  # 1 off S; complex: multiplies z without a copy
    batch = a.shape[0]
    scale = (a.square().flatten(1).sum(dim=1) / (a.shape[-1] * a.shape[-2])).sqrt()  # ||x||
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    z = problem.x0.clone()
    lam = torch.zeros_like(z)
    penalty = torch.full((batch,), float(rho), device=z.device)
    violation = _dot(z * outside, z * outside).sqrt() / scale
    previous = torch.full_like(violation, float("inf"))
    total_iterations = torch.zeros(batch, dtype=torch.int64, device=z.device)
    outer_used = torch.zeros_like(total_iterations)
    convergence = Convergence(batch, stopping, inner_iters, z.device)
    for outer in range(1, outer_iters + 1):
        rows = convergence.active  # the instances still iterating, alone in the batch
        a_r, out_r, lam_r, rho_r = a[rows], outside[rows], lam[rows], penalty[rows]

        def lagrangian(v: torch.Tensor):
            value, grad = alm_objective(v, a_r)
            off = v * out_r
            value = value + _dot(lam_r, off) + 0.5 * rho_r * _dot(off, off)
            return value, grad + out_r * (lam_r + _bcast(rho_r, v) * off)
        # Hessian of L ~ I on S and (1 + rho) I off S: precondition with its inverse.
        weight = 1 / (1 + _bcast(rho_r, a_r) * out_r)
        result = lbfgs(lagrangian, z[rows], max_iter=inner_iters,
                       grad_tol=grad_tol * scale[rows], memory=memory,
                       precondition=lambda v: weight * v)
        z[rows] = result.x
        total_iterations[rows] += result.iterations
        outer_used[rows] += 1
        off = result.x * out_r
        violation[rows] = _dot(off, off).sqrt() / scale[rows]
        lam[rows] = lam_r + _bcast(rho_r, off) * off
        grow = violation[rows] > decrease * previous[rows]
        penalty[rows] = torch.where(grow, (rho_r * rho_factor).clamp_max(rho_max), rho_r)
        previous[rows] = violation[rows]
        # A failed line search means L cannot decrease further in float32: also final.
        solved = (violation[rows] <= tol) & (result.converged | result.failed)
        going = convergence.check(outer, fourier_residual(result.x * (1 - out_r), a_r),
                                  solved=solved)
        if not going.any():
            break
    x = torch.where(inside, z, torch.zeros((), dtype=z.dtype, device=z.device))
    return finish(problem, x, inside, convergence.history, convergence.logged, total_iterations,
                  {"violation": violation, "rho": penalty, "outer_iterations": outer_used},
                  convergence.reason)
