"""One function per workflow stage, each reading its input files and writing its outputs.

The Snakemake scripts in ``workflow/scripts/`` only pass a rule's files and params
to these functions (:func:`run` wraps each in the job's log and thread count), so
that every stage can be called and tested without Snakemake. Outputs are written
atomically; every result carries provenance (``repository``: the workflow's
checkout, whose git revision is recorded).

The stages live in one submodule per group (:data:`GROUPS`), each importing only what
its own stages need; a group is imported when one of its stages is first looked up
here, so that a job loads only its own stage's libraries (a reconstruction job, say,
no plotting).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..devices import configure_job
from ..registry import load_plugins_from_environment
from ..runlog import job_log

#: The submodule holding each stage.
GROUPS = {
    "acquire": "data", "synthesize_split": "data",
    "train_unet": "training", "train_denoiser_network": "training",
    "select_support": "support",
    "reconstruct_shard": "reconstruction",
    "score": "scoring",
    "make_table": "report", "draw_figures": "report", "training_curves": "report",
    "diagnose_networks": "report", "support_table": "report", "record_provenance": "report",
    "summarize_sweep": "summary", "sweep_timings": "summary",
}

__all__ = ["run", *GROUPS]


def __getattr__(name: str) -> Callable[..., Any]:
    """The stage ``name``, from its group's submodule (imported on first use)."""
    if name not in GROUPS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{GROUPS[name]}"), name)


def run(stage: Callable[..., Any], *, log: str | Path, threads: int | None = None,
        **arguments: Any) -> Any:
    """Call ``stage(**arguments)`` logging to ``log`` (and stderr) in a process set up as a
    job (:func:`prbench.devices.configure_job`: ``threads`` torch threads, freed memory
    kept for reuse; the workflow's plugins loaded,
    :func:`prbench.registry.load_plugins_from_environment`)."""
    with job_log(log, stage.__name__):
        configure_job(threads)
        load_plugins_from_environment()
        return stage(**arguments)
