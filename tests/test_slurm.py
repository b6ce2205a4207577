"""The workflow through a real SLURM (snakemake-executor-plugin-slurm) matches a local run.

Needs a reachable SLURM controller (CI starts a single-node one with .ci/slurm/up.sh).
Skipped when there is none, unless PRBENCH_REQUIRE_SLURM=1 (as in CI), where a missing
SLURM is a failure. The whole tiny workflow through SLURM (45 jobs, about 7 minutes on
2 cores) runs only with PRBENCH_SLURM_FULL=1; CI runs the partial target.
"""

import os
import shutil
import subprocess

import numpy as np
import pytest

from prbench.data import synth
from workflow_helpers import ROOT, snakemake, write_config

TARGET = "results/test/noiseless/recon/hio/shard0.npz"


def slurm_available():
    if shutil.which("sinfo") is None:
        return False
    result = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    return result.returncode == 0 and ("idle" in result.stdout or "mix" in result.stdout)


pytestmark = [
    pytest.mark.slurm,
    pytest.mark.skipif(not slurm_available() and os.environ.get("PRBENCH_REQUIRE_SLURM") != "1",
                       reason="no SLURM controller reachable"),
]


def run_both(tmp_path, *targets):
    """Run ``targets`` locally and through SLURM; return the work dirs and the SLURM log."""
    assert slurm_available(), "PRBENCH_REQUIRE_SLURM=1 but no idle SLURM node"
    runs, log = {}, ""
    for executor in ("local", "slurm"):
        workdir = tmp_path / executor
        workdir.mkdir()
        config_path, _ = write_config(workdir)
        profile = ROOT / "workflow" / "profiles" / ("default" if executor == "local" else "slurm")
        result = snakemake(workdir, "--configfile", str(config_path), "--workflow-profile",
                           str(profile), *targets)
        runs[executor] = workdir
        if executor == "slurm":
            log = result.stdout + result.stderr
            assert "submitted with SLURM jobid" in log
    return runs, log


def test_partial_target_through_slurm_matches_local_run(tmp_path):
    runs, log = run_both(tmp_path, TARGET)
    # Only what the target needs was submitted: no train split, no other method.
    assert "split=train" not in log and "method=alm" not in log
    local, cluster = (synth.load(runs[name] / "results/test/noiseless/data/test.npz")
                        for name in runs)
    np.testing.assert_array_equal(local.y, cluster.y)
    local, cluster = (np.load(runs[name] / TARGET) for name in runs)
    np.testing.assert_array_equal(local["index"], cluster["index"])
    np.testing.assert_allclose(local["x_hat"], cluster["x_hat"], rtol=1e-4, atol=1e-4)


@pytest.mark.skipif(os.environ.get("PRBENCH_SLURM_FULL") != "1",
                    reason="the whole workflow through SLURM takes ~7 min; PRBENCH_SLURM_FULL=1")
def test_whole_workflow_through_slurm_matches_local_run(tmp_path):
    runs, log = run_both(tmp_path)
    assert "slurm_logs/rule_train_passive/" in log  # training went through SLURM too
    tables = [(runs[name] / "results/test/noiseless/tables/table1.md").read_text()
              for name in runs]
    assert tables[0] == tables[1]
