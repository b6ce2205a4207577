"""A run's time record from its Snakemake benchmark files (standard library only).

Snakemake writes a job's benchmark file (``benchmark:`` of its rule; one row per
repetition, wall seconds in the column ``s``) once the job's code has returned, so
the file's modification time is the job's end and ``end - s`` its start. The run's
``wall_seconds`` is the last end minus the first start. It does not include what
happens outside the jobs' code: Snakemake's planning before the first job and the
start of each job's process before its code runs (the benchmark starts with the job's
code), nor the job that writes this record. ``busy_seconds`` is the time during which
at least one job ran; it is less than ``wall_seconds`` where the jobs of a run were
made by several invocations with pauses between them.
"""

from __future__ import annotations

import csv
import datetime as _dt
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["JobTime", "read_benchmark", "read_jobs", "relabel", "stage_table", "summarise",
           "to_markdown"]


@dataclass(frozen=True)
class JobTime:
    """One job: its stage (rule name), its name (benchmark file stem), its wall seconds
    (all repetitions) and its end (seconds since the epoch)."""

    stage: str
    job: str
    seconds: float
    end: float

    @property
    def start(self) -> float:
        return self.end - self.seconds


def read_benchmark(path: str | os.PathLike, stage: str) -> JobTime:
    """The job of one Snakemake benchmark TSV (``s`` summed over its rows)."""
    path = Path(path)
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    if not rows or "s" not in rows[0]:
        raise ValueError(f"{path}: not a Snakemake benchmark file (no rows or no 's' column)")
    try:
        seconds = sum(float(row["s"]) for row in rows)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path}: unreadable 's' column ({error})") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{path}: 's' is {seconds}")
    return JobTime(stage=stage, job=path.stem, seconds=seconds, end=path.stat().st_mtime)


def read_jobs(benchmarks: Mapping[str, Sequence[str | os.PathLike]]) -> list[JobTime]:
    """Every job of ``benchmarks`` (stage -> its jobs' benchmark files). A missing or
    unreadable file raises: a job left out would shorten the record unseen."""
    return [read_benchmark(path, stage) for stage, paths in benchmarks.items() for path in paths]


def _utc(seconds: float) -> str:
    return _dt.datetime.fromtimestamp(seconds, _dt.timezone.utc).isoformat(timespec="seconds")


def _union_seconds(intervals: Iterable[tuple[float, float]]) -> float:
    total, current = 0.0, None
    for start, end in sorted(intervals):
        if current is None or start > current[1]:
            if current is not None:
                total += current[1] - current[0]
            current = [start, end]
        else:
            current[1] = max(current[1], end)
    return total + (current[1] - current[0] if current is not None else 0.0)


def summarise(jobs: Sequence[JobTime], *, origin: float | None = None) -> dict[str, Any]:
    """The run's time record: wall_seconds (first start to last end), busy_seconds,
    job_seconds (sum over jobs), jobs, first_start_utc, last_end_utc, and per stage (in
    order of first start) jobs, total_seconds, max_seconds and the stage's first start
    and last end in seconds after ``origin`` (default: the first start)."""
    if not jobs:
        raise ValueError("no jobs to summarise")
    first = min(job.start for job in jobs) if origin is None else origin
    last = max(job.end for job in jobs)
    stages: dict[str, dict[str, Any]] = {}
    for job in sorted(jobs, key=lambda job: job.start):
        entry = stages.setdefault(job.stage, {"jobs": 0, "total_seconds": 0.0,
                                              "max_seconds": 0.0, "from_seconds": job.start - first,
                                              "to_seconds": 0.0})
        entry["jobs"] += 1
        entry["total_seconds"] += job.seconds
        entry["max_seconds"] = max(entry["max_seconds"], job.seconds)
        entry["to_seconds"] = max(entry["to_seconds"], job.end - first)
    start = min(job.start for job in jobs)
    return {
        "wall_seconds": last - start,
        "busy_seconds": _union_seconds((job.start, job.end) for job in jobs),
        "job_seconds": sum(job.seconds for job in jobs),
        "jobs": len(jobs),
        "first_start_utc": _utc(start),
        "last_end_utc": _utc(last),
        "stages": stages,
    }


def relabel(jobs: Sequence[JobTime], stage: str, pattern: str) -> list[JobTime]:
    """The jobs of ``stage`` with the first group of ``pattern`` (a regular expression
    matched against the job's name) as their stage: e.g. the reconstruction jobs by method
    with ``reconstruct_(.+)_shard\\d+``. A job whose name does not match raises."""
    relabelled = []
    for job in jobs:
        if job.stage != stage:
            continue
        match = re.fullmatch(pattern, job.job)
        if match is None:
            raise ValueError(f"job {job.job!r} of stage {stage!r} does not match {pattern!r}")
        relabelled.append(JobTime(stage=match.group(1), job=job.job, seconds=job.seconds,
                                  end=job.end))
    return relabelled


def stage_table(stages: Mapping[str, Mapping[str, Any]], label: str = "stage") -> list[str]:
    """Markdown rows of :func:`summarise`'s ``stages`` (jobs, total, max, from, to)."""
    lines = [f"| {label} | jobs | total s | max s | from s | to s |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for stage, entry in stages.items():
        lines.append(f"| {stage} | {entry['jobs']} | {entry['total_seconds']:.1f} | "
                     f"{entry['max_seconds']:.1f} | {entry['from_seconds']:.1f} | "
                     f"{entry['to_seconds']:.1f} |")
    return lines


def to_markdown(summary: Mapping[str, Any], *, title: str = "") -> str:
    """The per-stage time table of :func:`summarise`'s record, with the run's totals."""
    lines = ([f"{title}\n"] if title else []) + stage_table(summary["stages"])
    lines.append(f"\nWall {summary['wall_seconds']:.1f} s from the first job's start "
                 f"({summary['first_start_utc']}) to the last job's end "
                 f"({summary['last_end_utc']}); {summary['jobs']} jobs, "
                 f"{summary['job_seconds']:.1f} job-seconds, busy "
                 f"{summary['busy_seconds']:.1f} s. From and to: seconds after the first "
                 "job's start. Times are Snakemake's benchmark records: each job's script "
                 "from its Python process's start to its end (Snakemake's planning, its "
                 "start of each job and the job writing this record are not included).")
    return "\n".join(lines) + "\n"
