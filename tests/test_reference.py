"""The committed reference tables (docs/results/<run>/<scenario>/) equal what the pipeline generates."""

from pathlib import Path

import pytest

from workflow_helpers import ROOT

REFERENCE = ROOT / "docs" / "results"
TABLES = ("table1.md", "table1.csv", "table1.tex", "support_selection.md")


def assert_same_tables(generated, reference):
    for name in TABLES:
        assert (generated / name).read_text() == (reference / name).read_text(), (
            f"{generated / name} differs from the committed {reference / name}")


@pytest.mark.e2e
def test_tiny_run_reproduces_its_reference(finished_run):
    workdir, _, config = finished_run
    assert_same_tables(workdir / "results" / config["run"] / "noiseless" / "tables",
                       REFERENCE / config["run"] / "noiseless" / "tables")


DEFAULT = Path("default") / "noiseless" / "tables"


@pytest.mark.skipif(not (ROOT / "results" / DEFAULT / "table1.csv").exists(),
                    reason="no default run here: `snakemake` first (about 8 minutes on 2 cores)")
def test_default_run_reproduces_its_reference():
    assert_same_tables(ROOT / "results" / DEFAULT, REFERENCE / DEFAULT)


SWEEP = ROOT / "results" / "sweep"


@pytest.mark.skipif(not (SWEEP / "sweep" / "sweep.csv").exists(),
                    reason="no sweep run here: `snakemake --configfile config/sweep.yaml` first "
                           "(about 45 minutes on 2 cores)")
def test_sweep_run_reproduces_its_reference():
    for name in ("sweep.csv", "sweep.md"):
        assert (SWEEP / "sweep" / name).read_text() == (
            REFERENCE / "sweep" / "sweep" / name).read_text(), name
    scenarios = [path.name for path in (REFERENCE / "sweep").iterdir()
                 if path.name not in ("sweep", "README.md")]
    assert len(scenarios) >= 4
    for scenario in scenarios:
        assert_same_tables(SWEEP / scenario / "tables", REFERENCE / "sweep" / scenario / "tables")
