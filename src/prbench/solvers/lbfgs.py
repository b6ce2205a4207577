"""Batched L-BFGS with a per-instance Armijo backtracking line search.

Minimises B independent real functions of complex (B, ...) tensors at once,
treating C^N as R^{2N} with inner product <a, b> = Re sum conj(a) b. Gradients
follow the same convention: g = df/dRe z + i df/dIm z (= 2 df/dconj(z), which is
also what torch autograd returns for a real loss). Each instance has its own
curvature pairs, step length and stopping state; a stopped instance no longer
changes (unlike ``torch.optim.LBFGS``, which treats the batch as one problem).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

__all__ = ["lbfgs", "LBFGSResult"]

Objective = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-instance real inner product Re <a, b>, shape (B,)."""
    return torch.linalg.vecdot(torch.view_as_real(a).flatten(1), torch.view_as_real(b).flatten(1))


def _bcast(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return v.view(-1, *([1] * (like.ndim - 1)))


def _axpy(x: torch.Tensor, a: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """x += a y in place, per instance: x, y complex (B, ...), a real (B,); returns x.
    One fused pass over the real views (a real-by-complex product would first make a
    complex copy of a and multiply complex by complex)."""
    torch.view_as_real(x).addcmul_(torch.view_as_real(y), a.view(-1, *([1] * y.ndim)))
    return x


@dataclass
class LBFGSResult:
    """x: minimiser estimate; value (B,), grad like x at it; iterations (B,) int64;
    converged (B,) bool (gradient tolerance met); failed (B,) bool (line search failed)."""

    x: torch.Tensor
    value: torch.Tensor
    grad: torch.Tensor
    iterations: torch.Tensor
    converged: torch.Tensor
    failed: torch.Tensor


def lbfgs(fun: Objective, x: torch.Tensor, *, max_iter: int, grad_tol: torch.Tensor,
          memory: int = 8, precondition: Callable[[torch.Tensor], torch.Tensor] | None = None,
          c1: float = 1e-4, max_backtracks: int = 20) -> LBFGSResult:
    """Minimise ``fun`` per instance from ``x`` (B, ...), complex.

    fun(x) -> (value (B,), grad like x). Instance b stops when
    ``||grad_b|| <= grad_tol[b]`` (grad_tol: (B,) tensor), after ``max_iter``
    iterations, or when its backtracking (step halved up to ``max_backtracks`` times
    from 1, Armijo constant ``c1``) fails. Curvature
    pairs with Re<s, y> <= 1e-10 |s||y| are skipped for that instance. The initial
    inverse Hessian is gamma D, D = ``precondition`` (a fixed symmetric positive
    linear map, identity if None), gamma = Re<s, y> / Re<y, D y> of the newest pair.
    """
    precondition = precondition or (lambda v: v)
    batch = x.shape[0]
    device = x.device
    running = torch.ones(batch, dtype=torch.bool, device=device)
    value, grad = fun(x)
    iterations = torch.zeros(batch, dtype=torch.int64, device=device)
    failed = torch.zeros(batch, dtype=torch.bool, device=device)
    s_hist = x.new_zeros(memory, *x.shape)
    y_hist = x.new_zeros(memory, *x.shape)
    rho = x.new_zeros(memory, batch, dtype=value.dtype)  # 0 marks an empty / skipped slot
    gamma = torch.ones(batch, dtype=value.dtype, device=device)
    converged = _dot(grad, grad).sqrt() <= grad_tol

    for it in range(max_iter):
        running &= ~converged
        if not running.any():
            break
        # Two-loop recursion, newest pair first; empty slots (rho = 0) are inert.
        slots = [(it - 1 - j) % memory for j in range(min(it, memory))]
        q = grad.clone()
        alphas = []
        for i in slots:
            alpha = rho[i] * _dot(s_hist[i], q)
            _axpy(q, -alpha, y_hist[i])
            alphas.append(alpha)
        r = _bcast(gamma, q) * precondition(q)
        for i, alpha in zip(reversed(slots), reversed(alphas)):
            beta = rho[i] * _dot(y_hist[i], r)
            _axpy(r, alpha - beta, s_hist[i])
        direction = -r
        slope = _dot(grad, direction)
        reset = slope >= 0  # not a descent direction: fall back to steepest descent
        if reset.any():
            steepest = -precondition(grad)
            direction = torch.where(_bcast(reset, direction), steepest, direction)
            slope = torch.where(reset, _dot(grad, steepest), slope)
            rho[:, reset] = 0
            gamma = torch.where(reset, torch.ones_like(gamma), gamma)
        direction = direction * _bcast(running, direction)

        step = running.to(value.dtype)
        pending = running.clone()
        new_x, new_value, new_grad = x, value, grad
        for _ in range(max_backtracks + 1):
            trial_x = _axpy(x.clone(), step, direction)
            trial_value, trial_grad = fun(trial_x)
            accept = pending & (trial_value <= value + c1 * step * slope)
            mask = _bcast(accept, x)
            new_x = torch.where(mask, trial_x, new_x)
            new_grad = torch.where(mask, trial_grad, new_grad)
            new_value = torch.where(accept, trial_value, new_value)
            pending &= ~accept
            if not pending.any():
                break
            step = torch.where(pending, step / 2, step)
        failed |= pending
        running &= ~pending
        accepted = running  # instances that moved this iteration

        s = new_x - x
        y = new_grad - grad
        sy = _dot(s, y)
        good = accepted & (sy > 1e-10 * (_dot(s, s) * _dot(y, y)).sqrt())
        slot = it % memory
        s_hist[slot], y_hist[slot] = s, y
        rho[slot] = torch.where(good, 1 / torch.where(good, sy, torch.ones_like(sy)),
                                torch.zeros_like(sy))
        y_norm = _dot(y, precondition(y)).clamp_min(torch.finfo(sy.dtype).tiny)
        gamma = torch.where(good, sy / y_norm, gamma)
        x, value, grad = new_x, new_value, new_grad
        iterations += accepted.long()
        converged = _dot(grad, grad).sqrt() <= grad_tol
    return LBFGSResult(x, value, grad, iterations, converged, failed)
