"""prDeep (Metzler, Schniter, Veeraraghavan, Baraniuk 2018; the paper's ref. [10]):
regularisation by denoising (RED) with a DnCNN prior, solved by FASTA
forward-backward splitting (Goldstein, Studer, Baraniuk 2014), started from HIO.

Problem, per image, for x on the m x m grid, zero off the support S (S within the
geometry's n x n top-left frame), on the denoiser's scale (below):

    min_x  f(x) + g(x),   f(x) = 1/(2 sigma_w^2) || |A x| - a ||^2,
                          g(x) = lam/2 Re<x, x - D_sigma(x)>  (+ indicator of S),

with A = F/m (unnormalised 2-D DFT F of the m x m grid, divided by m: Parseval-
normalised, ||A x|| = ||x||) and a = c sqrt(Y)/m. prDeep's own Fourier operator is
A sqrt(n^2/m^2) (a 2x-oversampled unitary DFT scaled by sqrt(n/m) per axis), so its
sigma_w is ours times n/m. With the Wirtinger convention of
:mod:`prbench.solvers.lbfgs` (gradient = df/dRe x + i df/dIm x = 2 df/dconj(x),
what torch autograd returns),

    grad f(x) = P_S (x - P_M x) / sigma_w^2,   P_M x = F^-1(c sqrt(Y) F x / |F x|).

Iteration (FASTA with adaptive Barzilai-Borwein steps and non-monotone
backtracking; one FASTA run per denoiser noise level, warm-started):

    x_hat = x_k - tau_k grad f(x_k)
    x_{k+1} = prox_g(x_hat, tau_k) ~ P_S (x_hat + tau_k lam D_sigma(x_hat)) / (1 + tau_k lam)

The prox is prDeep's one fixed-point step of prox_{tau g}(z) = argmin 1/2||x - z||^2
+ tau g(x), using RED's gradient lam (x - D(x)) (local homogeneity, symmetric
Jacobian), started at x = z; then the support projection (prDeep's support
constraint; no nonnegativity and no realness, as in the paper's footnote 2).
Backtracking: while f(x_{k+1}) > max(last ``window`` f values) + Re<dx, grad f(x_k)>
+ ||dx||^2 / (2 tau) (+ 1e-5 of that max: a float32 margin in place of FASTA's 1e-12),
tau <- ``shrink`` tau (at most ``max_backtracks`` times). Step update (FASTA's
adaptive BB): with dx = x_{k+1} - x_k, dg = grad f(x_{k+1}) - grad f(x_k),
tau_s = ||dx||^2 / Re<dx, dg>, tau_m = max(Re<dx, dg> / ||dg||^2, 0);
tau = tau_m if 2 tau_m > tau_s else tau_s - tau_m / 2; 1.5 tau_old if that is not
finite and positive. Each FASTA run starts from tau = 0.2 sigma_w^2 (FASTA's
default 2 / (10 L) with L = 1 / sigma_w^2, the Lipschitz constant of grad f far from
the data). Every image has its own steps, window and backtracking, so an image's
result does not depend on its batch, up to float rounding (convolution algorithms
differ with the batch size, CUDA's TF32 especially), which this nonconvex iteration
can amplify over many iterations.

Scale: D expects objects on 0..``scale`` (prDeep: 0..255,
:func:`prbench.nets.apply_denoiser`). Each image's start x_0 is multiplied by
c = scale / max|x_0| (so its largest modulus is 255, like a [0, 1] training
object whose brightest pixel is 1), the iteration runs on that scale (with
a = c sqrt(Y)/m), and X_hat = x / c. D acts on the n x n frame only (x is zero
outside it).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Sequence, Union

import torch
from torch import nn

from ..geometry import Geometry
from ..nets import apply_denoiser, load_network
from ..physics import fourier_residual, pad
from ._common import SeedLike, SolverInfo, Stopping, check_param, finish, prepare, solver
from .augmented_lagrangian import alm_objective
from .lbfgs import _bcast, _dot
from .projection import hio

__all__ = ["prdeep", "prdeep_data_term"]

DenoiserLike = Union[nn.Module, str, Path]
Denoisers = Union[DenoiserLike, Mapping[tuple[float, float], DenoiserLike]]


def prdeep_data_term(x: torch.Tensor, magnitude: torch.Tensor, support: torch.Tensor,
                     sigma_w: float) -> tuple[torch.Tensor, torch.Tensor]:
    """f(x) = 1/(2 sigma_w^2) || |F x| - magnitude ||^2 / m^2 per image (B,), and its
    gradient P_S (x - P_M x) / sigma_w^2 on the support (convention in the module
    docstring). x: (B, m, m) complex, zero off ``support`` (B, m, m) bool;
    magnitude: (B, m, m), the measured |F x|."""
    value, grad = alm_objective(x, magnitude)
    zero = torch.zeros((), dtype=grad.dtype, device=grad.device)
    return value / sigma_w ** 2, torch.where(support, grad, zero) / sigma_w ** 2


def _denoiser_bank(denoiser: Denoisers, sigmas: Sequence[float],
                   device: torch.device) -> list[nn.Module]:
    """The denoiser for each sigma of the schedule. ``denoiser``: a module or checkpoint
    path (blind: used for every sigma), or a mapping {(low, high): module or path},
    prDeep's bank of networks each trained on one noise range (low <= sigma < high)."""
    def resolve(d: DenoiserLike) -> nn.Module:
        if isinstance(d, (str, Path)):
            return load_network(d, device, produced_by="train_denoiser")
        if not isinstance(d, nn.Module):
            raise TypeError(f"a denoiser must be an nn.Module or a checkpoint path, got "
                            f"{type(d).__name__}")
        on = {p.device for p in d.parameters()}
        if on and on != {device}:
            raise ValueError(f"denoiser is on {sorted(map(str, on))} but Y on {device}")
        return d

    if not isinstance(denoiser, Mapping):
        return [resolve(denoiser)] * len(sigmas)
    bank = {tuple(map(float, key)): resolve(d) for key, d in denoiser.items()}
    chosen = []
    for sigma in sigmas:
        hits = [d for (low, high), d in bank.items() if low <= sigma < high]
        if not hits:
            raise ValueError(f"no denoiser range covers sigma = {sigma}; ranges: {sorted(bank)}")
        chosen.append(hits[0])
    return chosen


def _check_params(**params: object) -> None:
    """Check prdeep's numeric parameters, each with a message naming it."""
    for name in ("sigma_w", "scale"):
        check_param(name, params[name], gt=0)
    check_param("lam", params["lam"], ge=0)
    check_param("shrink", params["shrink"], gt=0, lt=1)
    check_param("hio_beta", params["hio_beta"], gt=0, le=1)
    for name in ("iters_per_sigma", "max_backtracks", "hio_iters", "hio_er_iters"):
        check_param(name, params[name], integer=True, ge=0)
    for name in ("window", "hio_starts", "log_every"):
        check_param(name, params[name], integer=True, ge=1)
    sigmas = params["sigmas"]
    if isinstance(sigmas, str) or not isinstance(sigmas, Sequence) or not sigmas:
        raise ValueError(f"sigmas must be a non-empty sequence of positive noise levels, "
                         f"got {sigmas!r}")
    for i, sigma in enumerate(sigmas):
        check_param(f"sigmas[{i}]", sigma, gt=0)


@solver
@torch.no_grad()
def prdeep(Y: torch.Tensor, support: torch.Tensor | None = None,
           init: torch.Tensor | None = None, *, seed: SeedLike = 0, geometry: Geometry,
           denoiser: Denoisers,
           hio_iters: int = 500, hio_starts: int = 2, hio_er_iters: int = 50,
           hio_beta: float = 0.9, sigma_w: float = 1.0, lam: float = 1.0,
           sigmas: Sequence[float] = (50.0, 40.0, 20.0, 10.0), iters_per_sigma: int = 25,
           window: int = 10, max_backtracks: int = 20, shrink: float = 0.2,
           scale: float = 255.0, log_every: int = 10,
           stopping: Stopping | None = None) -> tuple[torch.Tensor, SolverInfo]:
    """prDeep, batched over images; the algorithm and conventions are in the module docstring.

    Y: (B, m, m) intensities |F pad x|^2, m = geometry.m; support: (m, m) or (B, m, m)
    bool within the geometry's n x n top-left frame, None = that frame; init: (B, m, m) start,
    else HIO (:func:`prbench.solvers.hio` with ``hio_iters``, ``hio_beta``,
    best of ``hio_starts`` random starts, ``hio_er_iters`` ER steps, seeded by ``seed``:
    an int or one int per image; ``stopping``, :class:`prbench.solvers.Stopping`, lets
    its starts stop when converged; FASTA's continuation over ``sigmas`` always runs
    in full). denoiser: DnCNN module(s) or checkpoint path(s) on
    Y's device (see :func:`_denoiser_bank`); used in eval mode, modes restored.
    ``sigmas``: denoiser noise levels (0..scale scale), ``iters_per_sigma`` FASTA
    iterations each. Returns X_hat (B, m, m) complex64 and a SolverInfo (history: Fourier
    residual every ``log_every`` iterations; iterations: len(sigmas) * iters_per_sigma;
    extra: "scale" c, "init_residual" of the start, "backtracks" in all, "tau" final step).
    """
    _check_params(sigma_w=sigma_w, lam=lam, sigmas=sigmas, iters_per_sigma=iters_per_sigma,
                  window=window, max_backtracks=max_backtracks, shrink=shrink, scale=scale,
                  log_every=log_every, hio_iters=hio_iters, hio_starts=hio_starts,
                  hio_er_iters=hio_er_iters, hio_beta=hio_beta)
    problem = prepare(Y, support, init, seed, 1, geometry)
    device, n, m = Y.device, geometry.n, geometry.m
    inside = problem.support
    if (inside & ~geometry.frame_mask(device)).any():
        raise ValueError(f"support reaches outside the {n} x {n} frame that the denoiser sees")
    bank = _denoiser_bank(denoiser, sigmas, device)
    x0 = problem.x0 if init is not None else hio(
        Y, support, seed=seed, iters=hio_iters, beta=hio_beta, n_starts=hio_starts,
        er_iters=hio_er_iters, geometry=geometry, stopping=stopping)[0]
    zero = torch.zeros((), dtype=torch.complex64, device=device)
    x0 = torch.where(inside, x0, zero)
    peak = x0.abs().flatten(1).amax(dim=1)
    if not (peak > 0).all():
        raise ValueError(f"the start is zero on the support for image(s) "
                         f"{(peak == 0).nonzero().flatten().tolist()}")
    c = scale / peak
    x = x0 * _bcast(c, x0)
    a = problem.magnitude * _bcast(c, x0)
    batch = x.shape[0]
    modes = {id(d): (d, d.training) for d in bank}
    for d, _ in modes.values():
        d.eval()

    def prox(z: torch.Tensor, tau: torch.Tensor, net: nn.Module,
             rows: torch.Tensor) -> torch.Tensor:
        """P_S (z + tau lam D(z)) / (1 + tau lam) on the images ``rows``."""
        if lam == 0:
            return torch.where(inside[rows], z, zero)
        weight = _bcast(tau * lam, z)
        denoised = pad(apply_denoiser(net, z[:, :n, :n], scale), m)
        return torch.where(inside[rows], (z + weight * denoised) / (1 + weight), zero)

    history, logged = [fourier_residual(x, a)], [0]
    backtracks = torch.zeros(batch, dtype=torch.int64, device=device)
    everyone = torch.arange(batch, device=device)
    t = 0
    try:
        for net in bank:
            tau = torch.full((batch,), 0.2 * sigma_w ** 2, device=device)
            f1, g1 = prdeep_data_term(x, a, inside, sigma_w)
            recent = [f1]
            for _ in range(iters_per_sigma):
                x_old, g_old = x, g1
                x = prox(x_old - _bcast(tau, x) * g_old, tau, net, everyone)
                f1, g1 = prdeep_data_term(x, a, inside, sigma_w)
                bound = torch.stack(recent[-window:]).amax(dim=0)
                for _ in range(max_backtracks):
                    dx = x - x_old
                    bad = f1 > (bound * (1 + 1e-5) + _dot(dx, g_old)
                                + _dot(dx, dx) / (2 * tau))
                    if not bad.any():
                        break
                    rows = bad.nonzero().flatten()
                    tau = torch.where(bad, tau * shrink, tau)
                    x_new = prox(x_old[rows] - _bcast(tau[rows], x_old[rows]) * g_old[rows],
                                 tau[rows], net, rows)
                    f_new, g_new = prdeep_data_term(x_new, a[rows], inside[rows], sigma_w)
                    x, f1, g1 = x.index_copy(0, rows, x_new), f1.index_copy(0, rows, f_new), \
                        g1.index_copy(0, rows, g_new)
                    backtracks += bad.long()
                recent.append(f1)
                dx, dg = x - x_old, g1 - g_old
                curvature = _dot(dx, dg)
                tau_s = _dot(dx, dx) / curvature
                tau_m = (curvature / _dot(dg, dg)).clamp_min(0)
                bb = torch.where(2 * tau_m > tau_s, tau_m, tau_s - tau_m / 2)
                tau = torch.where(torch.isfinite(bb) & (bb > 0), bb, 1.5 * tau)
                t += 1
                if t % log_every == 0:
                    history.append(fourier_residual(x, a))
                    logged.append(t)
    finally:
        for d, was_training in modes.values():
            d.train(was_training)
    if logged[-1] != t:
        history.append(fourier_residual(x, a))
        logged.append(t)
    iterations = torch.full((batch,), t, dtype=torch.int64, device=device)
    extra = {"scale": c, "init_residual": history[0], "backtracks": backtracks, "tau": tau}
    return finish(problem, x / _bcast(c, x), inside, history, logged, iterations, extra)
