"""The hostile probe as tests: damaged intermediates, bad configs and a wrong working folder
each end in one clear error with a non-zero exit and no output a rerun would mistake for a
result; the repair command that an error prints, run verbatim, restores the finished run's tables
byte for byte.

Every run here is the real workflow on the tiny config (config/test.yaml) or a variant of it,
in a temporary directory; a test that changes a finished run works on a copy of it.
"""

import json
import os
import re
import shlex
import subprocess
import sys

import pytest

from test_reference import assert_same_tables
from workflow_helpers import DOWNLOAD_CACHE, ROOT, copy_run, snakemake, write_config

pytestmark = pytest.mark.e2e

RESULTS = "results/test/noiseless"


def truncate(path, keep_lines=None):
    """Cut a file in half (binary) or to its first ``keep_lines`` lines (text)."""
    if keep_lines is None:
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        path.write_text("".join(path.read_text().splitlines(keepends=True)[:keep_lines]))


def repair_advice(output):
    """(folder, command) of the repair advice of a CorruptFileError in a run's output."""
    found = re.search(r"depends on it, run in (\S+): (snakemake [^\n]+)", output)
    assert found, f"no repair advice in:\n{output}"
    return found.group(1), found.group(2).strip()


def run_verbatim(command, folder):
    """Run a printed snakemake command as a user would, in ``folder`` (the download cache
    as in every workflow test)."""
    words = shlex.split(command)
    assert words[0] == "snakemake"
    return subprocess.run([sys.executable, "-m", *words], cwd=folder, capture_output=True,
                          text=True, timeout=1800,
                          env={**{key: value for key, value in os.environ.items()
                                  if not key.startswith("PRBENCH_")},
                               "PRBENCH_DOWNLOAD_CACHE": str(DOWNLOAD_CACHE)})


@pytest.mark.parametrize("damaged, lines", [
    (f"{RESULTS}/scores/hio.csv", 2),        # header and one row: one image of 12
    (f"{RESULTS}/scores.csv", 30),           # the merged scores, cut mid-method
    (f"{RESULTS}/tables/table1.csv", 3),     # two methods of the table
    (f"{RESULTS}/models/passive/history.csv", 1),
    (f"{RESULTS}/support/naive_curve.csv", 2),
])
def test_a_truncated_csv_stops_the_run_naming_the_file(finished_run, tmp_path, damaged, lines):
    workdir = copy_run(finished_run[0], tmp_path / "run")
    outputs = {
        "scores/hio.csv": ["tables/table1.csv", "tables/table1.md", "scores.csv"],
        "scores.csv": ["figures/figure4.png", "provenance.json"],
        "tables/table1.csv": ["../sweep/sweep.csv", "../sweep/sweep.md"],
        "models/passive/history.csv": ["figures/training_curves.png", "tables/networks.md"],
        "support/naive_curve.csv": ["tables/support_selection.md"],
    }[damaged.removeprefix(f"{RESULTS}/")]
    truncate(workdir / damaged, lines)
    damaged_at = (workdir / damaged).stat().st_mtime
    result = snakemake(workdir, "--configfile", str(finished_run[1]), check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"{damaged} is unusable" in output
    # The job that read it failed and Snakemake removed its outputs; nothing downstream
    # was written after the damage (what still exists is the finished run's, and stale).
    paths = [workdir / RESULTS / name for name in outputs]
    assert any(not path.exists() for path in paths), outputs
    for path in paths:
        assert not path.exists() or path.stat().st_mtime < damaged_at, path
    assert "Traceback" not in output.split(f"{damaged} is unusable")[1].split("\n")[0]


@pytest.mark.parametrize("damaged", [
    f"{RESULTS}/data/test.npz",             # a synthesized set
    f"{RESULTS}/models/naive/best.pt",      # a trained network
    f"{RESULTS}/support/passive.json",      # a support selection
    f"{RESULTS}/recon/hio/shard1.npz",      # one reconstruction shard
    f"{RESULTS}/scores/alm.csv",            # one method's scores
])
def test_the_printed_repair_command_restores_the_reference_tables(finished_run, tmp_path,
                                                                   damaged):
    workdir = copy_run(finished_run[0], tmp_path / "run")
    truncate(workdir / damaged, 1 if damaged.endswith(".csv") else None)
    failed = snakemake(workdir, "--configfile", str(finished_run[1]), check=False)
    assert failed.returncode != 0
    folder, command = repair_advice(failed.stdout + failed.stderr)
    assert folder == str(workdir) and command.endswith(f"--forcerun {damaged}")
    repaired = run_verbatim(command, folder)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    if damaged.endswith("shard1.npz"):  # one shard reruns one shard
        assert len(re.findall(r"rule reconstruct:", repaired.stdout + repaired.stderr)) == 1
    # The finished run's tables (test_reference.py compares those with the committed ones).
    assert_same_tables(workdir / RESULTS / "tables", finished_run[0] / RESULTS / "tables")
    rerun = snakemake(workdir, "--configfile", str(finished_run[1]), "-n")
    assert "Nothing to be done" in rerun.stdout + rerun.stderr


def scenario_with(tmp_path, **overrides):
    """config/test.yaml with a second scenario `low` overriding the synthesis (YAML text
    written as given, so that its values are read as a user's file would be)."""
    config_path, _ = write_config(tmp_path)
    text = config_path.read_text().replace(
        "scenarios:\n  noiseless: {}\n",
        "scenarios:\n  noiseless: {}\n  low:\n"
        + "".join(f"    {key}: {value}\n" for key, value in overrides.items()))
    assert "  low:" in text
    config_path.write_text(text)
    return config_path


@pytest.mark.parametrize("key, value, named", [
    ("photons", "1e3", "scenarios.low.photons = '1e3' is text, not a number"),
    ("photons", ".nan", "scenarios.low.photons = nan: must be a finite number"),
    ("photons", ".inf", "scenarios.low.photons = inf: must be a finite number"),
    ("photons", "0", "0 is less than or equal to the minimum of 0"),  # the schema's words,
    ("photons", "-5.0", "On instance['scenarios']['low']['photons']"),  # naming the key
    ("photons", "1.0e-9", "scenarios.low.photons = 1e-09 is below the floor"),
    ("n", "40.0", "scenarios.low.n = 40.0 must be an integer"),
    ("m", "80.5", "On instance['scenarios']['low']['m']"),  # the schema: not an integer
])
def test_a_bad_scenario_value_is_refused_at_planning(tmp_path, key, value, named):
    config_path = scenario_with(tmp_path, **{key: value})
    result = snakemake(tmp_path, "-n", "--configfile", str(config_path), check=False)
    assert result.returncode != 0
    assert named in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


def test_running_from_a_subfolder_of_the_checkout_is_refused(tmp_path):
    before = subprocess.run(["git", "status", "--porcelain", "--ignored"], cwd=ROOT,
                            capture_output=True, text=True).stdout
    result = subprocess.run([sys.executable, "-m", "snakemake", "-s", "../Snakefile", "-n"],
                            cwd=ROOT / "workflow", capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "a subfolder of the prbench checkout" in output and f"cd {ROOT}" in output
    assert not (ROOT / "workflow" / "results").exists()
    assert not (ROOT / "workflow" / "resources").exists()
    after = subprocess.run(["git", "status", "--porcelain", "--ignored"], cwd=ROOT,
                           capture_output=True, text=True).stdout
    new = set(after.splitlines()) - set(before.splitlines())
    assert all(line.startswith("!! ") and ".snakemake" in line for line in new), new


def test_a_scenario_folder_the_config_no_longer_lists_is_reported(tmp_path):
    config_path, _ = write_config(tmp_path)
    (tmp_path / "results" / "test" / "photons-1e4").mkdir(parents=True)
    result = snakemake(tmp_path, "-n", "--configfile", str(config_path))
    output = result.stdout + result.stderr
    assert "scenarios this config does not list: photons-1e4" in output
    assert "rm -r results/test/photons-1e4" in output


def test_provenance_holds_the_machine_fingerprint(finished_run):
    workdir, _, _ = finished_run
    machine = json.loads((workdir / RESULTS / "provenance.json").read_text())["machine"]
    assert machine["torch_threads"] == 1  # the provenance job runs on one thread
    assert machine["architecture"] and machine["torch"] and machine["blas"]
    if machine["architecture"] == "x86_64":
        assert machine["onednn_isa"] and "AVX" in machine["onednn_isa"]
        assert "avx2" in machine["isa_features"]
