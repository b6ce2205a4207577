"""Helpers for tests that run the Snakemake workflow for real, in temporary directories.

Fashion-MNIST comes from the configured source; the download cache is the
repository's resources/downloads (PRBENCH_DOWNLOAD_CACHE) so that repeated runs
fetch it once.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DOWNLOAD_CACHE = ROOT / "resources" / "downloads"


def snakemake(workdir, *arguments, check=True):
    """Run ``snakemake`` on the repository's Snakefile in ``workdir``; the finished process."""
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"),
               "--directory", str(workdir), "--cores", "2", *arguments]
    env = {**os.environ, "PRBENCH_DOWNLOAD_CACHE": str(DOWNLOAD_CACHE)}
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=1800,
                            env=env)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def write_config(directory, name="config.yaml", base="test.yaml", **overrides):
    """config/<base> with dotted-key overrides (``None`` deletes a key), written to directory."""
    config = yaml.safe_load((ROOT / "config" / base).read_text())
    for dotted, value in overrides.items():
        *parents, key = dotted.split(".")
        node = config
        for parent in parents:
            node = node[parent]
        if value is None:
            del node[key]
        else:
            node[key] = value
    path = Path(directory) / name
    path.write_text(yaml.safe_dump(config))
    return path, config


def planned_jobs(plan):
    """Job counts from the 'Job stats' table of a dry run ({} when nothing is to be done)."""
    if "Job stats:" not in plan:
        return {}
    table = plan.split("Job stats:")[1].split("total")[0]
    return {line.split()[0]: int(line.split()[1]) for line in table.splitlines()[3:]
            if line.strip()}


def copy_run(source, destination):
    """Copy a finished work directory (results and Snakemake's metadata, mtimes kept)."""
    shutil.copytree(source, destination, symlinks=True)
    return Path(destination)
