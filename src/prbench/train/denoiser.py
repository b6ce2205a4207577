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

One code path for CPU and CUDA, float32, AdamW with a cosine learning-rate decay
per step. The whole state goes to a fingerprinted ``last.pt`` after every epoch
and an interrupted run of the same data and settings resumes exactly
(:mod:`prbench.train.checkpoint`, shared with the U-Net loop); once finished,
``best.pt`` (lowest validation loss) and ``history.csv`` are written once,
atomically, and ``last.pt`` is removed.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from ..devices import select_device
from ..nets.dncnn import apply_denoiser
from .checkpoint import TrainingCheckpoint, fingerprint, write_final_outputs

__all__ = ["HISTORY_COLUMNS", "train_denoiser", "denoiser_gain", "add_noise"]

HISTORY_COLUMNS = ("epoch", "train_loss", "val_loss", "val_gain", "lr", "seconds",
                   "images_per_s")
SigmaRanges = Sequence[tuple[float, float]]


def _generator(device: torch.device, *key: int) -> torch.Generator:
    """Generator on ``device`` seeded from the integer key (seed, epoch, stream)."""
    state = np.random.SeedSequence(list(key)).generate_state(2, dtype=np.uint32)
    return torch.Generator(device=device).manual_seed(int(state[0]) << 32 | int(state[1]))


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


def train_denoiser(model: nn.Module, objects: torch.Tensor, val_objects: torch.Tensor, *,
                   sigma_ranges: SigmaRanges = ((0.0, 55.0),), epochs: int = 10,
                   batch_size: int = 64, lr: float = 1e-3, weight_decay: float = 1e-4,
                   seed: int = 0, device: str | torch.device = "auto", out_dir: str | Path,
                   scale: float = 255.0, progress: bool = False, resume: bool = True,
                   time_limit_s: float | None = None) -> dict[str, Any]:
    """Train a blind denoiser (e.g. :class:`prbench.nets.DnCNN`); see the module docstring.

    objects, val_objects: (N, n, n) complex objects on [0, 1] (any device; moved to
    ``device``). sigma_ranges: noise-level ranges on the 0..``scale`` scale (prDeep
    trains one network per range; pass one range per call to do the same).
    The validation set gets one fixed draw of phases, sigmas and noise (from
    ``seed``); val_gain = MSE(noisy) / MSE(denoised) on it. Shuffling, phases,
    sigmas and noise come from generators seeded by (seed, epoch); seed the model's
    initialisation yourself. ``progress`` prints one line per epoch. ``resume``:
    continue a ``last.pt`` of the same fingerprint; ``time_limit_s``: stop
    (resumably, without final outputs) after the first epoch ending past it.

    Returns a JSON-able summary: device, epochs, epochs_trained (in this call),
    resumed_from, finished, best_epoch, best_val_loss, final val_gain, history
    (row dicts of :data:`HISTORY_COLUMNS`), seconds and the paths of best.pt,
    last.pt and history.csv. The model keeps the last weights.
    """
    _check_objects(objects, "objects")
    _check_objects(val_objects, "val_objects")
    ranges = _check_ranges(sigma_ranges)
    if epochs < 1 or batch_size < 1 or not lr > 0 or not scale > 0:
        raise ValueError(f"need epochs >= 1, batch_size >= 1, lr > 0, scale > 0; got "
                         f"{epochs}, {batch_size}, {lr}, {scale}")
    started = time.perf_counter()
    device = select_device(device)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    settings = {"sigma_ranges": ranges.tolist(), "epochs": epochs, "batch_size": batch_size,
                "lr": float(lr), "weight_decay": float(weight_decay), "seed": seed,
                "scale": float(scale), "device": device.type}
    checkpoint = TrainingCheckpoint(out / "last.pt", fingerprint(
        data={"train": (objects,), "validation": (val_objects,)}, settings=settings,
        network=model))
    train_x = objects.to(device, torch.complex64)
    val_noisy, val_clean = _noisy_pairs(val_objects.to(device, torch.complex64), ranges, scale,
                                        _generator(device, seed, 0, 2))
    val_noisy_mse = torch.view_as_real((val_noisy - val_clean) / scale).square().mean().item()
    steps_per_epoch = math.ceil(len(train_x) / batch_size)
    model.to(device, memory_format=torch.channels_last).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs * steps_per_epoch)
    state: dict[str, Any] = {"epoch": 0, "history": [], "best_val_loss": math.inf,
                             "best_epoch": 0}
    saved = checkpoint.resume() if resume else None
    if saved is not None:
        model.load_state_dict(saved.pop("model"))
        optimizer.load_state_dict(saved.pop("optimizer"))
        scheduler.load_state_dict(saved.pop("scheduler"))
        state = saved
    resumed_from = state["epoch"]
    while state["epoch"] < epochs:
        epoch = state["epoch"] + 1
        epoch_start = time.perf_counter()
        generator = _generator(device, seed, epoch, 0)
        order = torch.randperm(len(train_x), generator=generator, device=device)
        loss_sum = torch.zeros((), device=device)
        for index in order.split(batch_size):
            noisy, clean = _noisy_pairs(train_x[index], ranges, scale, generator)
            loss = _loss(model, noisy, clean, scale)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            loss_sum += loss.detach() * len(index)
        train_loss = loss_sum.item() / len(train_x)
        if not math.isfinite(train_loss):
            raise FloatingPointError(f"non-finite training loss in epoch {epoch}; lower lr")
        train_seconds = time.perf_counter() - epoch_start
        model.eval()
        with torch.no_grad():
            val_loss = sum(_loss(model, n, c, scale).item() * len(n) for n, c in
                           zip(val_noisy.split(batch_size), val_clean.split(batch_size)))
        val_loss /= len(val_noisy)
        model.train()
        row = {"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss,
               "val_gain": val_noisy_mse / val_loss, "lr": scheduler.get_last_lr()[0],
               "seconds": time.perf_counter() - epoch_start,
               "images_per_s": len(train_x) / train_seconds}
        state = {**state, "epoch": epoch, "history": state["history"] + [row]}
        if val_loss < state["best_val_loss"]:
            state.update(best_val_loss=val_loss, best_epoch=epoch, best_model={
                key: value.detach().clone() for key, value in model.state_dict().items()})
        checkpoint.save({**state, "model": model.state_dict(),
                         "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()})
        if progress:
            print(f"denoiser epoch {epoch}/{epochs}  train {train_loss:.4g}  val {val_loss:.4g}  "
                  f"gain {row['val_gain']:.2f}  {row['seconds']:.1f}s", flush=True)
        if time_limit_s is not None and time.perf_counter() - started >= time_limit_s:
            break
    best_path, history_path = out / "best.pt", out / "history.csv"
    finished = state["epoch"] == epochs
    if finished:
        write_final_outputs(checkpoint, state, best_path, history_path, HISTORY_COLUMNS,
                            network=model)
    history = state["history"]
    return {"device": str(device), "epochs": epochs, "epochs_trained": state["epoch"] - resumed_from,
            "resumed_from": resumed_from, "finished": finished, "best_epoch": state["best_epoch"],
            "best_val_loss": state["best_val_loss"],
            "val_gain": history[-1]["val_gain"] if history else math.nan, "history": history,
            "seconds": time.perf_counter() - started, "best": str(best_path),
            "last": str(checkpoint.path), "history_csv": str(history_path)}


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
