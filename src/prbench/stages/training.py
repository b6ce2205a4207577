"""Training stages: the U-Net initialisers and prDeep's denoiser."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from ..data import fashion_mnist, synth
from ..nets import DnCNN, UNet
from ..report import figures
from ..train import train
from ..train.denoiser import train_denoiser

__all__ = ["train_denoiser_network", "train_unet"]

_LOG = logging.getLogger(__package__)


def _given(settings: dict[str, Any], *keys: str) -> dict[str, Any]:
    """The ``keys`` that ``settings`` holds (the schema gives them no default)."""
    return {key: settings[key] for key in keys if key in settings}


def train_unet(*, model: str, train_set: str | Path, fashion: str | Path,
               settings: dict[str, Any], validation_fraction: float, seed: int, device: str,
               best: str | Path, history: str | Path, curves: str | Path) -> None:
    """Train the naive or passive U-Net (paper, Sec. 2.1) on the train split's
    non-validation part; ``settings``: the config's ``training.models.<model>`` with the
    schema's defaults filled in (input_transform, output_domain, fourier_loss and
    lr_schedule have none: absent, the library's defaults apply); ``best``/``history`` must lie in one folder (also the
    checkpoint's)."""
    data = synth.load(train_set)
    n_val = synth.validation_size(len(data.x), validation_fraction)
    x, y = torch.from_numpy(data.x), torch.from_numpy(data.y)
    if settings["on_the_fly"]:
        base = fashion_mnist.load(fashion)
        images = torch.from_numpy(base.train_images[data.base_index[:-n_val]]).float() / 255.0
        pairs, on_the_fly = None, images
    else:
        pairs, on_the_fly = (x[:-n_val], y[:-n_val]), None
    torch.manual_seed(seed)
    # Design options a config may leave out: the library's defaults then apply.
    network = UNet(widths=tuple(settings["widths"]), out_size=data.geometry.n,
                   input_layout=settings["input_layout"],
                   **_given(settings, "input_transform", "output_domain"))
    summary = train(
        network, pairs, (x[-n_val:], y[-n_val:]), objective=model,
        **_given(settings, "fourier_loss", "lr_schedule"),
        jacobian_weight=settings["jacobian_weight"],
        jacobian_samples=settings.get("jacobian_samples"), epochs=settings["epochs"],
        batch_size=settings["batch_size"], lr=settings["lr"],
        weight_decay=settings["weight_decay"], seed=seed, device=device,
        out_dir=Path(best).parent, on_the_fly=on_the_fly, amp=settings["amp"])
    _LOG.info("%s: trained %d epochs (resumed after epoch %d), best epoch %s, val loss %.4g, "
              "device %s", model, summary["epochs_trained"], summary["resumed_from"],
              summary["best_epoch"], summary["best_val_loss"], summary["device"])
    figures.save_figure(figures.training_curves({f"{model} U-Net": pd.read_csv(history)}),
                        [curves])


def train_denoiser_network(*, train_set: str | Path, settings: dict[str, Any],
                           validation_fraction: float, seed: int, device: str,
                           best: str | Path) -> None:
    """Train prDeep's DnCNN denoiser blind on the training objects (non-validation part)."""
    data = synth.load(train_set)
    n_val = synth.validation_size(len(data.x), validation_fraction)
    objects = torch.from_numpy(data.x)
    torch.manual_seed(seed)
    network = DnCNN(depth=settings["depth"], width=settings["width"])
    summary = train_denoiser(
        network, objects[:-n_val], objects[-n_val:],
        sigma_ranges=[tuple(bounds) for bounds in settings["sigma_ranges"]],
        epochs=settings["epochs"], batch_size=settings["batch_size"], lr=settings["lr"],
        seed=seed, device=device, out_dir=Path(best).parent)
    _LOG.info("denoiser: trained %d epochs (resumed after epoch %d), best epoch %s, "
              "validation gain %.2f, device %s", summary["epochs_trained"],
              summary["resumed_from"], summary["best_epoch"], summary["val_gain"],
              summary["device"])
