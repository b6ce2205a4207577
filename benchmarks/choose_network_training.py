"""Choose the U-Nets' training settings on validation data: layout, bf16, Jacobian weight, design.

Takes the default run's training split (:func:`prbench.data.validation.training_split`:
the ``--run`` folder's ``data/train.npz``, else the split synthesized as the workflow does
from config/config.yaml and its ``--scenario``; ``--train-size`` overrides its size, at
most 60,000), trains each named variant of the naive or passive U-Net with the config's
settings (its schema defaults filled in) overridden by the variant's, on its
non-validation part, with the workflow's own training stage (prbench.stages.train_unet:
its loop and seeds), and reports on its validation hold-out (its last
``training.validation_fraction``, :func:`prbench.data.validation.hold_out`), per variant:
the symmetric MSE of the outputs and the fraction of their energy in the frame's 2-pixel
border ring (``prbench.metrics.border_energy_fraction``;
the true objects' fraction is printed beside it) at the kept epoch (lowest validation
loss) and per epoch, the validation loss, and the median training throughput
(images/s, one torch thread per variant; variants run ``--jobs`` at a time, so compare
throughputs within one run). The kept network is then run on the first
``--metric-images`` validation images (``prbench.train.predict``, as the pipeline does):
its mean symmetric MSE there, that of the mean-object calibration (the mean of the
training part's objects predicted for every image), and the paired per-image
difference from the ``--baseline`` variant (mean ± 1.96 sd / sqrt(k)).

    python benchmarks/choose_network_training.py [--run DIR] [--scenario NAME]
        [--variants NAME ...] [--jobs 2]
        [--train-size N] [--metric-images 1000] [--baseline NAME] [--output FILE]

Variants: ``<objective>-<layout>-<precision>[-jac<weight>[x<samples>]][-fly]``, then
optionally, in this order, ``-intensity`` (fourier_loss), ``-sqrt`` (input_transform),
``-grid`` (output_domain), ``-cosine`` or ``-constant`` (lr_schedule), ``-w<first>[x<depth>]``
(widths first, 2 first, ... over depth levels, 4 by default) and ``-e<epochs>``; e.g.
``passive-corner-fp32`` (the old default), ``passive-centered-bf16-jac1e-4x8`` (Jacobian
penalty weight 1e-4 estimated on 8 images of each batch), ``-fly`` for fresh placements
every epoch, ``passive-corner-bf16-intensity-grid-cosine-w16x5-e12``. A setting without
its suffix takes the schema default (amplitude, log1p, frame, onecycle); widths and
epochs without theirs, the config's. With ``--refine-images N`` each network is also
scored as the pipeline uses it: ``<objective>_refined`` on the first N validation images
over the config's support-selection grid (the best grid point's mean and median
symmetric MSE). ``--trained NAME=DIR`` takes a variant's network already trained (its
``best.pt`` and ``history.csv`` in DIR, e.g. a workflow run's ``models/passive`` on the
same split) instead of training it again. Recorded results:
benchmarks/results/network_training.md (input layout, precision, Jacobian weight at 6,000
images), benchmarks/results/input_layout.md (the layouts, refined),
benchmarks/results/network_design.md and network_layout_schedule.md (the paper's design
choices, capacity, layout and schedule at 24,000 images).
"""

from __future__ import annotations

import math
import multiprocessing
import re
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml
from snakemake.utils import validate

from prbench import stages, support_selection
from prbench.data import synth
from prbench.metrics import border_energy_fraction, symmetric_mse
from prbench.nets import load_network
from prbench.train import predict
from prbench.data.validation import ValidationImages, hold_out, scenario_of, training_split
from common import chooser_parser, paired_interval

ROOT = Path(__file__).resolve().parents[1]
VARIANT = re.compile(r"(naive|passive|canonical|invariant)-(corner|centered)-(fp32|bf16)"
                     r"(?:-jac(\d+(?:\.\d*)?(?:e-?\d+)?)(?:x(\d+))?)?(-fly)?"
                     r"(-intensity)?(-sqrt)?(-grid)?(?:-(cosine|constant))?"
                     r"(?:-w(\d+)(?:x(\d+))?)?(?:-e(\d+))?$")
DEFAULT_VARIANTS = ["passive-corner-fp32", "passive-centered-fp32", "passive-centered-bf16",
                    "naive-corner-fp32", "naive-centered-bf16"]
#: U-Nets' depth (levels) of a ``-w<first>`` suffix without ``x<depth>``.
DEFAULT_DEPTH = 4


def parse_variant(name: str) -> dict:
    """The training settings a variant name stands for (see the module docstring)."""
    match = VARIANT.match(name)
    if not match:
        raise ValueError(f"variant {name!r} does not read as {VARIANT.pattern}")
    (objective, layout, precision, weight, samples, fly, intensity, sqrt, grid, schedule,
     first, depth, epochs) = match.groups()
    if objective != "passive" and (weight or intensity or grid):
        raise ValueError(f"variant {name!r}: a supervised objective takes no Jacobian "
                         "penalty, intensity loss or grid output")
    settings = {"objective": objective, "input_layout": layout, "amp": precision == "bf16",
                "jacobian_weight": float(weight or 0.0),
                "jacobian_samples": int(samples) if samples else None, "on_the_fly": bool(fly),
                "fourier_loss": "intensity" if intensity else "amplitude",
                "input_transform": "sqrt" if sqrt else "log1p",
                "output_domain": "grid" if grid else "frame",
                "lr_schedule": schedule or "onecycle"}
    if first:
        settings["widths"] = [int(first) * 2**level
                              for level in range(int(depth) if depth else DEFAULT_DEPTH)]
    if epochs:
        settings["epochs"] = int(epochs)
    return settings


def refined_error(method: str, network: torch.nn.Module, held: ValidationImages,
                  config: dict) -> tuple[float, float, dict]:
    """``method`` (``<model>_refined``) from ``network``'s output on the validation images
    ``held``, over the config's support-selection grid: the (mean, median) symmetric MSE at
    the grid point of lowest mean, and that point."""
    output = predict(network, torch.from_numpy(held.y), device="cpu")
    grid = config["reconstruction"]["support_selection"]
    selection = support_selection.select(
        method, held.x, held.y, held.indices, config["reconstruction"]["methods"][method],
        output, sigmas=grid["sigma"], thresholds=grid["threshold"], seed=config["seed"],
        geometry=held.geometry, device="cpu")
    best = selection.curve.iloc[int(np.argmin(selection.curve["mean_mse"].to_numpy()))]
    return float(best["mean_mse"]), float(best["median_mse"]), selection.choice


def train_variant(job: tuple[str, dict, Path, Path, int, int, Path | None]) -> dict:
    """Train one variant in this process (one torch thread) with the workflow's training
    stage (:func:`prbench.stages.train_unet`, the variant's settings over the config's) on
    the split saved at ``train_set``, or take it from ``trained`` (a folder with its
    best.pt and history.csv; seconds NaN); its history, kept epoch and seconds, the per-image
    symmetric MSE of the kept network's outputs on the first ``metric_images``
    validation images, and with ``refine_images`` > 0 its refined validation error
    (:func:`refined_error`)."""
    name, config, fashion, train_set, metric_images, refine_images, trained = job
    torch.set_num_threads(1)
    variant = parse_variant(name)
    objective = variant.pop("objective")
    data = synth.load(train_set)
    fraction = config["training"]["validation_fraction"]
    with tempfile.TemporaryDirectory() as folder:
        folder, seconds = Path(trained or folder), math.nan
        if trained is None:
            start = time.perf_counter()
            # A U-Net the config does not train takes the naive one's settings.
            models = config["training"]["models"]
            stages.train_unet(model=objective, train_set=train_set, fashion=fashion,
                              settings={**models.get(objective, models["naive"]), **variant},
                              validation_fraction=config["training"]["validation_fraction"],
                              seed=config["seed"], device="cpu", best=folder / "best.pt",
                              history=folder / "history.csv", curves=folder / "curves.png")
            seconds = time.perf_counter() - start
        kept = load_network(folder / "best.pt", produced_by="this benchmark")
        history = pd.read_csv(folder / "history.csv")
    truth = border_energy_fraction(torch.from_numpy(hold_out(data, fraction).x[:256]))
    scored = hold_out(data, fraction, metric_images)
    output = predict(kept, torch.from_numpy(scored.y), device="cpu")
    result = {"name": name, "history": history.to_dict("records"),
              "best_epoch": int(history.loc[history["val_loss"].idxmin(), "epoch"]),
              "seconds": seconds, "truth_border": truth.mean().item(),
              "errors": symmetric_mse(torch.from_numpy(scored.x), output,
                                      data.geometry).numpy()}
    if refine_images:
        result["refined"] = refined_error(f"{objective}_refined", kept,
                                          hold_out(data, fraction, refine_images), config)
    print(f"{name}: done in {seconds:.0f} s", flush=True)
    return result


def mean_object_errors(data: synth.SynthesizedSet, held: ValidationImages) -> np.ndarray:
    """Per-image symmetric MSE of the mean-object calibration (as the pipeline's
    ``mean_object`` method predicts: the mean of the objects, here of the training part)
    on the validation images ``held`` of ``data``."""
    mean = torch.from_numpy(data.x[:held.training_size]).mean(dim=0)
    truth = torch.from_numpy(held.x)
    return symmetric_mse(truth, mean.expand_as(truth), held.geometry).numpy()


def _seconds(seconds: float) -> str:
    """Training seconds, or "trained before" for a network taken with --trained."""
    return "trained before" if math.isnan(seconds) else f"{seconds:.0f}"


def report(results: list[dict], config: dict, split: str, jobs: int, command: str,
           baseline: str, calibration: np.ndarray) -> str:
    """Markdown tables of the variants' validation results."""
    first = results[0]
    base = next(result for result in results if result["name"] == baseline)["errors"]
    k = len(base)
    lines = [f"Command: `{command}`", "",
             f"Training split: {split} (validation hold-out: the last "
             f"{config['training']['validation_fraction']:.0%}; history metrics on its first "
             f"256); {jobs} variant(s) at a time, one torch thread each. True objects' "
             f"border-ring energy fraction: {first['truth_border']:.4f}. The kept networks "
             f"(predict) and the mean-object calibration (the mean of the training part's "
             f"objects for every image) on the first {k} validation images: their mean "
             f"symmetric MSE, and the paired per-image difference from {baseline} (mean ± "
             f"1.96 sd / sqrt({k})). The val loss is each variant's own data term "
             f"(amplitude or intensity misfit, or the naive loss).", "",
             f"| variant | kept epoch | val sym. MSE | val border fraction | val loss | "
             f"median img/s | train s | sym. MSE, {k} images | Δ vs {baseline} | "
             "refined: mean / median val MSE (σ, threshold) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for result in results:
        kept = result["history"][result["best_epoch"] - 1]
        speed = statistics.median(row["images_per_s"] for row in result["history"])
        refined = "—"
        if "refined" in result:
            mean, median, choice = result["refined"]
            refined = f"{mean:.4f} / {median:.4f} ({choice['sigma']:g}, {choice['threshold']:g})"
        paired = ("—" if result["name"] == baseline
                  else paired_interval(result["errors"] - base))
        lines.append(f"| {result['name']} | {result['best_epoch']} | "
                     f"{kept['val_symmetric_mse']:.4f} | {kept['val_border_fraction']:.4f} | "
                     f"{kept['val_loss']:.4f} | {speed:.0f} | {_seconds(result['seconds'])} | "
                     f"{result['errors'].mean():.4f} | {paired} | {refined} |")
    lines.append(f"| mean training object (calibration) | | | | | | | "
                 f"{calibration.mean():.4f} | {paired_interval(calibration - base)} | |")
    epochs = max(len(result["history"]) for result in results)
    lines += ["", "Per epoch: val sym. MSE / val border fraction / train Jacobian estimate", "",
              "| variant | " + " | ".join(f"epoch {epoch}" for epoch in range(1, epochs + 1))
              + " |", "| --- |" + " ---: |" * epochs]
    for result in results:
        cells = []
        for row in result["history"]:
            jacobian = row["train_jacobian"]
            cells.append(f"{row['val_symmetric_mse']:.3f} / {row['val_border_fraction']:.3f}"
                         + ("" if math.isnan(jacobian) else f" / {jacobian:.3g}"))
        cells += [""] * (epochs - len(cells))
        lines.append(f"| {result['name']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = chooser_parser(__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=DEFAULT_VARIANTS)
    parser.add_argument("--baseline", help="variant the others are paired with (default: "
                        "the first)")
    parser.add_argument("--jobs", type=int, default=2, help="variants trained at once")
    parser.add_argument("--train-size", type=int,
                        help="override synthesis.train_size of the config (at most 60000)")
    parser.add_argument("--metric-images", type=int, default=1000,
                        help="validation images the kept networks are scored on (at most "
                        "the hold-out's size)")
    parser.add_argument("--refine-images", type=int, default=0,
                        help="also refine this many validation images from each network")
    parser.add_argument("--trained", nargs="+", default=[], metavar="NAME=DIR",
                        help="take variant NAME's network from DIR (best.pt, history.csv) "
                        "instead of training it: it must have been trained on this split")
    args = parser.parse_args()
    command = shlex.join(["python", *sys.argv])
    for name in args.variants:
        parse_variant(name)
    if args.metric_images < 1:
        parser.error("--metric-images must be >= 1")
    trained = dict(item.split("=", 1) for item in args.trained)
    unknown = sorted(set(trained) - set(args.variants))
    if unknown:
        parser.error(f"--trained names {unknown}, which are not among the --variants")
    trained = {name: Path(folder) for name, folder in trained.items()}
    baseline = args.baseline or args.variants[0]
    if baseline not in args.variants:
        parser.error(f"--baseline {baseline} is not one of the --variants")
    config = yaml.safe_load(args.config.read_text())
    scenario = scenario_of(config, args.scenario, args.run)
    if args.train_size is not None:
        config["synthesis"]["train_size"] = args.train_size
        if "train_size" in (config["scenarios"][scenario] or {}):
            config["scenarios"][scenario]["train_size"] = args.train_size
    validate(config, str(ROOT / "workflow" / "schemas" / "config.schema.yaml"))  # its defaults
    data, origin = training_split(config, scenario=scenario, run=args.run, fashion=args.fashion)
    fraction = config["training"]["validation_fraction"]
    metric_images = min(args.metric_images, hold_out(data, fraction).held_out)
    calibration = mean_object_errors(data, hold_out(data, fraction, metric_images))
    split = f"{origin}, config {args.config.name}, {len(data.x)} images"
    with tempfile.TemporaryDirectory() as folder:
        train_set = Path(folder) / "train.npz"
        data.save(train_set)
        del data  # each variant's process loads the saved split
        jobs = [(name, config, args.fashion, train_set, metric_images, args.refine_images,
                 trained.get(name)) for name in args.variants]
        results = []
        with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
            # As variants finish, the record so far (once the baseline is in) is written.
            for result in pool.imap_unordered(train_variant, jobs, chunksize=1):
                results.append(result)
                results.sort(key=lambda each: args.variants.index(each["name"]))
                if not any(each["name"] == baseline for each in results):
                    continue
                table = report(results, config, split, args.jobs, command,
                               baseline, calibration)
                if len(results) < len(jobs):
                    table += (f"\nPartial: {len(results)} of {len(jobs)} variants finished; "
                              "the others are still training.\n")
                if args.output:
                    args.output.write_text(table)
    print(table)


if __name__ == "__main__":
    main()
