"""Training objectives of the paper, Sec. 2.1.

* :func:`naive_loss` -- the naive end-to-end objective ``l(X_i, g(Y_i))``; with the
  targets in :func:`prbench.symmetry.canonical_form` (symmetry-broken, objective
  "canonical") or, with :func:`prbench.metrics.invariant_error`, the distance to the
  nearest symmetric copy of X_i (objective "invariant"): :func:`supervised_loss`.
* :func:`passive_loss` -- the passive (measurement-consistency) objective, Eq. (2.1),
  on Fourier amplitudes or, as written in the paper, on intensities.
* :func:`jacobian_frobenius_sq` -- the random-projection estimate of
  ``||J_g(Y_i)||_F^2`` (Hoffman, Roberts & Yaida 2019), the regulariser of Eq. (2.2).
* :func:`objective` -- one batch's training loss for either objective.

All losses are per-image quantities averaged over the batch and computed in
float32 (FFTs explicitly outside autocast).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..metrics import invariant_error
from ..nets.unet import to_complex
from ..physics import fourier_residual, pad
from ..symmetry import canonical_form

__all__ = [
    "FOURIER_LOSSES",
    "OBJECTIVES",
    "ObjectiveTerms",
    "SUPERVISED_OBJECTIVES",
    "naive_loss",
    "supervised_loss",
    "intensity_residual",
    "passive_loss",
    "jacobian_frobenius_sq",
    "jacobian_frobenius_sq_from_outputs",
    "objective",
]

#: The supervised objectives: they compare the output with the true object. Each U-Net of
#: the registry is named after its objective (prbench.registry.SUPERVISED_MODELS, which
#: the workflow's planning reads without torch, lists these; a test keeps them equal).
SUPERVISED_OBJECTIVES = ("naive", "canonical", "invariant")
#: Every U-Net objective: the supervised ones and "passive", which compares with Y alone.
OBJECTIVES = (*SUPERVISED_OBJECTIVES, "passive")
#: What the passive loss compares: Fourier amplitudes sqrt(Y) or intensities Y.
FOURIER_LOSSES = ("amplitude", "intensity")


def _complex32(x: torch.Tensor) -> torch.Tensor:
    """Cast to complex64 (complex128 stays), real input gets zero imaginary part."""
    return x if x.dtype == torch.complex128 else x.to(torch.complex64)


def naive_loss(x_true: torch.Tensor, x_pred: torch.Tensor) -> torch.Tensor:
    """Naive end-to-end loss: mean_b ||x_pred_b - x_true_b||^2 / ||x_true_b||^2.

    x_true, x_pred: (B, n, n) complex (or real). The relative MSE on the object
    as synthesised -- shifted and possibly conjugate-flipped -- so it is *not*
    symmetry-invariant: this is the approach the paper shows fails (Sec. 2.1).
    The per-image normalisation makes it dimensionless, like
    :func:`passive_loss` and :func:`prbench.metrics.symmetric_mse`.
    """
    if x_true.shape != x_pred.shape:
        raise ValueError(f"shapes differ: x_true {tuple(x_true.shape)}, "
                         f"x_pred {tuple(x_pred.shape)}")
    x_true, x_pred = _complex32(x_true), _complex32(x_pred)
    error = (x_pred - x_true).abs().square().sum(dim=(-2, -1))
    energy = x_true.abs().square().sum(dim=(-2, -1))
    return (error / energy.clamp_min(torch.finfo(energy.dtype).tiny)).mean()


def supervised_loss(kind: str, x_true: torch.Tensor, x_pred: torch.Tensor,
                    m: int) -> torch.Tensor:
    """The supervised objective ``kind`` on a batch, a scalar: x_true, x_pred (B, n, n).

    "naive": :func:`naive_loss` (the object as synthesised, paper Sec. 2.1);
    "canonical": :func:`naive_loss` against :func:`prbench.symmetry.canonical_form` of
    x_true (symmetry-broken targets, arXiv:2003.09077); "invariant": the batch mean of
    :func:`prbench.metrics.invariant_error` on the m x m grid (the distance to the nearest
    shifted, flipped, phase-rotated copy of x_true; the score's symmetries as the loss).
    FFTs run in complex64 with autocast disabled.
    """
    if kind not in SUPERVISED_OBJECTIVES:
        raise ValueError(f"supervised objective must be one of {SUPERVISED_OBJECTIVES}, "
                         f"got {kind!r}")
    if kind == "naive":
        return naive_loss(x_true, x_pred)
    with torch.autocast(device_type=x_pred.device.type, enabled=False):
        x_true, x_pred = _complex32(x_true), _complex32(x_pred)
        if kind == "canonical":
            return naive_loss(canonical_form(x_true), x_pred)
        return invariant_error(x_true, x_pred, m).mean()


def intensity_residual(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Relative intensity misfit per image, shape (B,):

        || |F pad(x_b, m)|^2 - Y_b ||^2 / ||Y_b||^2

    x: (B, h, w) complex (or real), h, w <= m; y: (B, m, m) intensities, m read from
    its shape. Computed in the dtype of ``x``, differentiable; an all-zero Y gives the
    unnormalised numerator.
    """
    spectrum = torch.fft.fft2(pad(x, y.shape[-1]))
    misfit = (spectrum.real.square() + spectrum.imag.square() - y).square().sum(dim=(-2, -1))
    energy = y.square().sum(dim=(-2, -1))
    return misfit / torch.where(energy > 0, energy, torch.ones_like(energy))


def passive_loss(y: torch.Tensor, x_pred: torch.Tensor,
                 fourier_loss: str = "amplitude") -> torch.Tensor:
    """Passive loss, paper Eq. (2.1): with ``fourier_loss="amplitude"``, on magnitudes,

        mean_b  || |F pad(x_pred_b, m)| - sqrt(Y_b) ||^2 / ||sqrt(Y_b)||^2

    (the batch mean of :func:`prbench.physics.fourier_residual`); with ``"intensity"``,
    Eq. (2.1) as written, ``mean_b || |F pad(x_pred_b, m)|^2 - Y_b ||^2 / ||Y_b||^2``
    (:func:`intensity_residual`). y: (B, m, m) measured intensities |F pad(X, m)|^2
    (unnormalised DFT; m is read from y's shape); x_pred: (B, h, w) complex network
    output, h, w <= m (h = w = m: the whole grid, not padded). Comparing magnitudes
    keeps the weak high frequencies from being swamped by the DC term; the
    normalisations make the loss dimensionless and per-image scale-free (0 iff
    |F pad(x_pred)|^2 = Y). Invariant under global phase, circular shift in the m-grid
    and conjugate flip of x_pred. The FFT runs in float32 (complex64), with autocast
    disabled.
    """
    if y.ndim != 3 or y.shape[-1] != y.shape[-2]:
        raise ValueError(f"y must have shape (B, m, m), got {tuple(y.shape)}")
    if fourier_loss not in FOURIER_LOSSES:
        raise ValueError(f"fourier_loss must be one of {FOURIER_LOSSES}, got {fourier_loss!r}")
    with torch.autocast(device_type=y.device.type, enabled=False):
        x_pred = _complex32(x_pred)
        y = y.to(x_pred.real.dtype).clamp_min(0)
        if fourier_loss == "intensity":
            return intensity_residual(x_pred, y).mean()
        return fourier_residual(x_pred, y.sqrt()).mean()


def jacobian_frobenius_sq_from_outputs(outputs: torch.Tensor, inputs: torch.Tensor,
                                       n_projections: int = 1) -> torch.Tensor:
    """Batch mean of the per-sample estimate of ||J||_F^2, J = d outputs_b / d inputs_b.

    outputs: (B, ...) real tensor computed from ``inputs`` (B, ...), which must
    require grad; samples must not interact (true for :class:`prbench.nets.UNet`,
    which uses GroupNorm). Hoffman, Roberts & Yaida (2019), Alg. 1: for v_b
    uniform on the unit sphere of R^C (C = outputs per sample),
    E[C ||v_b^T J_b||^2] = ||J_b||_F^2, so

        estimate = mean_b mean_k C ||v_bk^T J_b||^2

    over ``n_projections`` draws k, each one vector-Jacobian product with
    ``create_graph=True`` (differentiable w.r.t. the weights). This is the
    unbiased full estimate; their reference code returns half of it.
    v is drawn from the global torch RNG of the outputs' device.
    """
    if n_projections < 1:
        raise ValueError(f"n_projections must be >= 1, got {n_projections}")
    batch = outputs.shape[0]
    dims = outputs[0].numel()
    total = outputs.new_zeros((), dtype=torch.float32)
    for _ in range(n_projections):
        v = torch.randn(outputs.shape, device=outputs.device, dtype=torch.float32)
        v = v / v.flatten(1).norm(dim=1).view(batch, *[1] * (outputs.ndim - 1))
        (vjp,) = torch.autograd.grad(outputs, inputs, grad_outputs=v.to(outputs.dtype),
                                     create_graph=True)
        total = total + dims * vjp.float().flatten(1).square().sum(dim=1).mean()
    return total / n_projections


def jacobian_frobenius_sq(model_fn: Callable[[torch.Tensor], torch.Tensor], inputs: torch.Tensor,
                          n_projections: int = 1) -> torch.Tensor:
    """Estimate of mean_b ||J_g(inputs_b)||_F^2 for ``g = model_fn`` (paper, Eq. 2.2).

    inputs: (B, ...) (detached here, then differentiated); model_fn maps them to
    (B, ...) real outputs. See :func:`jacobian_frobenius_sq_from_outputs`.
    """
    inputs = inputs.detach().requires_grad_(True)
    return jacobian_frobenius_sq_from_outputs(model_fn(inputs), inputs, n_projections)


@dataclass(frozen=True)
class ObjectiveTerms:
    """One batch's loss: ``total = data + jacobian_weight * jacobian``.

    data: naive or passive loss (scalar); jacobian: the ||J||_F^2 estimate, or
    None when it was not computed (jacobian_weight == 0); prediction: the
    network's complex64 outputs g(Y), (B, n, n) or, on the grid, (B, m, m).
    """

    total: torch.Tensor
    data: torch.Tensor
    jacobian: torch.Tensor | None
    prediction: torch.Tensor


def objective(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, *, kind: str,
              fourier_loss: str = "amplitude", jacobian_weight: float = 0.0,
              n_projections: int = 1, jacobian_samples: int | None = None) -> ObjectiveTerms:
    """Training loss of ``model`` (a :class:`prbench.nets.UNet`) on a batch (paper, Sec. 2.1).

    x: (B, n, n) complex true objects (used by the supervised kinds only);
    y: (B, m, m) intensities. The network sees ``model.network_input(y)`` and
    outputs (B, 2, n, n) real/imag channels, or (B, 2, m, m) with its
    ``output_domain="grid"``.
    kind "naive", "canonical" or "invariant": supervised_loss(kind, x, g(Y), m)
    (jacobian_weight must be 0, fourier_loss "amplitude", the output domain "frame":
    its target is the frame);
    kind="passive": passive_loss(Y, g(Y), fourier_loss) + jacobian_weight * ||J_g||_F^2,
    Eq. (2.2), with J the Jacobian of the network output w.r.t. its normalised input.
    With jacobian_weight == 0 no input gradient or Jacobian is computed at all.
    jacobian_samples: estimate ||J||_F^2 on the batch's first ``jacobian_samples``
    images only (one more forward pass of those; the batch is shuffled, so this is
    an unbiased estimate of the batch mean at a fraction of the double-backward
    cost); None: on the whole batch.
    """
    if kind not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {kind!r}")
    supervised = kind in SUPERVISED_OBJECTIVES
    if jacobian_weight < 0 or (supervised and jacobian_weight != 0):
        raise ValueError(f"jacobian_weight must be >= 0, and 0 for a supervised objective; "
                         f"got {jacobian_weight} with objective {kind!r}")
    if supervised and (fourier_loss != "amplitude" or model.output_domain != "frame"):
        raise ValueError(f"the {kind} objective compares the output with the object frame: it "
                         f"takes fourier_loss 'amplitude' and a network of output_domain "
                         f"'frame', got {fourier_loss!r} and {model.output_domain!r}")
    if jacobian_samples is not None and jacobian_samples < 1:
        raise ValueError(f"jacobian_samples must be >= 1 or None, got {jacobian_samples}")
    inputs = model.network_input(y)
    if inputs.device.type == "cuda":  # the layout the training loop gives the model there
        inputs = inputs.contiguous(memory_format=torch.channels_last)
    whole_batch = jacobian_samples is None or jacobian_samples >= inputs.shape[0]
    if jacobian_weight and whole_batch:
        inputs.requires_grad_(True)
    outputs = model(inputs)
    x_pred = to_complex(outputs)
    data = (supervised_loss(kind, x, x_pred, y.shape[-1]) if supervised
            else passive_loss(y, x_pred, fourier_loss))
    if not jacobian_weight:
        return ObjectiveTerms(total=data, data=data, jacobian=None, prediction=x_pred)
    if whole_batch:
        jacobian = jacobian_frobenius_sq_from_outputs(outputs, inputs, n_projections)
    else:
        jacobian = jacobian_frobenius_sq(model, inputs[:jacobian_samples], n_projections)
    return ObjectiveTerms(total=data + jacobian_weight * jacobian, data=data, jacobian=jacobian,
                         prediction=x_pred)
