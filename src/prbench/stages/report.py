"""Report stages of one scenario: Table 1, figures, network diagnostics, the support
table and the run's provenance with its job times."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from .. import provenance, support_selection
from ..data import synth
from ..io import write_json, write_text
from ..machine import fingerprint
from ..metrics import border_energy_fraction, symmetric_mse
from ..registry import PAPER_TABLE1
from ..report import figures, table
from ..report import timings as timing
from ..report.diagnostics import network_diagnostics
from ..report.scores import load_aligned, read_scores
from ..train import read_network_history
from ..train.initialiser import METRIC_IMAGES

__all__ = ["diagnose_networks", "draw_figures", "make_table", "record_provenance",
           "support_table", "training_curves"]

_LOG = logging.getLogger(__package__)


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
    comparison = table.learned_against_training_free(merged, seed=seed,
                                                     resamples=bootstrap_resamples)
    if comparison is not None:
        text += "\n" + table.learned_markdown({"": comparison})
    _LOG.info("Table 1\n%s", text)
    write_text(scores, merged.to_csv(index=False))
    write_text(markdown, text)
    write_text(csv, summary.to_csv(index=False))
    write_text(latex, table.to_latex(summary, success_threshold=success_threshold))


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


def validation_calibration(train_set: str | Path, validation_fraction: float
                           ) -> tuple[torch.Tensor, float]:
    """The first METRIC_IMAGES validation objects (V, n, n), the images whose metrics a
    U-Net's history.csv records, and their calibration level: the mean symmetric MSE of
    the mean object of the training part (the images the U-Nets trained on) as the
    prediction for each. A network below it has learned something beyond the mean object."""
    from ..data.validation import hold_out

    data = synth.load(train_set)
    held = hold_out(data, validation_fraction, origin=str(train_set))
    validation = torch.from_numpy(held.x[:METRIC_IMAGES])
    mean_object = torch.from_numpy(data.x[:held.training_size]).mean(dim=0)
    return validation, symmetric_mse(validation, mean_object.expand_as(validation),
                                     data.geometry).mean().item()


def training_curves(*, histories: dict[str, str | Path], epochs: dict[str, int],
                    output: Sequence[str | Path], train_set: str | Path | None = None,
                    validation_fraction: float | None = None) -> None:
    """One figure of every trained network's training and validation curves; ``histories``:
    network -> its history.csv, checked to hold its ``epochs[network]`` epochs. Given the
    ``train_set``, the U-Nets' validation MSE is drawn against its calibration level
    (:func:`validation_calibration`)."""
    calibration = (None if train_set is None
                   else validation_calibration(train_set, validation_fraction)[1])
    figures.save_figure(figures.training_curves(
        {name: read_network_history(path, network=name, epochs=epochs[name])
         for name, path in histories.items()}, calibration=calibration), output)


def diagnose_networks(*, histories: dict[str, str | Path], epochs: dict[str, int],
                      train_set: str | Path, validation_fraction: float,
                      output: str | Path) -> None:
    """The U-Nets' per-epoch diagnostics table (validation MSE against the mean object's,
    border-ring energy of the outputs against the validation objects' own)."""
    truths, calibration = validation_calibration(train_set, validation_fraction)
    text = network_diagnostics(
        {f"{name} U-Net": read_network_history(path, network=name, epochs=epochs[name])
         for name, path in histories.items()},
        border_energy_fraction(truths).mean().item(), calibration=calibration)
    _LOG.info("network diagnostics\n%s", text)
    write_text(output, text)


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


def record_provenance(*, scores: str | Path, methods: Sequence[str], test_images: int,
                      output: str | Path, timings: str | Path,
                      benchmarks: dict[str, Sequence[str | Path]],
                      benchmark_folder: str | Path, config: dict[str, Any],
                      repository: str | Path, rows_from: dict[str, str] | None = None) -> None:
    """The run's provenance.json (config, seed, workflow revision, versions, devices, GPU,
    the machine's fingerprint (:func:`prbench.machine.fingerprint`) and the run's time
    record) and its per-stage time table ``timings`` (Markdown).

    ``benchmarks``: stage (rule) -> the benchmark files of its jobs, every job of the run
    but this one (:mod:`prbench.report.timings`); each must be readable. Benchmark files
    in ``benchmark_folder`` that are not among them (left by an earlier configuration of
    the same run name, say) are listed as ``not_covered``, not counted. The record also
    holds the reconstruction jobs' times by method (``reconstruct_by_method``) and
    ``rows_from``: method -> the scenario folder that computed (and timed) its rows, for
    the training-free rows this scenario shares with its test set's owner.
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
                                timings=summary, rows_from=dict(rows_from or {}))
    text = timing.to_markdown(summary, title=f"Job times of run `{config['run']}` "
                                             f"(device {', '.join(devices)}"
                                             + (f", {gpu}" if gpu else "") + ")")
    if by_method:
        text += ("\nReconstruction jobs by method:\n\n"
                 + "\n".join(timing.stage_table(summary["reconstruct_by_method"], "method"))
                 + "\n")
    if rows_from:
        text += ("\nRows computed and timed in another scenario (same test set): "
                 + ", ".join(f"{method} ({folder})" for method, folder in rows_from.items())
                 + "\n")
    if summary["not_covered"]:
        text += ("\nNot counted (benchmark files of jobs outside this run's plan): "
                 + ", ".join(summary["not_covered"]) + "\n")
    _LOG.info("timings\n%s", text)
    write_json(output, record)
    write_text(timings, text)
