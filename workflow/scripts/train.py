"""Snakemake adapter: train one U-Net initialiser (naive or passive) on the train split."""

from pathlib import Path

import pandas as pd
import torch

from prbench.data import fashion_mnist, synth
from prbench.nets import UNet
from prbench.report import figures
from prbench.runlog import job_log
from prbench.train import train

with job_log(snakemake.log[0], "train") as log:  # noqa: F821
    torch.set_num_threads(snakemake.threads)  # noqa: F821
    params, output = snakemake.params, snakemake.output  # noqa: F821
    settings = params.settings
    data = synth.load(snakemake.input.train)  # noqa: F821
    n_val = synth.validation_size(len(data.x), params.validation_fraction)
    x, y = torch.from_numpy(data.x), torch.from_numpy(data.y)
    val_set = (x[-n_val:], y[-n_val:])
    if settings["on_the_fly"]:
        base = fashion_mnist.load(snakemake.input.base)  # noqa: F821
        images = torch.from_numpy(base.train_images[data.base_index[:-n_val]]).float() / 255.0
        train_set, on_the_fly = None, images
    else:
        train_set, on_the_fly = (x[:-n_val], y[:-n_val]), None
    torch.manual_seed(params.seed)
    model = UNet(widths=tuple(settings["widths"]), out_size=data.geometry.n)
    summary = train(
        model, train_set, val_set, objective=params.model,
        jacobian_weight=settings["jacobian_weight"], epochs=settings["epochs"],
        batch_size=settings["batch_size"], lr=settings["lr"],
        weight_decay=settings["weight_decay"], seed=params.seed, device=params.device,
        out_dir=Path(output.model).parent, on_the_fly=on_the_fly,
    )
    log.info("%s: trained %d epochs (resumed after epoch %d), best epoch %s, val loss %.4g, "
             "device %s", params.model, summary["epochs_trained"], summary["resumed_from"],
             summary["best_epoch"], summary["best_val_loss"], summary["device"])
    history = pd.read_csv(output.history)
    figures.save_figure(figures.training_curves({f"{params.model} U-Net": history}),
                        [output.curves])
