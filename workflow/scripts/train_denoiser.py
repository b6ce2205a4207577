"""Snakemake adapter: train the DnCNN denoiser of the prDeep baseline on the training objects."""

from pathlib import Path

import torch

from prbench.data import synth
from prbench.nets import DnCNN
from prbench.runlog import job_log
from prbench.train.denoiser import train_denoiser

with job_log(snakemake.log[0], "train_denoiser") as log:  # noqa: F821
    torch.set_num_threads(snakemake.threads)  # noqa: F821
    params, output = snakemake.params, snakemake.output  # noqa: F821
    settings = params.settings
    data = synth.load(snakemake.input.train)  # noqa: F821
    n_val = synth.validation_size(len(data.x), params.validation_fraction)
    objects = torch.from_numpy(data.x)
    torch.manual_seed(params.seed)
    model = DnCNN(depth=settings["depth"], width=settings["width"])
    summary = train_denoiser(
        model, objects[:-n_val], objects[-n_val:],
        sigma_ranges=[tuple(bounds) for bounds in settings["sigma_ranges"]],
        epochs=settings["epochs"], batch_size=settings["batch_size"], lr=settings["lr"],
        seed=params.seed, device=params.device, out_dir=Path(output.model).parent,
    )
    log.info("denoiser: trained %d epochs (resumed after epoch %d), best epoch %s, "
             "validation gain %.2f, device %s", summary["epochs_trained"],
             summary["resumed_from"], summary["best_epoch"], summary["val_gain"],
             summary["device"])
