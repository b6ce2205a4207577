"""How far a run on another kernel path moves from the committed reference, row by row.

The reference test (tests/test_reference.py) compares a run with the committed reference
exactly when both ran on one kernel path (prbench.machine.kernel_path) and otherwise
within prbench.report.reference.TOLERANCE per row. This script records the measurement
that the tolerance rests on: for each given run (its results/<run>/<scenario>/ folder, or
a bare table1.csv with a label) the move of every row's mean MSE, the row's tolerance and
the move as a share of it, and the run's kernel path where its provenance records one.

    python benchmarks/compare_kernel_paths.py \
        --reference docs/results/default/noiseless \
        --run "AVX512_CORE forced=/path/results/default/noiseless" \
        --output benchmarks/results/kernel_paths.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from prbench.io import write_text
from prbench.machine import kernel_path
from prbench.provenance import git_revision
from prbench.report.reference import TOLERANCE, compare_tables


def _path_text(path: dict | None) -> str:
    if path is None:
        return "not recorded"
    return ", ".join(f"{key} {value}" for key, value in path.items())


def _run(argument: str) -> tuple[str, pd.DataFrame, dict | None]:
    """(label, Table 1, kernel path or None) of a ``label=folder-or-table1.csv`` argument."""
    label, _, location = argument.rpartition("=")
    location = Path(location)
    if location.suffix == ".csv":
        return label, pd.read_csv(location), None
    record = json.loads((location / "provenance.json").read_text())
    return label, pd.read_csv(location / "tables" / "table1.csv"), kernel_path(record["machine"])


def report(reference: Path, runs: list[str]) -> str:
    """The Markdown record: the reference's kernel path, then one table per run."""
    machine = json.loads((reference / "machine.json").read_text())
    table = pd.read_csv(reference / "tables" / "table1.csv")
    lines = [f"# Runs on other kernel paths against `{reference}`", "",
             f"Reference kernel path: {_path_text(kernel_path(machine))} "
             f"(CPU {machine['cpu_model']}, features {', '.join(machine['isa_features'])}).",
             f"Tolerance of a row built on a trained network: {TOLERANCE}; every other row "
             "must be identical in every column.",
             f"Recorded by `benchmarks/compare_kernel_paths.py` at {git_revision('.')}.", ""]
    for argument in runs:
        label, run_table, path = _run(argument)
        compared = compare_tables(run_table, table)
        trained = compared[compared["trained"]]
        lines += [f"## {label}", "", f"Kernel path: {_path_text(path)}.", "",
                  f"Training-free rows identical: {bool(compared[~compared['trained']]['within'].all())} "
                  f"({int((~compared['trained']).sum())} rows). Rows built on a trained network:",
                  "", "| Method | Reference | This run | Moved | Tolerance | Moved / tolerance |",
                  "| --- | ---: | ---: | ---: | ---: | ---: |"]
        lines += [f"| {row.method} | {row.reference_mean:.4f} | {row.run_mean:.4f} | "
                  f"{row.moved:.4f} | {row.tolerance:.4f} | {row.moved / row.tolerance:.0%} |"
                  for row in trained.itertuples()]
        lines += ["", f"Largest move: {trained['moved'].max():.4f}, "
                      f"{(trained['moved'] / trained['tolerance']).max():.0%} of its row's "
                      f"tolerance; all within: {bool(compared['within'].all())}.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, required=True,
                        help="a committed reference folder (docs/results/<run>/<scenario>)")
    parser.add_argument("--run", action="append", required=True,
                        help="label=results folder (with provenance.json) or label=table1.csv")
    parser.add_argument("--output", type=Path, required=True)
    arguments = parser.parse_args()
    text = report(arguments.reference, arguments.run)
    print(text)
    write_text(arguments.output, text)


if __name__ == "__main__":
    main()
