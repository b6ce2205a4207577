"""The default run's training split, synthesized as the workflow does, for the benchmark
scripts that choose settings on its validation hold-out (never on the test split), and
how those scripts report."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from prbench.data import fashion_mnist, synth
from prbench.geometry import Geometry


ROOT = Path(__file__).resolve().parents[1]


def validation_parser(description: str, count: int) -> argparse.ArgumentParser:
    """An argument parser with the options every chooser takes: ``--config`` (default
    config/config.yaml), ``--fashion`` (the decoded Fashion-MNIST), ``--count`` validation
    images (default ``count``), ``--threads`` (torch CPU threads) and ``--output``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "config.yaml")
    parser.add_argument("--fashion", type=Path,
                        default=ROOT / "resources" / "fashion_mnist" / "npm.npz")
    parser.add_argument("--count", type=int, default=count, help="validation images")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--output", type=Path, help="also write the record here")
    return parser


def training_split(config: dict, fashion: Path) -> tuple[synth.SynthesizedSet, int]:
    """The config's synthesized ``train`` split (seed, geometry, size, object kind) and the
    size of its validation hold-out (its last ``training.validation_fraction``)."""
    syn = config["synthesis"]
    source = fashion_mnist.load(fashion)
    data = synth.synthesize(source.train_images, source.train_labels, syn["train_size"],
                            seed=config["seed"], split="train",
                            geometry=Geometry.from_config(config), object_kind=syn["object"],
                            phase_smoothing_px=syn["phase_smoothing_px"],
                            phase_std_rad=syn["phase_std_rad"])
    return data, synth.validation_size(len(data.x), config["training"]["validation_fraction"])


def validation_set(config: dict, fashion: Path, count: int) -> tuple[np.ndarray, np.ndarray,
                                                                   np.ndarray, Geometry]:
    """The first ``count`` validation images of the config's training split: objects x
    (count, n, n), measurements y (count, m, m), their indices in the split, geometry."""
    data, n_val = training_split(config, fashion)
    if count > n_val:
        raise ValueError(f"--count {count} exceeds the {n_val} validation images")
    indices = np.arange(len(data.x) - n_val, len(data.x) - n_val + count)
    return data.x[indices], data.y[indices], indices, data.geometry


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
