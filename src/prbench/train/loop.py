"""Training loop, on-the-fly data augmentation and inference for g_W (paper, Sec. 2.1, 3).

One code path for CPU and CUDA: AdamW with a one-cycle schedule (linear warm-up,
cosine decay), autocast + GradScaler only on CUDA, a fingerprinted checkpoint
after every epoch from which an interrupted run of the same data and settings
resumes exactly (:mod:`prbench.train.checkpoint`), and, once finished, the
best-validation weights in ``best.pt`` and per-epoch statistics in ``history.csv``.

Threads: the library never calls ``torch.set_num_threads``; configure it in the
caller (e.g. from the Snakemake rule's ``threads``).
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from ..data.synth import random_placement
from ..devices import select_device
from ..geometry import Geometry
from ..metrics import symmetric_mse
from ..nets.unet import normalize_measurements, to_complex
from ..physics import forward
from . import losses
from .checkpoint import TrainingCheckpoint, fingerprint, write_final_outputs

__all__ = ["HISTORY_COLUMNS", "train", "predict"]

HISTORY_COLUMNS = ("epoch", "train_loss", "train_jacobian", "val_loss", "val_symmetric_mse",
                   "lr", "seconds", "images_per_s")
_LAST, _BEST, _HISTORY = "last.pt", "best.pt", "history.csv"


def _epoch_generator(seed: int, epoch: int, stream: int) -> torch.Generator:
    """Independent CPU generator for (seed, epoch, stream): shuffling and placement."""
    state = np.random.SeedSequence([seed, epoch, stream]).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def _rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict[str, torch.Tensor], device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)


class _Progress:
    """Light progress reporting on stderr: a refreshed line on a terminal
    (every 0.5 s), a plain line every 60 s otherwise, one line per epoch."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.tty = enabled and sys.stderr.isatty()
        self.interval = 0.5 if self.tty else 60.0
        self.last = time.perf_counter()

    def due(self) -> bool:
        return self.enabled and time.perf_counter() - self.last >= self.interval

    def update(self, text: str) -> None:
        self.last = time.perf_counter()
        print(self._start() + text, end="" if self.tty else "\n", file=sys.stderr, flush=True)

    def epoch(self, text: str) -> None:
        if self.enabled:
            print(self._start() + text, file=sys.stderr, flush=True)

    def _start(self) -> str:
        return "\r\x1b[2K" if self.tty else ""  # on a terminal: overwrite the current line


def _check_pairs(data: tuple[torch.Tensor, ...], name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate an (x (N, n, n) complex, y (N, m, m) real) pair of tensors."""
    if (not isinstance(data, tuple) or len(data) != 2
            or not all(isinstance(t, torch.Tensor) for t in data)):
        raise TypeError(f"{name} must be a tuple (x, y) of tensors")
    x, y = data
    if x.ndim != 3 or y.ndim != 3 or len(x) != len(y) or len(x) == 0:
        raise ValueError(f"{name}: x {tuple(x.shape)} and y {tuple(y.shape)} must be non-empty "
                         "(N, n, n) and (N, m, m) stacks of equal N")
    return x, y


def _validate(model: torch.nn.Module, loader: DataLoader, *, kind: str, geometry: Geometry,
              device: torch.device, autocast: dict[str, Any], metric_images: int
              ) -> tuple[float, float]:
    """(mean data loss, mean symmetric MSE over the first ``metric_images``) of a val set."""
    model.eval()
    loss_sum, count, errors = 0.0, 0, []
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            with torch.autocast(**autocast):
                terms = losses.objective(model, x, y, kind=kind)
            loss_sum += terms.data.item() * x.shape[0]
            count += x.shape[0]
            scored = sum(e.numel() for e in errors)
            if scored < metric_images:
                keep = slice(0, metric_images - scored)
                errors.append(symmetric_mse(x[keep], terms.prediction[keep], geometry).cpu())
    model.train()
    return loss_sum / count, torch.cat(errors).mean().item() if errors else math.nan


def train(model: torch.nn.Module, train_set: tuple[torch.Tensor, torch.Tensor] | None,
          val_set: tuple[torch.Tensor, torch.Tensor], *, objective: str = "passive",
          jacobian_weight: float = 0.0, epochs: int = 10, batch_size: int = 64,
          lr: float = 1e-3, weight_decay: float = 1e-4, seed: int = 0,
          device: str | torch.device = "auto", out_dir: str | Path, resume: bool = True,
          on_the_fly: torch.Tensor | None = None, progress: bool = True,
          n_projections: int = 1, warmup_fraction: float = 0.05, amp: bool = True,
          metric_images: int = 256, time_limit_s: float | None = None) -> dict[str, Any]:
    """Train ``model`` (e.g. :class:`prbench.nets.UNet`) on Y -> X; paper Sec. 2.1, Eq. (2.2).

    train_set, val_set: tuples (x (N, n, n) complex64, y (N, m, m) float32) of
    tensors; the geometry (n, m) is read from val_set's shapes.
    on_the_fly: (N, h, w) real base images; then ``train_set`` must be None and
    each epoch draws fresh placements (:func:`prbench.data.synth.random_placement`) and computes
    Y = |F pad(X, m)|^2 on the device.
    objective: "naive" (naive_loss on X) or "passive" (passive_loss +
    jacobian_weight * ||J||_F^2 estimated with ``n_projections`` projections).

    AdamW(lr, weight_decay) with a one-cycle schedule per step (warm-up over
    ``warmup_fraction`` of all steps, cosine decay to lr / 2.5e5). With ``amp``
    and a CUDA device: bfloat16 autocast (float16 + GradScaler where bf16 is not
    supported); the FFT losses still run in float32. ``seed`` seeds the global
    RNG (Jacobian projections) once at the start; shuffling and placements use
    per-epoch generators derived from (seed, epoch). Seed the model's
    initialisation yourself (``torch.manual_seed`` before building it).

    Checkpointing (:mod:`prbench.train.checkpoint`): after every epoch the whole
    state goes atomically to ``out_dir/last.pt`` with a fingerprint of the data,
    every setting above, the network and the package versions. With ``resume``,
    a ``last.pt`` of the same fingerprint is continued exactly where it stopped;
    any other is ignored (training starts from scratch, logged on the
    ``prbench.train`` logger). When all epochs are done, ``best.pt`` (weights
    with the lowest val_loss, the data term without the Jacobian penalty; with the
    network's class name and constructor arguments for
    :func:`prbench.nets.load_network`, and the fingerprint) and ``history.csv`` (:data:`HISTORY_COLUMNS`; train_jacobian
    NaN when not computed, val_symmetric_mse over the first ``metric_images``
    val images) are written once, atomically, and ``last.pt`` is removed.
    ``time_limit_s``: stop (resumably, without final outputs) after the first
    epoch that ends past this many seconds of this call. The model keeps the
    last epoch's weights.

    Returns a JSON-able summary: device, amp_dtype, epochs_completed,
    epochs_trained (in this call), resumed_from (epoch or 0), finished,
    global_step, best_epoch, best_val_loss, history (list of row dicts) and the
    paths of last.pt, best.pt and history.csv.
    """
    if (on_the_fly is None) == (train_set is None):
        raise ValueError("give exactly one of train_set and on_the_fly")
    if objective not in losses.OBJECTIVES:
        raise ValueError(f"objective must be one of {losses.OBJECTIVES}, got {objective!r}")
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {epochs}, {batch_size}")
    val_x, val_y = _check_pairs(val_set, "val_set")
    geometry = Geometry(val_x.shape[-1], val_y.shape[-1])
    if on_the_fly is not None:
        train_data, train_tensors = TensorDataset(on_the_fly), (on_the_fly,)
    else:
        train_tensors = _check_pairs(train_set, "train_set")
        for tensors, name in ((train_tensors, "train_set"), ((val_x, val_y), "val_set")):
            geometry.check_objects(tensors[0], f"{name} x")
            geometry.check_measurements(tensors[1], f"{name} y")
        train_data = TensorDataset(*train_tensors)
    started = time.perf_counter()
    device = select_device(device)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    val_loader = DataLoader(TensorDataset(val_x, val_y), batch_size=batch_size)
    steps_per_epoch = math.ceil(len(train_data) / batch_size)

    use_amp = amp and device.type == "cuda"
    amp_dtype = (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16) \
        if use_amp else None
    settings = {"objective": objective, "jacobian_weight": float(jacobian_weight),
                "n_projections": n_projections, "epochs": epochs, "batch_size": batch_size,
                "lr": float(lr), "weight_decay": float(weight_decay), "seed": seed,
                "on_the_fly": on_the_fly is not None, "warmup_fraction": warmup_fraction,
                "metric_images": metric_images, "device": device.type,
                "amp_dtype": str(amp_dtype)}
    checkpoint = TrainingCheckpoint(out / _LAST, fingerprint(
        data={"train": train_tensors, "validation": (val_x, val_y)}, settings=settings,
        network=model))

    model.to(device, memory_format=torch.channels_last).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=epochs * steps_per_epoch, pct_start=warmup_fraction,
        anneal_strategy="cos", cycle_momentum=False)
    autocast = {"device_type": device.type, "dtype": amp_dtype, "enabled": use_amp}
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)

    state = {"epoch": 0, "step": 0, "history": [], "best_val_loss": math.inf, "best_epoch": 0}
    torch.manual_seed(seed)
    saved = checkpoint.resume() if resume else None
    if saved is not None:
        model.load_state_dict(saved.pop("model"))
        optimizer.load_state_dict(saved.pop("optimizer"))
        scheduler.load_state_dict(saved.pop("scheduler"))
        scaler.load_state_dict(saved.pop("scaler"))
        _set_rng_state(saved.pop("rng"), device)
        state = saved
    resumed_from = state["epoch"]

    report = _Progress(progress)
    while state["epoch"] < epochs:
        epoch = state["epoch"] + 1
        epoch_start = time.perf_counter()
        loader = DataLoader(train_data, batch_size=batch_size, shuffle=True,
                            generator=_epoch_generator(seed, epoch, 0))
        placement = _epoch_generator(seed, epoch, 1)
        loss_sum = torch.zeros((), device=device)
        jacobian_sum = torch.zeros((), device=device)
        seen = 0
        for batch_index, batch in enumerate(loader):
            if on_the_fly is not None:
                x = random_placement(batch[0], geometry, generator=placement)[0]
                x = x.to(device, non_blocking=True)
                y = forward(x, geometry.m)
            else:
                x, y = (t.to(device, non_blocking=True) for t in batch)
            with torch.autocast(**autocast):
                terms = losses.objective(model, x, y, kind=objective,
                                         jacobian_weight=jacobian_weight,
                                         n_projections=n_projections)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(terms.total).backward()
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            state["step"] += 1
            loss_sum += terms.total.detach() * x.shape[0]
            if terms.jacobian is not None:
                jacobian_sum += terms.jacobian.detach() * x.shape[0]
            seen += x.shape[0]
            if report.due():
                report.update(f"epoch {epoch}/{epochs} [{batch_index + 1}/{len(loader)}] "
                              f"loss {loss_sum.item() / seen:.4g}")
        train_loss = loss_sum.item() / seen
        if not math.isfinite(train_loss):
            raise FloatingPointError(f"non-finite training loss in epoch {epoch}; "
                                     "lower lr or jacobian_weight")
        train_seconds = time.perf_counter() - epoch_start
        val_loss, val_sym = _validate(model, val_loader, kind=objective, geometry=geometry,
                                      device=device, autocast=autocast,
                                      metric_images=metric_images)
        row = {"epoch": epoch, "train_loss": train_loss,
               "train_jacobian": jacobian_sum.item() / seen if jacobian_weight else math.nan,
               "val_loss": val_loss, "val_symmetric_mse": val_sym,
               "lr": scheduler.get_last_lr()[0],
               "seconds": time.perf_counter() - epoch_start, "images_per_s": seen / train_seconds}
        state = {**state, "epoch": epoch, "history": state["history"] + [row]}
        if val_loss < state["best_val_loss"]:
            state.update(best_val_loss=val_loss, best_epoch=epoch, best_model={
                key: value.detach().clone() for key, value in model.state_dict().items()})
        checkpoint.save({**state, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                         "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(),
                         "rng": _rng_state(device)})
        report.epoch(f"epoch {epoch}/{epochs}  train {train_loss:.4g}  val {val_loss:.4g}  "
                     f"sym-mse {val_sym:.4g}  lr {row['lr']:.3g}  {row['seconds']:.1f}s  "
                     f"{row['images_per_s']:.0f} img/s")
        if time_limit_s is not None and time.perf_counter() - started >= time_limit_s:
            break

    best_path, history_path = out / _BEST, out / _HISTORY
    finished = state["epoch"] == epochs
    if finished:
        write_final_outputs(checkpoint, state, best_path, history_path, HISTORY_COLUMNS,
                            network=model)
    return {"device": str(device), "amp_dtype": str(amp_dtype).removeprefix("torch.") if amp_dtype
            else None, "epochs_completed": state["epoch"],
            "epochs_trained": state["epoch"] - resumed_from, "resumed_from": resumed_from,
            "finished": finished, "global_step": state["step"],
            "best_epoch": state["best_epoch"], "best_val_loss": state["best_val_loss"],
            "history": state["history"], "last": str(checkpoint.path), "best": str(best_path),
            "history_csv": str(history_path)}


def predict(model: torch.nn.Module, y: torch.Tensor, batch_size: int = 256,
            device: str | torch.device = "auto") -> torch.Tensor:
    """Network reconstructions g(Y): y (B, m, m) intensities -> (B, n, n) complex64 on the CPU.

    Runs in float32 under ``torch.no_grad`` in eval mode (the model is moved to
    ``device`` and its train/eval mode restored afterwards).
    """
    device = select_device(device)
    was_training = model.training
    model.to(device).eval()
    y = torch.as_tensor(y)
    with torch.no_grad():
        chunks = [to_complex(model(normalize_measurements(chunk.to(device)))).cpu()
                  for chunk in y.split(batch_size)]
    model.train(was_training)
    return torch.cat(chunks)
