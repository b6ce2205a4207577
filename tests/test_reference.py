"""The committed reference tables (docs/results/<run>/<scenario>/) equal what the pipeline
generates: exactly on the reference's kernel path, within a stated tolerance on another.

Each reference folder holds machine.json, the fingerprint of the machine that made it
(prbench.machine.fingerprint). A run whose provenance.json records the same kernel path
(prbench.machine.kernel_path: architecture, torch, oneDNN and its ISA, ATen's CPU capability,
BLAS) must reproduce every table byte for byte. On another kernel path bf16 training takes
other kernels, so the rows of methods built on a trained network (registry: a network or
a denoiser among what they need) may move: each such row's mean MSE must lie within the
half-width of the reference row's 95% CI, at least 0.02 (prbench.report.reference.TOLERANCE:
the largest kernel-path move measured), every other row must be
identical in every column (docs/reproducibility.md). Which mode was used is the skip reason of the other test.
"""

import json
from pathlib import Path

import pandas as pd
import pytest

from prbench.machine import kernel_path
from prbench.report.reference import TOLERANCE, compare_tables
from workflow_helpers import ROOT

REFERENCE = ROOT / "docs" / "results"
TABLES = ("table1.md", "table1.csv", "table1.tex", "support_selection.md")


def assert_same_tables(generated, reference):
    for name in TABLES:
        assert (generated / name).read_text() == (reference / name).read_text(), (
            f"{generated / name} differs from the committed {reference / name}")


def assert_within_tolerance(generated, reference):
    """Training-free rows of table1.csv identical; each network row's mean MSE within the
    tolerance (prbench.report.reference.compare_tables)."""
    compared = compare_tables(*(pd.read_csv(folder / "table1.csv")
                                for folder in (generated, reference)))
    print(compared.to_string(index=False))
    outside = compared.loc[~compared["within"]]
    assert outside.empty, f"rows outside their tolerance ({TOLERANCE}):\n{outside.to_string()}"


def kernel_paths(provenance, reference):
    """(the run's kernel path, the reference's) from its provenance.json and machine.json."""
    run = json.loads(Path(provenance).read_text())["machine"]
    return kernel_path(run), kernel_path(json.loads((reference / "machine.json").read_text()))


def compare(provenance, generated, reference, mode):
    """Compare in ``mode`` ("exact" or "tolerance"), skipping when the run's kernel path
    says the other mode applies."""
    run_path, reference_path = kernel_paths(provenance, reference.parent)
    same = run_path == reference_path
    if mode == "exact" and not same:
        pytest.skip(f"kernel path {run_path} differs from the reference's {reference_path}: "
                    "compared within tolerance instead")
    if mode == "tolerance" and same:
        pytest.skip(f"kernel path of the reference {reference_path}: compared exactly instead")
    print(f"{generated}: compared with {reference} in {mode} mode")
    if mode == "exact":
        assert_same_tables(generated, reference)
    else:
        assert_within_tolerance(generated, reference)


MODES = ("exact", "tolerance")


@pytest.mark.e2e
@pytest.mark.parametrize("mode", MODES)
def test_tiny_run_reproduces_its_reference(finished_run, mode):
    workdir, _, config = finished_run
    results = workdir / "results" / config["run"] / "noiseless"
    compare(results / "provenance.json", results / "tables",
            REFERENCE / config["run"] / "noiseless" / "tables", mode)


DEFAULT = Path("default") / "noiseless"


@pytest.mark.skipif(not (ROOT / "results" / DEFAULT / "provenance.json").exists(),
                    reason="no default run here: `snakemake` first (about 10 minutes on 2 cores)")
@pytest.mark.parametrize("mode", MODES)
def test_default_run_reproduces_its_reference(mode):
    results = ROOT / "results" / DEFAULT
    compare(results / "provenance.json", results / "tables", REFERENCE / DEFAULT / "tables", mode)


SUMMARISED_RUNS = {"sweep": "config/sweep.yaml, about 70 minutes on 2 cores",
                   "learning": "config/learning.yaml, about 80 minutes on 2 cores"}


@pytest.mark.parametrize("run", SUMMARISED_RUNS)
def test_summarised_run_reproduces_its_reference(run):
    """A multi-scenario run's summary and every scenario's tables, exactly (same machine)."""
    results = ROOT / "results" / run
    if not (results / "sweep" / "sweep.csv").exists():
        pytest.skip(f"no {run} run here: `snakemake --configfile config/{run}.yaml` first "
                    f"({SUMMARISED_RUNS[run]})")
    for name in ("sweep.csv", "sweep.md"):
        assert (results / "sweep" / name).read_text() == (
            REFERENCE / run / "sweep" / name).read_text(), name
    scenarios = [path.name for path in (REFERENCE / run).iterdir()
                 if path.name not in ("sweep", "README.md")]
    assert len(scenarios) >= 4
    for scenario in scenarios:
        assert_same_tables(results / scenario / "tables", REFERENCE / run / scenario / "tables")
