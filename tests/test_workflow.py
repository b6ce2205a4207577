"""The Snakemake workflow, run for real on the tiny config/test.yaml in a temporary directory.

Fashion-MNIST comes from the configured sources; the download cache is the
repository's resources/downloads so that repeated runs fetch it once.
"""

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from prbench.data import synth
from prbench.physics import forward

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.e2e


def snakemake(workdir, *arguments, check=True):
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"),
               "--directory", str(workdir), "--cores", "2", *arguments]
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=1800)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def write_config(directory, **overrides):
    config = yaml.safe_load((ROOT / "config" / "test.yaml").read_text())
    config["data"]["cache_dir"] = str(ROOT / "resources" / "downloads")
    for dotted, value in overrides.items():
        *parents, key = dotted.split(".")
        node = config
        for parent in parents:
            node = node[parent]
        node[key] = value
    path = Path(directory) / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path, config


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("workflow")
    config_path, config = write_config(workdir)
    snakemake(workdir, "--configfile", str(config_path))
    return workdir, config_path, config


def test_full_run_synthesizes_the_configured_sets(finished_run):
    workdir, _, config = finished_run
    results = workdir / "results" / config["run"]
    for split in ("train", "test"):
        data = synth.load(results / "data" / f"{split}.npz")
        assert data.x.shape == (config["synthesis"][f"{split}_size"], 36, 36)
        np.testing.assert_allclose(data.y, forward(torch.from_numpy(data.x), 72).numpy(),
                                   rtol=1e-5)
        assert data.meta["seed"] == config["seed"]
        assert data.meta["provenance"]["packages"]["torch"] == metadata.version("torch")
        assert (results / "logs" / f"synthesize_{split}.log").stat().st_size > 0
        assert (results / "benchmarks" / f"synthesize_{split}.tsv").is_file()


def test_rerun_has_nothing_to_do(finished_run):
    workdir, config_path, _ = finished_run
    result = snakemake(workdir, "--configfile", str(config_path), "-n")
    assert "Nothing to be done" in result.stdout + result.stderr


def test_changed_parameter_reruns_only_dependent_jobs(finished_run, tmp_path):
    workdir, _, _ = finished_run
    changed_path, _ = write_config(tmp_path, **{"synthesis.test_size": 10})
    result = snakemake(workdir, "--configfile", str(changed_path), "-n")
    plan = result.stdout
    assert "synthesize" in plan and "download_fashion_mnist" not in plan.split("Job stats")[-1]
    assert "wildcards: split=test" in plan and "wildcards: split=train" not in plan


@pytest.mark.parametrize(
    "override, named",
    [({"seed": -1}, "instance['seed']"), ({"synthesis.m": 60}, "synthesis.m = 60"),
     ({"synthesis.object": "imaginary"}, "instance['synthesis']['object']"),
     ({"data.sources": ["ftp"]}, "instance['data']['sources']"),
     ({"synthesis.train_sizes": 5}, "'train_sizes' was unexpected")],
)
def test_bad_config_fails_before_any_job_and_names_the_key(tmp_path, override, named):
    config_path, _ = write_config(tmp_path, **override)
    result = snakemake(tmp_path, "--configfile", str(config_path), check=False)
    assert result.returncode != 0
    assert named in result.stderr + result.stdout
    assert not (tmp_path / "results").exists()


def test_lint_is_clean():
    result = subprocess.run([sys.executable, "-m", "snakemake", "--lint"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
