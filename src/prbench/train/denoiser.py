"""Blind training of prDeep's DnCNN denoiser (Metzler et al. 2018; Zhang et al. 2017).

Scale (prDeep's): objects x in [0, 1] (complex; the paper's data are real) are
denoised on the 0..255 scale, ``255 x``; a noise level sigma is on that scale too.
Noisy training input: ``255 e^{i theta} x + sigma (g_re + i g_im)`` with g_re, g_im
i.i.d. standard normal (std sigma on each of the real and imaginary parts),
sigma drawn per image uniformly from the union of ``sigma_ranges``, and a global
phase theta uniform in [0, 2 pi) (Fourier PR determines x only up to a global
phase, so the solver's iterates carry an arbitrary one). The network works on
[0, 1] (:func:`prbench.nets.dncnn.apply_denoiser`); the loss is the MSE of its
noise estimate on that scale, i.e. ``mean |D(noisy) - clean|^2 / 255^2`` per
real channel.

:class:`DenoisingTask` is this as a task of the one training loop
(:func:`prbench.train.loop.fit`: checkpoints, exact resume, best weights,
history); :func:`train_denoiser` runs it in float32 with a cosine learning-rate
decay per step.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import nn

from ..nets.dncnn import apply_denoiser
from .loop import Autocast, Cosine, Streams, fit, history_columns

__all__ = ["HISTORY_COLUMNS", "DenoisingTask", "add_noise", "denoiser_gain", "train_denoiser"]

SigmaRanges = Sequence[tuple[float, float]]


def _check_ranges(sigma_ranges: SigmaRanges) -> torch.Tensor:
    ranges = torch.as_tensor([tuple(map(float, r)) for r in sigma_ranges], dtype=torch.float64)
    if ranges.ndim != 2 or ranges.shape[1] != 2 or len(ranges) == 0:
        raise ValueError(f"sigma_ranges must be a non-empty list of (low, high), got "
                         f"{sigma_ranges}")
    if (ranges[:, 0] < 0).any() or (ranges[:, 1] <= ranges[:, 0]).any():
        raise ValueError(f"each sigma range needs 0 <= low < high, got {sigma_ranges}")
    return ranges


def _draw_sigmas(ranges: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """(count,) float32 sigmas uniform on the union of the (low, high) ranges."""
    ranges = ranges.to(generator.device)
    lengths = ranges[:, 1] - ranges[:, 0]
    edges = torch.cat([lengths.new_zeros(1), lengths.cumsum(0)])
    u = edges[-1] * torch.rand(count, generator=generator, device=generator.device,
                               dtype=torch.float64)
    which = (torch.searchsorted(edges, u, right=True) - 1).clamp(0, len(ranges) - 1)
    return (ranges[which, 0] + u - edges[which]).float()


def add_noise(x: torch.Tensor, sigma: torch.Tensor | float,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """``x + sigma (g_re + i g_im)``: complex Gaussian noise of std sigma per part.

    x: (B, n, n) complex; sigma: float or (B,) tensor, on x's scale.
    """
    sigma = torch.as_tensor(sigma, dtype=torch.float32, device=x.device).reshape(-1, 1, 1, 1)
    g = torch.randn(*x.shape, 2, generator=generator, device=x.device)
    return x + torch.view_as_complex(sigma * g)


def _noisy_pairs(clean01: torch.Tensor, ranges: torch.Tensor, scale: float,
                 generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(noisy, clean) on the 0..scale scale: random global phase, sigma from the ranges."""
    count = clean01.shape[0]
    theta = 2 * torch.pi * torch.rand(count, 1, 1, generator=generator, device=clean01.device)
    clean = scale * clean01 * torch.polar(torch.ones_like(theta), theta)
    return add_noise(clean, _draw_sigmas(ranges, count, generator), generator), clean


def _loss(model: nn.Module, noisy: torch.Tensor, clean: torch.Tensor, scale: float) -> torch.Tensor:
    residual = (apply_denoiser(model, noisy, scale) - clean) / scale
    return torch.view_as_real(residual).square().mean()


def _check_objects(x: torch.Tensor, name: str) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 3 or not x.is_complex() or x.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty (N, n, n) complex tensor, got "
                         f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values")


class DenoisingTask:
    """Blind denoising of (N, n, n) complex objects on [0, 1]; see the module docstring.

    objects, val_objects: the training and validation objects (any device; moved to
    the training device). sigma_ranges: noise-level ranges on the 0..``scale``
    scale (prDeep trains one network per range; give one range per task to do the
    same). Each epoch shuffles with stream 0 of the epoch and draws the phases,
    sigmas and noise of its batches from the same generator, after the
    permutation. The validation set gets one fixed draw (stream 2 before training);
    val_gain = MSE(noisy) / MSE(denoised) on it.
    """

    train_columns = ()
    validation_columns = ("val_gain",)

    def __init__(self, objects: torch.Tensor, val_objects: torch.Tensor, *,
                 sigma_ranges: SigmaRanges = ((0.0, 55.0),), scale: float = 255.0) -> None:
        _check_objects(objects, "objects")
        _check_objects(val_objects, "val_objects")
        self.ranges = _check_ranges(sigma_ranges)
        if not scale > 0:
            raise ValueError(f"scale must be > 0, got {scale}")
        self.scale = float(scale)
        self.size = len(objects)
        self.data = {"train": (objects,), "validation": (val_objects,)}
        self.settings = {"sigma_ranges": self.ranges.tolist(), "scale": self.scale}

    def prepare(self, device: torch.device, streams: Streams) -> None:
        """Move the objects to ``device``; draw the validation pairs there."""
        self.device = device
        self.objects = self.data["train"][0].to(device, torch.complex64)
        self.val_noisy, self.val_clean = _noisy_pairs(
            self.data["validation"][0].to(device, torch.complex64), self.ranges, self.scale,
            streams(2, device))
        noise = torch.view_as_real((self.val_noisy - self.val_clean) / self.scale)
        self.val_noisy_mse = noise.square().mean().item()

    def batches(self, streams: Streams, batch_size: int
                ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(noisy, clean) (B, n, n) complex64 on the 0..scale scale."""
        generator = streams(0, self.device)
        order = torch.randperm(self.size, generator=generator, device=self.device)
        for index in order.split(batch_size):
            yield _noisy_pairs(self.objects[index], self.ranges, self.scale, generator)

    def loss(self, model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]
             ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return _loss(model, *batch, self.scale), {}

    def validate(self, model: nn.Module, batch_size: int, autocast: Autocast
                 ) -> tuple[float, dict[str, float]]:
        with autocast():
            val_loss = sum(_loss(model, noisy, clean, self.scale).item() * len(noisy)
                           for noisy, clean in zip(self.val_noisy.split(batch_size),
                                                   self.val_clean.split(batch_size)))
        val_loss /= len(self.val_noisy)
        return val_loss, {"val_gain": self.val_noisy_mse / val_loss}


#: The columns of the denoiser's ``history.csv``.
HISTORY_COLUMNS = history_columns(DenoisingTask)


def train_denoiser(model: nn.Module, objects: torch.Tensor, val_objects: torch.Tensor, *,
                   sigma_ranges: SigmaRanges = ((0.0, 55.0),), scale: float = 255.0,
                   amp: bool = False, **options: Any) -> dict[str, Any]:
    """Train a blind denoiser (e.g. :class:`prbench.nets.DnCNN`) on a :class:`DenoisingTask`.

    The data and noise arguments are :class:`DenoisingTask`'s; the learning rate
    decays on a cosine per step (:class:`prbench.train.loop.Cosine`); float32
    unless ``amp``; ``options`` are :func:`prbench.train.loop.fit`'s (epochs,
    batch_size, lr, seed, device, out_dir, time_limit_s, ...). Returns fit's
    summary plus the final ``val_gain``.
    """
    task = DenoisingTask(objects, val_objects, sigma_ranges=sigma_ranges, scale=scale)
    summary = fit(model, task, schedule=Cosine(), amp=amp, **options)
    history = summary["history"]
    return {**summary, "val_gain": history[-1]["val_gain"] if history else math.nan}


def denoiser_gain(model: nn.Module, objects: torch.Tensor, sigma: float, *, seed: int = 0,
                  scale: float = 255.0, batch_size: int = 256) -> float:
    """MSE(noisy) / MSE(denoised) of ``scale * objects`` with complex noise of std ``sigma``.

    objects: (N, n, n) complex on [0, 1]; sigma on the 0..scale scale; noise drawn
    from ``seed`` on the model's device; the model runs in eval mode (mode restored).
    """
    _check_objects(objects, "objects")
    device = next(model.parameters()).device
    clean = scale * objects.to(device, torch.complex64)
    noisy = add_noise(clean, float(sigma), torch.Generator(device=device).manual_seed(seed))
    was_training = model.training
    model.eval()
    with torch.no_grad():
        denoised = torch.cat([apply_denoiser(model, chunk, scale)
                              for chunk in noisy.split(batch_size)])
    model.train(was_training)
    return ((noisy - clean).abs().square().mean() / (denoised - clean).abs().square().mean()).item()
