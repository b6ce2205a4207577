"""Training and inference of the learned initialiser g_W: Y -> X (paper, Sec. 2.1, 3).

:class:`InitialiserTask` is a supervised or the passive objective (Eqs. 2.1-2.2) as a
task of the one training loop (:func:`prbench.train.loop.fit`); :func:`train`
runs it with one of the U-Nets' learning-rate schedules (:data:`LR_SCHEDULES`);
:func:`predict` applies a network.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ..data.synth import random_placement
from ..devices import select_device
from ..geometry import Geometry
from ..metrics import border_energy_fraction, brightest_window, symmetric_mse
from ..nets.unet import to_complex
from ..physics import forward
from . import losses
from .loop import Autocast, OneCycle, Streams, fit, history_columns

__all__ = ["HISTORY_COLUMNS", "LR_SCHEDULES", "METRIC_IMAGES", "InitialiserTask", "output_frame",
           "predict", "train"]

#: Validation images on which the symmetric MSE and border fraction are computed.
METRIC_IMAGES = 256
#: The U-Nets' learning-rate schedules, as :class:`prbench.train.loop.OneCycle`'s
#: final_div_factor: one warm-up from lr / 25 to lr, then a half cosine down to lr / 2.5e5
#: ("onecycle"), to 0 ("cosine") or to lr, i.e. constant ("constant").
LR_SCHEDULES = {"onecycle": 1e4, "cosine": math.inf, "constant": 1 / 25}


def output_frame(model: nn.Module, output: torch.Tensor) -> torch.Tensor:
    """The object frame (B, n, n) of a U-Net's complex output (B, h, w) (:func:`to_complex`):
    the output itself for ``model.output_domain == "frame"``; for ``"grid"``, its n x n
    circular window of largest energy (:func:`prbench.metrics.brightest_window`,
    n = ``model.out_size``)."""
    return output if model.output_domain == "frame" else brightest_window(output,
                                                                          model.out_size)


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


class InitialiserTask:
    """Learning g_W: Y -> X with a supervised or the passive objective (paper, Sec. 2.1).

    train_set, val_set: tuples (x (N, n, n) complex64, y (N, m, m) float32) of CPU
    tensors; the geometry (n, m) is read from val_set's shapes.
    on_the_fly: (N, h, w) real base images; then ``train_set`` must be None and
    each epoch draws fresh placements (:func:`prbench.data.synth.random_placement`,
    stream 1 of the epoch) and computes Y = |F pad(X, m)|^2 on the device.
    objective: "naive", "canonical" or "invariant" (supervised on X,
    :func:`prbench.train.losses.supervised_loss`) or "passive" (passive_loss with
    ``fourier_loss`` + jacobian_weight * ||J||_F^2 estimated with ``n_projections``
    projections on ``jacobian_samples`` images of each batch (None: all);
    :func:`prbench.train.losses.objective`). Shuffling: a DataLoader with stream 0
    of the epoch. History: train_jacobian (NaN when not computed),
    val_symmetric_mse (:func:`prbench.metrics.symmetric_mse`) and
    val_border_fraction (:func:`prbench.metrics.border_energy_fraction`, 2-pixel
    ring) of the outputs' frames (:func:`output_frame`) over the first ``metric_images``
    validation images; val_loss is the data term alone.
    """

    train_columns = ("train_jacobian",)
    validation_columns = ("val_symmetric_mse", "val_border_fraction")

    def __init__(self, train_set: tuple[torch.Tensor, torch.Tensor] | None,
                 val_set: tuple[torch.Tensor, torch.Tensor], *, objective: str = "passive",
                 fourier_loss: str = "amplitude", jacobian_weight: float = 0.0,
                 n_projections: int = 1, jacobian_samples: int | None = None,
                 on_the_fly: torch.Tensor | None = None,
                 metric_images: int = METRIC_IMAGES) -> None:
        if (on_the_fly is None) == (train_set is None):
            raise ValueError("give exactly one of train_set and on_the_fly")
        if objective not in losses.OBJECTIVES:
            raise ValueError(f"objective must be one of {losses.OBJECTIVES}, got {objective!r}")
        if fourier_loss not in losses.FOURIER_LOSSES:
            raise ValueError(f"fourier_loss must be one of {losses.FOURIER_LOSSES}, "
                             f"got {fourier_loss!r}")
        self.val_set = _check_pairs(val_set, "val_set")
        self.geometry = Geometry(self.val_set[0].shape[-1], self.val_set[1].shape[-1])
        if on_the_fly is not None:
            train_tensors = (on_the_fly,)
        else:
            train_tensors = _check_pairs(train_set, "train_set")
            for (x, y), name in ((train_tensors, "train_set"), (self.val_set, "val_set")):
                self.geometry.check_objects(x, f"{name} x")
                self.geometry.check_measurements(y, f"{name} y")
        self.on_the_fly = on_the_fly is not None
        self.train_data = TensorDataset(*train_tensors)
        self.size = len(self.train_data)
        self.data = {"train": train_tensors, "validation": self.val_set}
        self.objective = {"kind": objective, "fourier_loss": fourier_loss,
                          "jacobian_weight": float(jacobian_weight),
                          "n_projections": n_projections, "jacobian_samples": jacobian_samples}
        self.metric_images = metric_images
        self.settings = {**self.objective, "on_the_fly": self.on_the_fly,
                         "metric_images": metric_images}
        self.device = torch.device("cpu")

    def prepare(self, device: torch.device, streams: Streams) -> None:
        """The data stay on the CPU; batches move to ``device``."""
        self.device = device

    def batches(self, streams: Streams, batch_size: int
                ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(x (B, n, n) complex64, y (B, m, m) float32) on the device."""
        cpu = torch.device("cpu")
        loader = DataLoader(self.train_data, batch_size=batch_size, shuffle=True,
                            generator=streams(0, cpu))
        for batch in loader:
            if self.on_the_fly:
                x = random_placement(batch[0], self.geometry, generator=streams(1, cpu))[0]
                x = x.to(self.device, non_blocking=True)
                yield x, forward(x, self.geometry.m)
            else:
                yield tuple(t.to(self.device, non_blocking=True) for t in batch)

    def loss(self, model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]
             ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        terms = losses.objective(model, *batch, **self.objective)
        return terms.total, {} if terms.jacobian is None else {"train_jacobian": terms.jacobian}

    def validate(self, model: nn.Module, batch_size: int, autocast: Autocast
                 ) -> tuple[float, dict[str, float]]:
        """Mean data loss (no Jacobian penalty); mean symmetric MSE and border-ring
        energy fraction of the outputs' frames for the first ``metric_images`` validation
        images."""
        loss_sum, count, errors, borders = 0.0, 0, [], []
        for x, y in DataLoader(TensorDataset(*self.val_set), batch_size=batch_size):
            x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            with autocast():
                terms = losses.objective(model, x, y, kind=self.objective["kind"],
                                         fourier_loss=self.objective["fourier_loss"])
            loss_sum += terms.data.item() * x.shape[0]
            count += x.shape[0]
            scored = sum(e.numel() for e in errors)
            if scored < self.metric_images:
                keep = slice(0, self.metric_images - scored)
                frames = output_frame(model, terms.prediction[keep])
                errors.append(symmetric_mse(x[keep], frames, self.geometry).cpu())
                borders.append(border_energy_fraction(frames).cpu())
        return loss_sum / count, {
            "val_symmetric_mse": torch.cat(errors).mean().item() if errors else math.nan,
            "val_border_fraction": torch.cat(borders).mean().item() if borders else math.nan}


#: The columns of an initialiser's ``history.csv``.
HISTORY_COLUMNS = history_columns(InitialiserTask)


def train(model: nn.Module, train_set: tuple[torch.Tensor, torch.Tensor] | None,
          val_set: tuple[torch.Tensor, torch.Tensor], *, objective: str = "passive",
          fourier_loss: str = "amplitude", jacobian_weight: float = 0.0,
          n_projections: int = 1, jacobian_samples: int | None = None,
          on_the_fly: torch.Tensor | None = None, metric_images: int = METRIC_IMAGES,
          lr_schedule: str = "onecycle", warmup_fraction: float = 0.05,
          **options: Any) -> dict[str, Any]:
    """Train ``model`` (a :class:`prbench.nets.UNet`) on Y -> X; paper Sec. 2.1, Eq. (2.2).

    The data and objective arguments are :class:`InitialiserTask`'s; the learning
    rate follows ``lr_schedule`` (a key of :data:`LR_SCHEDULES`) with
    ``warmup_fraction``; ``options`` are :func:`prbench.train.loop.fit`'s (epochs,
    batch_size, lr, seed, device, out_dir, amp, time_limit_s, ...), whose summary
    this returns.
    """
    if lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {tuple(LR_SCHEDULES)}, "
                         f"got {lr_schedule!r}")
    task = InitialiserTask(train_set, val_set, objective=objective, fourier_loss=fourier_loss,
                           jacobian_weight=jacobian_weight, n_projections=n_projections,
                           jacobian_samples=jacobian_samples, on_the_fly=on_the_fly,
                           metric_images=metric_images)
    return fit(model, task, schedule=OneCycle(warmup_fraction, LR_SCHEDULES[lr_schedule]),
               **options)


def predict(model: nn.Module, y: torch.Tensor, batch_size: int = 256,
            device: str | torch.device = "auto") -> torch.Tensor:
    """Network reconstructions g(Y): y (B, m, m) intensities -> (B, n, n) complex64 on the CPU.

    The model (a :class:`prbench.nets.UNet`) makes its input (``model.network_input``)
    and reads its frame out of its output (:func:`output_frame`). Runs in float32 under
    ``torch.no_grad`` in eval mode (the model is moved to ``device`` and its train/eval
    mode restored afterwards).
    """
    device = select_device(device)
    was_training = model.training
    model.to(device).eval()
    y = torch.as_tensor(y)
    with torch.no_grad():
        chunks = [output_frame(model, to_complex(model(model.network_input(chunk.to(device)))))
                  .cpu() for chunk in y.split(batch_size)]
    model.train(was_training)
    return torch.cat(chunks)
