"""The one training loop of prbench's networks: the U-Net initialisers and the DnCNN denoiser.

What differs between them is a *task* (:class:`TrainingTask`): the data, how an
epoch's batches are drawn, the batch loss and the validation metrics
(:class:`prbench.train.initialiser.InitialiserTask`,
:class:`prbench.train.denoiser.DenoisingTask`). Everything else is here, once:
AdamW with a per-step learning-rate schedule (:class:`OneCycle`, :class:`Cosine`),
per-epoch seeded generators, autocast (+ GradScaler for float16) on CUDA,
validation, the best-validation weights, per-epoch history, a fingerprinted
checkpoint after every epoch with exact resume (:mod:`prbench.train.checkpoint`),
a time limit and progress lines on stderr.

Threads: the library never calls ``torch.set_num_threads``; configure it in the
caller (e.g. from the Snakemake rule's ``threads``).

pandas is imported lazily (by :func:`read_history`), so that the reconstruction jobs,
which import this package for prediction and read no history, start without it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch
from torch import nn

from ..devices import select_device
from ..io import CorruptFileError, check_ranges, read_csv
from .checkpoint import TrainingCheckpoint, fingerprint, write_final_outputs

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Cosine", "OneCycle", "Streams", "TrainingTask", "epoch_streams", "fit",
           "history_columns", "read_history", "seeded_generator"]

#: ``streams(k, device)``: the generator of stream k of one epoch, on ``device``.
Streams = Callable[[int, torch.device], torch.Generator]
#: ``autocast()``: the loop's autocast context (disabled unless AMP runs on CUDA).
Autocast = Callable[[], contextlib.AbstractContextManager]


def seeded_generator(seed: int, epoch: int, stream: int,
                     device: torch.device | str = "cpu") -> torch.Generator:
    """A generator on ``device`` seeded from the key (seed, epoch, stream).

    numpy's SeedSequence turns the key into a 64-bit seed, so that different keys
    give independent streams.
    """
    state = np.random.SeedSequence([seed, epoch, stream]).generate_state(2, dtype=np.uint32)
    return torch.Generator(device=device).manual_seed(int(state[0]) << 32 | int(state[1]))


def epoch_streams(seed: int, epoch: int) -> Streams:
    """The generators of one epoch (epoch 0: before training): ``streams(k, device)`` is
    :func:`seeded_generator` (seed, epoch, k) on ``device``, made on first use and the
    same object afterwards, so that a stream continues where it stopped."""
    made: dict[tuple[int, torch.device], torch.Generator] = {}

    def streams(stream: int, device: torch.device) -> torch.Generator:
        key = (stream, torch.device(device))
        if key not in made:
            made[key] = seeded_generator(seed, epoch, stream, key[1])
        return made[key]

    return streams


class TrainingTask(Protocol):
    """What one kind of network learns from; :func:`fit` does the rest.

    data: named groups of tensors the task learns from (fingerprinted);
    settings: every task option that changes the result (JSON-able, fingerprinted);
    size: training examples per epoch; train_columns: history columns the task
    adds after ``train_loss`` (from :meth:`loss`), validation_columns: those after
    ``val_loss`` (from :meth:`validate`).
    """

    data: dict[str, tuple[torch.Tensor, ...]]
    settings: dict[str, Any]
    size: int
    train_columns: tuple[str, ...]
    validation_columns: tuple[str, ...]

    def prepare(self, device: torch.device, streams: Streams) -> None:
        """Move what the task needs to ``device``; fixed random draws come from ``streams``
        (epoch 0's)."""

    def batches(self, streams: Streams, batch_size: int) -> Iterator[tuple[torch.Tensor, ...]]:
        """One epoch's batches, shuffled and augmented with ``streams`` (the epoch's); the
        first tensor of a batch has one row per example."""

    def loss(self, model: nn.Module, batch: tuple[torch.Tensor, ...]
             ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(scalar batch loss to minimise, {train column: scalar} for those computed)."""

    def validate(self, model: nn.Module, batch_size: int, autocast: Autocast
                 ) -> tuple[float, dict[str, float]]:
        """(validation loss, {validation column: value}); run in eval mode without grad,
        the model's forward passes under ``autocast()``."""


def history_columns(task: TrainingTask | type[TrainingTask]) -> tuple[str, ...]:
    """The columns of ``history.csv`` for a task: the loop's and the task's."""
    return ("epoch", "train_loss", *task.train_columns, "val_loss", *task.validation_columns,
            "lr", "seconds", "images_per_s")


def read_history(path: str | Path, *, columns: Sequence[str], epochs: int,
                 produced_by: str) -> pd.DataFrame:
    """A ``history.csv`` written by :func:`fit` (via rule ``produced_by``), checked: the
    header ``columns``, one row per epoch 1..epochs and finite losses, learning rates and
    times; otherwise :class:`prbench.io.CorruptFileError` naming the file."""
    import pandas as pd

    history = read_csv(path, columns=columns, produced_by=produced_by)
    if pd.to_numeric(history["epoch"], errors="coerce").tolist() != list(range(1, epochs + 1)):
        raise CorruptFileError.for_file(path, f"epochs {history['epoch'].tolist()}, the run "
                                        f"planned 1..{epochs}", produced_by=produced_by)
    check_ranges(path, history, {"train_loss": (-math.inf, math.inf),
                                 "val_loss": (-math.inf, math.inf), "lr": (0.0, math.inf),
                                 "seconds": (0.0, math.inf)}, produced_by=produced_by)
    return history


@dataclasses.dataclass(frozen=True)
class OneCycle:
    """One-cycle learning rate per step: from lr / 25 up to lr over ``warmup_fraction`` of
    all steps, then down to lr / 25 / ``final_div_factor`` (default lr / 2.5e5; inf: 0;
    1 / 25: lr again, i.e. constant after the warm-up), both along half cosines (torch's
    OneCycleLR with anneal_strategy="cos", momentum not cycled)."""

    warmup_fraction: float = 0.05
    final_div_factor: float = 1e4

    def build(self, optimizer: torch.optim.Optimizer, lr: float,
              total_steps: int) -> torch.optim.lr_scheduler.LRScheduler:
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=lr, total_steps=total_steps, pct_start=self.warmup_fraction,
            anneal_strategy="cos", cycle_momentum=False, final_div_factor=self.final_div_factor)


@dataclasses.dataclass(frozen=True)
class Cosine:
    """Cosine decay per step from lr to 0 over all steps (torch's CosineAnnealingLR)."""

    def build(self, optimizer: torch.optim.Optimizer, lr: float,
              total_steps: int) -> torch.optim.lr_scheduler.LRScheduler:
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, total_steps)


Schedule = OneCycle | Cosine


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


def _rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict[str, torch.Tensor], device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)


def _train_pass(model: nn.Module, task: TrainingTask,
                batches: Iterator[tuple[torch.Tensor, ...]],
                optimise: Callable[[torch.Tensor], None], autocast: Autocast, report: _Progress,
                label: str, steps: int) -> tuple[int, dict[str, float]]:
    """One epoch of training: each batch's loss under ``autocast()``, then ``optimise(loss)``.

    Returns (examples seen, {"train_loss" and each task term computed: its mean over
    the examples}).
    """
    sums: dict[str, torch.Tensor] = {}
    seen = 0
    for step, batch in enumerate(batches, 1):
        with autocast():
            loss, terms = task.loss(model, batch)
        optimise(loss)
        count = len(batch[0])
        for column, value in {"train_loss": loss, **terms}.items():
            sums[column] = sums.get(column, 0) + value.detach() * count
        seen += count
        if report.due():
            report.update(f"{label} [{step}/{steps}] loss {sums['train_loss'].item() / seen:.4g}")
    return seen, {column: total.item() / seen for column, total in sums.items()}


def fit(model: nn.Module, task: TrainingTask, *, epochs: int = 10, batch_size: int = 64,
        lr: float = 1e-3, weight_decay: float = 1e-4, seed: int = 0,
        schedule: Schedule = OneCycle(), device: str | torch.device = "auto",
        out_dir: str | Path, resume: bool = True, amp: bool = False, progress: bool = True,
        time_limit_s: float | None = None) -> dict[str, Any]:
    """Train ``model`` on ``task`` for ``epochs`` epochs of ``batch_size`` examples.

    AdamW(lr, weight_decay), the learning rate following ``schedule`` per step.
    With ``amp``: bfloat16 autocast on the CPU or a CUDA device (float16 + GradScaler
    on a GPU without bf16); the losses' FFTs stay float32. ``seed`` seeds the global RNG once at the start (e.g.
    the Jacobian projections); shuffling and augmentation use the generators of
    :func:`epoch_streams` (seed, epoch). Seed the model's initialisation yourself
    (``torch.manual_seed`` before building it).

    Checkpointing (:mod:`prbench.train.checkpoint`): after every epoch the whole
    state goes atomically to ``out_dir/last.pt`` with a fingerprint of the task's
    data and settings, every setting above, the network and the package versions.
    With ``resume``, a ``last.pt`` of the same fingerprint is continued exactly
    where it stopped; any other is ignored (training starts from scratch, logged
    on the ``prbench.train`` logger). When all epochs are done, ``best.pt`` (the
    weights of the lowest val_loss, with the network's class name, constructor
    arguments and the fingerprint; :func:`prbench.nets.load_network`) and
    ``history.csv`` (:func:`history_columns`) are written once, atomically, and
    ``last.pt`` is removed. ``time_limit_s``: stop (resumably, without final
    outputs) after the first epoch that ends past this many seconds of this call.
    The model keeps the last epoch's weights. ``progress``: lines on stderr.

    Returns a JSON-able summary: device, amp_dtype, epochs, epochs_completed,
    epochs_trained (in this call), resumed_from (epoch or 0), finished,
    global_step, best_epoch, best_val_loss, history (list of row dicts), seconds
    and the paths of last.pt, best.pt and history.csv.
    """
    if epochs < 1 or batch_size < 1 or not lr > 0:
        raise ValueError(f"need epochs >= 1, batch_size >= 1, lr > 0; got {epochs}, "
                         f"{batch_size}, {lr}")
    started = time.perf_counter()
    device = select_device(device)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    amp_dtype = None if not amp else torch.float16 if (
        device.type == "cuda" and not torch.cuda.is_bf16_supported()) else torch.bfloat16
    settings = {"task": type(task).__name__, **task.settings, "epochs": epochs,
                "batch_size": batch_size, "lr": float(lr), "weight_decay": float(weight_decay),
                "seed": seed, "schedule": {"name": type(schedule).__name__,
                                           **dataclasses.asdict(schedule)},
                "device": device.type, "amp_dtype": str(amp_dtype)}
    checkpoint = TrainingCheckpoint(out / "last.pt", fingerprint(
        data=task.data, settings=settings, network=model))
    task.prepare(device, epoch_streams(seed, 0))
    steps_per_epoch = math.ceil(task.size / batch_size)

    model.to(device).train()
    if device.type == "cuda":  # tensor cores; on the CPU, bf16 convolutions are slower so
        model.to(memory_format=torch.channels_last)  # (benchmarks/bench_training.py)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    scheduler = schedule.build(optimizer, lr, epochs * steps_per_epoch)
    autocast = functools.partial(torch.autocast, device_type=device.type, dtype=amp_dtype,
                                 enabled=amp)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)

    def optimise(loss: torch.Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        state["step"] += 1

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
        seen, means = _train_pass(model, task, task.batches(epoch_streams(seed, epoch), batch_size),
                                  optimise, autocast, report, f"epoch {epoch}/{epochs}",
                                  steps_per_epoch)
        train_loss = means["train_loss"]
        if not math.isfinite(train_loss):
            raise FloatingPointError(f"non-finite training loss in epoch {epoch}; lower lr "
                                     "(or a loss weight)")
        train_seconds = time.perf_counter() - epoch_start
        model.eval()
        with torch.no_grad():
            val_loss, metrics = task.validate(model, batch_size, autocast)
        model.train()
        row = {"epoch": epoch, "train_loss": train_loss,
               **{column: means.get(column, math.nan) for column in task.train_columns},
               "val_loss": val_loss, **metrics, "lr": scheduler.get_last_lr()[0],
               "seconds": time.perf_counter() - epoch_start, "images_per_s": seen / train_seconds}
        state.update(epoch=epoch, history=state["history"] + [row])
        if val_loss < state["best_val_loss"]:
            state.update(best_val_loss=val_loss, best_epoch=epoch, best_model={
                key: value.detach().clone() for key, value in model.state_dict().items()})
        checkpoint.save({**state, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                         "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(),
                         "rng": _rng_state(device)})
        report.epoch(f"epoch {epoch}/{epochs}  train {train_loss:.4g}  val {val_loss:.4g}  "
                     + "".join(f"{name} {value:.4g}  " for name, value in metrics.items())
                     + f"lr {row['lr']:.3g}  {row['seconds']:.1f}s  "
                     f"{row['images_per_s']:.0f} img/s")
        if time_limit_s is not None and time.perf_counter() - started >= time_limit_s:
            break

    best_path, history_path = out / "best.pt", out / "history.csv"
    finished = state["epoch"] == epochs
    if finished:
        write_final_outputs(checkpoint, state, best_path, history_path, history_columns(task),
                            network=model)
    return {"device": str(device),
            "amp_dtype": str(amp_dtype).removeprefix("torch.") if amp_dtype else None,
            "epochs": epochs, "epochs_completed": state["epoch"],
            "epochs_trained": state["epoch"] - resumed_from, "resumed_from": resumed_from,
            "finished": finished, "global_step": state["step"],
            "best_epoch": state["best_epoch"], "best_val_loss": state["best_val_loss"],
            "history": state["history"], "seconds": time.perf_counter() - started,
            "last": str(checkpoint.path), "best": str(best_path),
            "history_csv": str(history_path)}
