"""One function per workflow stage, each reading its input files and writing its outputs.

The Snakemake scripts in ``workflow/scripts/`` only pass a rule's files and params
to these functions (:func:`run` wraps each in the job's log and thread count), so
that every stage can be called and tested without Snakemake. Outputs are written
atomically; every result carries provenance (``repository``: the workflow's
checkout, whose git revision is recorded).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from . import methods, provenance, support_selection
from .data import fashion_mnist, synth
from .devices import select_device
from .geometry import Geometry
from .io import save_npz, write_json, write_text
from .machine import fingerprint
from .metrics import border_energy_fraction
from .nets import DnCNN, UNet
from .registry import METHODS, PAPER_TABLE1, SUPPORT_SELECTORS
from .report import figures, sweep, table
from .report import timings as timing
from .report.diagnostics import network_diagnostics
from .report.scores import load_aligned, read_scores, score_method
from .runlog import job_log
from .shards import load_shards, save_shard
from .train import read_network_history, train
from .train.initialiser import METRIC_IMAGES
from .train.denoiser import train_denoiser

__all__ = ["acquire", "diagnose_networks", "draw_figures", "make_table", "reconstruct_shard",
           "record_provenance", "run", "score", "select_support", "summarize_sweep",
           "support_table", "sweep_timings", "synthesize_split", "train_denoiser_network",
           "train_unet", "training_curves"]

_LOG = logging.getLogger("prbench.stages")


def run(stage: Callable[..., Any], *, log: str | Path, threads: int | None = None,
        **arguments: Any) -> Any:
    """Call ``stage(**arguments)`` logging to ``log`` (and stderr) with ``threads`` torch threads."""
    with job_log(log, stage.__name__):
        if threads is not None:
            torch.set_num_threads(threads)
        return stage(**arguments)


def acquire(*, source: str, output: str | Path) -> None:
    """Decode Fashion-MNIST from one source (cache: $PRBENCH_DOWNLOAD_CACHE or
    resources/downloads) into ``output``."""
    cache_dir = os.environ.get("PRBENCH_DOWNLOAD_CACHE", "resources/downloads")
    dataset = fashion_mnist.acquire(cache_dir, [source])
    _LOG.info("source %s (cache %s): train %s, test %s", dataset.source, cache_dir,
              dataset.train_images.shape, dataset.test_images.shape)
    dataset.save(output)


def synthesize_split(*, fashion: str | Path, output: str | Path, split: str, size: int,
                     seed: int, n: int, m: int, object_kind: str, phase_smoothing_px: float,
                     phase_std_rad: float, photons: float | None,
                     repository: str | Path) -> None:
    """One synthesized split (paper, Sec. 3) of ``size`` images with geometry (n, m),
    noiseless or with ``photons`` expected photons per image."""
    source = fashion_mnist.load(fashion)
    dataset = synth.synthesize(
        getattr(source, f"{split}_images"), getattr(source, f"{split}_labels"), size,
        seed=seed, split=split, geometry=Geometry(n, m), object_kind=object_kind,
        phase_smoothing_px=phase_smoothing_px, phase_std_rad=phase_std_rad, photons=photons)
    dataset.meta["source"] = source.source
    dataset.meta["provenance"] = provenance.collect(repository=repository, seed=seed,
                                                    device="cpu")
    _LOG.info("%s: x %s, y %s, %d flipped", split, dataset.x.shape, dataset.y.shape,
              int(dataset.flips.sum()))
    dataset.save(output)


def train_unet(*, model: str, train_set: str | Path, fashion: str | Path,
               settings: dict[str, Any], validation_fraction: float, seed: int, device: str,
               best: str | Path, history: str | Path, curves: str | Path) -> None:
    """Train the naive or passive U-Net (paper, Sec. 2.1) on the train split's
    non-validation part; ``best``/``history`` must lie in one folder (also the checkpoint's)."""
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
    network = UNet(widths=tuple(settings["widths"]), out_size=data.geometry.n,
                   input_layout=settings["input_layout"])
    summary = train(
        network, pairs, (x[-n_val:], y[-n_val:]), objective=model,
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


def select_support(*, model: str, train_set: str | Path, network: str | Path,
                   output: str | Path, curve: str | Path, settings: dict[str, Any],
                   selection: dict[str, Any], validation_fraction: float, seed: int,
                   device: str, repository: str | Path) -> None:
    """Select the support parameters of ``model``'s network output on the first
    ``selection["images"]`` images of the train split's validation part (the images its
    training validated on), scoring the grid ``selection["sigma"]`` x
    ``selection["threshold"]`` with the reconstruction of ``SUPPORT_SELECTORS[model]``
    (solver ``settings``); writes the selection file ``output`` and the ``curve``."""
    method = SUPPORT_SELECTORS[model]
    data = synth.load(train_set)
    n_val = synth.validation_size(len(data.x), validation_fraction)
    images = selection["images"]
    if images > n_val:
        raise ValueError(f"config key reconstruction.support_selection.images = {images} "
                         f"exceeds the {n_val} validation images of the train split")
    indices = np.arange(len(data.x) - n_val, len(data.x) - n_val + images)
    target = select_device(device)
    output_of_network, seconds = methods.network_output(model, network, data.y[indices],
                                                        data.geometry, target)
    chosen = support_selection.select(
        method, data.x[indices], data.y[indices], indices, settings, output_of_network,
        sigmas=selection["sigma"], thresholds=selection["threshold"], seed=seed,
        geometry=data.geometry, device=target)
    _LOG.info("%s support, %d validation images scored with %s (network %.1f s):\n%s\n"
              "chosen: %s", model, images, method, seconds, chosen.curve.to_string(index=False),
              chosen.choice)
    record = provenance.collect(repository=repository, seed=seed, device=str(target),
                                config={"method": method, "params": settings,
                                        "support_selection": selection,
                                        "validation_fraction": validation_fraction})
    support_selection.save(chosen, output, curve, model=model, provenance=record)


def support_table(*, selections: dict[str, str | Path], curves: dict[str, str | Path],
                  markdown: str | Path) -> None:
    """One Markdown table per model (model -> its selection file and curve): the support
    selection's curve, the chosen grid point marked."""
    tables = []
    for model, path in selections.items():
        record = support_selection.load_selection(path, model=model)
        tables.append(support_selection.to_markdown(
            record, support_selection.load_curve(curves[model], record=record)))
    write_text(markdown, "\n".join(tables))


def reconstruct_shard(*, method: str, test: str | Path, output: str | Path, shard: int,
                      shards: int, settings: dict[str, Any], seed: int, device: str,
                      repository: str | Path, network: str | Path | None = None,
                      support: str | Path | None = None, denoiser: str | Path | None = None,
                      training_set: str | Path | None = None) -> None:
    """Reconstruct test shard ``shard`` of ``shards`` with a registered method (with what
    the registry says it needs: network and its support selection file, denoiser or
    training split)."""
    data = synth.load(test)
    indices = methods.shard_indices(len(data.y), shards, shard)
    choice = None if support is None else support_selection.load_selection(
        support, model=METHODS[method].model)["choice"]
    result = methods.reconstruct(method, data.y[indices], indices, settings, seed=seed,
                                 geometry=data.geometry, device=device, network=network,
                                 denoiser=denoiser, training_set=training_set, support=choice)
    _LOG.info("%s shard %d: %d images in %.1f s on %s, median residual %.3g%s", method, shard,
              len(indices), result.seconds, result.device, float(np.median(result.residual)),
              "" if choice is None else f", support {choice}")
    record = provenance.collect(repository=repository, seed=seed, device=result.device,
                                config={"method": method, "params": settings,
                                        "support": choice})
    save_shard(output, x_hat=result.x_hat, index=indices, residual=result.residual,
               iterations=result.iterations, seconds=result.seconds, device=result.device,
               provenance=record)


def score(*, method: str, test: str | Path, shards: Sequence[str | Path], scores: str | Path,
          aligned: str | Path) -> None:
    """Symmetry-adjusted MSE of one method's reconstructions (paper, Appendix A.1)."""
    data = synth.load(test)
    planned = [methods.shard_indices(len(data.y), len(shards), shard)
               for shard in range(len(shards))]
    table_rows, best_aligned = score_method(method, data, load_shards(shards, planned),
                                            data.geometry)
    _LOG.info("%s: %d images, mean MSE %.4f, median %.4f", method, len(table_rows),
              table_rows["mse"].mean(), table_rows["mse"].median())
    write_text(scores, table_rows.to_csv(index=False))
    save_npz(aligned, aligned=best_aligned, image=table_rows["image"].to_numpy())


def make_table(*, method_scores: dict[str, str | Path], test_images: int, scores: str | Path,
               markdown: str | Path, csv: str | Path, latex: str | Path,
               success_threshold: float, bootstrap_resamples: int,
               paired_reference: str | None, seed: int) -> None:
    """All methods' scores in one CSV, and Table 1 in Markdown, CSV and LaTeX.
    ``method_scores``: method -> its scores file, each checked to hold the ``test_images``
    planned test images (:func:`prbench.report.scores.read_scores`)."""
    merged = pd.concat([read_scores(path, methods=[method], images=test_images,
                                    produced_by="score")
                        for method, path in method_scores.items()], ignore_index=True)
    summary = table.summarize(merged, success_threshold=success_threshold, seed=seed,
                              resamples=bootstrap_resamples)
    text = table.to_markdown(summary, success_threshold=success_threshold)
    if paired_reference:
        paired = table.paired_differences(merged, paired_reference, seed=seed,
                                          resamples=bootstrap_resamples)
        text += "\n" + table.paired_markdown(paired, paired_reference)
    _LOG.info("Table 1\n%s", text)
    write_text(scores, merged.to_csv(index=False))
    write_text(markdown, text)
    write_text(csv, summary.to_csv(index=False))
    write_text(latex, table.to_latex(summary, success_threshold=success_threshold))


def summarize_sweep(*, tables: dict[str, str | Path], scenarios: dict[str, dict[str, Any]],
                    methods: Sequence[str], test_images: int, success_threshold: float,
                    csv: str | Path, markdown: str | Path, figure: Sequence[str | Path]) -> None:
    """The sweep summary of a multi-scenario run (:mod:`prbench.report.sweep`): ``tables``:
    scenario -> its Table 1 CSV, each checked to hold the planned ``methods`` on
    ``test_images`` images (:func:`prbench.report.table.read_table`); ``scenarios``:
    scenario -> its synthesis parameters (object, photons, n, m). Writes the summary CSV,
    its Markdown and its figure."""
    summary = sweep.summarize_sweep(
        {name: table.read_table(path, methods=methods, images=test_images)
         for name, path in tables.items()}, scenarios)
    text = sweep.sweep_markdown(summary, success_threshold=success_threshold)
    _LOG.info("sweep summary\n%s", text)
    write_text(csv, summary.to_csv(index=False))
    write_text(markdown, text)
    figures.save_figure(sweep.sweep_figure(summary, success_threshold=success_threshold),
                        figure)


def draw_figures(*, test: str | Path, scores: str | Path, aligned: dict[str, str | Path],
                 figure4: Sequence[str | Path], distribution: Sequence[str | Path],
                 images: int, seed: int) -> None:
    """Figure 4 (``images`` random test images, every method aligned to the truth; with
    their phase for complex objects) and the MSE distributions; ``aligned``: method -> its
    aligned reconstructions. The scores and reconstructions are checked to cover every
    test image of every method of ``aligned``."""
    data = synth.load(test)
    table_rows = read_scores(scores, methods=list(aligned), images=len(data.x),
                             produced_by="table")
    order = table.ordered(list(aligned))
    best, mse = {}, {}
    for name in order:
        best[name] = load_aligned(aligned[name], images=len(data.x), n=data.geometry.n)
        rows_of_method = table_rows.loc[table_rows["method"] == name]
        mse[name] = rows_of_method.sort_values("image")["mse"].to_numpy()
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(data.x), size=min(images, len(data.x)), replace=False))
    _LOG.info("Figure 4 rows: test images %s", rows.tolist())
    figures.save_figure(figures.figure4(data.x, best, mse, rows, phase=data.complex_objects),
                        figure4)
    figures.save_figure(figures.mse_distribution(table_rows, order, PAPER_TABLE1), distribution)


def training_curves(*, histories: dict[str, str | Path], epochs: dict[str, int],
                    output: Sequence[str | Path]) -> None:
    """One figure of every trained network's training and validation curves; ``histories``:
    network -> its history.csv, checked to hold its ``epochs[network]`` epochs."""
    figures.save_figure(figures.training_curves(
        {name: read_network_history(path, network=name, epochs=epochs[name])
         for name, path in histories.items()}), output)


def diagnose_networks(*, histories: dict[str, str | Path], epochs: dict[str, int],
                      train_set: str | Path, validation_fraction: float,
                      output: str | Path) -> None:
    """The U-Nets' per-epoch diagnostics table (validation MSE, border-ring energy of the
    outputs) against the validation objects' own border-ring energy."""
    data = synth.load(train_set)
    n_val = synth.validation_size(len(data.x), validation_fraction)
    truths = torch.from_numpy(data.x[-n_val:][:METRIC_IMAGES])
    text = network_diagnostics(
        {f"{name} U-Net": read_network_history(path, network=name, epochs=epochs[name])
         for name, path in histories.items()},
        border_energy_fraction(truths).mean().item())
    _LOG.info("network diagnostics\n%s", text)
    write_text(output, text)


def record_provenance(*, scores: str | Path, methods: Sequence[str], test_images: int,
                      output: str | Path, timings: str | Path,
                      benchmarks: dict[str, Sequence[str | Path]],
                      benchmark_folder: str | Path, config: dict[str, Any],
                      repository: str | Path) -> None:
    """The run's provenance.json (config, seed, workflow revision, versions, devices, GPU,
    the machine's fingerprint (:func:`prbench.machine.fingerprint`) and the run's time
    record) and its per-stage time table ``timings`` (Markdown).

    ``benchmarks``: stage (rule) -> the benchmark files of its jobs, every job of the run
    but this one (:mod:`prbench.report.timings`); each must be readable. Benchmark files
    in ``benchmark_folder`` that are not among them (left by an earlier configuration of
    the same run name, say) are listed as ``not_covered``, not counted. The record also
    holds the reconstruction jobs' times by method (``reconstruct_by_method``).
    """
    devices = sorted(read_scores(scores, methods=methods, images=test_images,
                                 produced_by="table")["device"].astype(str).unique())
    jobs = timing.read_jobs(benchmarks)
    summary = timing.summarise(jobs)
    by_method = timing.relabel(jobs, "reconstruct", r"reconstruct_(.+)_shard\d+")
    if by_method:
        summary["reconstruct_by_method"] = timing.summarise(
            by_method, origin=min(job.start for job in jobs))["stages"]
    read = {Path(path).resolve() for paths in benchmarks.values() for path in paths}
    own = Path(benchmark_folder) / "provenance.tsv"
    summary["not_covered"] = sorted(
        path.name for path in Path(benchmark_folder).glob("*.tsv")
        if path.resolve() not in read and path.resolve() != own.resolve())
    summary["covers"] = ("every job of the run but this provenance job: "
                         + ", ".join(f"{stage} ({len(paths)})"
                                     for stage, paths in benchmarks.items()))
    if summary["not_covered"]:
        _LOG.warning("benchmark files not of this run's jobs, not counted: %s",
                     summary["not_covered"])
    gpu = (torch.cuda.get_device_name(0) if any(d.startswith("cuda") for d in devices)
           and torch.cuda.is_available() else None)
    record = provenance.collect(repository=repository, config=config, seed=config["seed"],
                                device=", ".join(devices), gpu=gpu, machine=fingerprint(),
                                wall_seconds=round(summary["wall_seconds"], 3),
                                timings=summary)
    text = timing.to_markdown(summary, title=f"Job times of run `{config['run']}` "
                                             f"(device {', '.join(devices)}"
                                             + (f", {gpu}" if gpu else "") + ")")
    if by_method:
        text += ("\nReconstruction jobs by method:\n\n"
                 + "\n".join(timing.stage_table(summary["reconstruct_by_method"], "method"))
                 + "\n")
    if summary["not_covered"]:
        text += ("\nNot counted (benchmark files of jobs outside this run's plan): "
                 + ", ".join(summary["not_covered"]) + "\n")
    _LOG.info("timings\n%s", text)
    write_json(output, record)
    write_text(timings, text)


def sweep_timings(*, benchmarks: dict[str, dict[str, Sequence[str | Path]]], run: str,
                  output: str | Path) -> None:
    """The whole run's time table (Markdown): every job of every scenario, by scenario and
    by rule, and the run's wall time from the first job's start to the last job's end.

    ``benchmarks``: scenario -> rule -> its jobs' benchmark files (each scenario's
    provenance job included); :mod:`prbench.report.timings` says what the times cover.
    """
    jobs = {scenario: timing.read_jobs(rules) for scenario, rules in benchmarks.items()}
    every = [job for scenario_jobs in jobs.values() for job in scenario_jobs]
    summary = timing.summarise(every)
    by_scenario = timing.summarise(
        [timing.JobTime(stage=scenario, job=job.job, seconds=job.seconds, end=job.end)
         for scenario, scenario_jobs in jobs.items() for job in scenario_jobs])["stages"]
    text = (timing.to_markdown(summary, title=f"Job times of run `{run}`, every scenario")
            + "\nBy scenario:\n\n" + "\n".join(timing.stage_table(by_scenario, "scenario"))
            + "\n")
    _LOG.info("timings\n%s", text)
    write_text(output, text)
