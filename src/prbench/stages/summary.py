"""Summary stages over a run's scenarios: the sweep summary and the whole run's job times."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..io import write_text
from ..report import figures, sweep, table
from ..report.scores import read_scores
from ..report import timings as timing

__all__ = ["summarize_sweep", "sweep_timings"]

_LOG = logging.getLogger(__package__)


def summarize_sweep(*, tables: dict[str, str | Path], scores: dict[str, str | Path],
                    scenarios: dict[str, dict[str, Any]], methods: Sequence[str],
                    test_images: int, success_threshold: float, bootstrap_resamples: int,
                    seed: int, csv: str | Path, markdown: str | Path,
                    figure: Sequence[str | Path]) -> None:
    """The sweep summary of a multi-scenario run (:mod:`prbench.report.sweep`): ``tables``:
    scenario -> its Table 1 CSV, each checked to hold the planned ``methods`` on
    ``test_images`` images (:func:`prbench.report.table.read_table`); ``scores``: scenario
    -> its merged per-image scores (checked alike), for the best learned method against
    the best training-free one per scenario
    (:func:`prbench.report.table.learned_against_training_free`); ``scenarios``:
    scenario -> its synthesis parameters (object, photons, n, m, train_size). Writes the
    summary CSV, its Markdown and its figure."""
    summary = sweep.summarize_sweep(
        {name: table.read_table(path, methods=methods, images=test_images)
         for name, path in tables.items()}, scenarios)
    comparisons = {
        name: table.learned_against_training_free(
            read_scores(path, methods=methods, images=test_images, produced_by="table"),
            seed=seed, resamples=bootstrap_resamples)
        for name, path in scores.items()}
    text = (sweep.sweep_markdown(summary, success_threshold=success_threshold) + "\n"
            + table.learned_markdown(comparisons))
    _LOG.info("sweep summary\n%s", text)
    write_text(csv, summary.to_csv(index=False))
    write_text(markdown, text)
    figures.save_figure(sweep.sweep_figure(summary, success_threshold=success_threshold),
                        figure)


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
