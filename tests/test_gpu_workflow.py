"""tools/gpu/gpu_workflow.py's run-time parts that the GPU node depends on and that run on
any machine: stopping a run at the time budget, the partial time record, and the files
brought back within the device's limits."""

import importlib.util
import json
import os
import sys
import tarfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def gpu_workflow(tmp_path, monkeypatch):
    """The command line as a module (its jobs' modules beside it on the path), its
    repository root moved to ``tmp_path``."""
    monkeypatch.setattr(sys, "path", [str(ROOT / "tools" / "gpu"), *sys.path])
    spec = importlib.util.spec_from_file_location("gpu_workflow",
                                                  ROOT / "tools" / "gpu" / "gpu_workflow.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module.gpu, "ROOT", tmp_path)
    (tmp_path / "src").symlink_to(ROOT / "src")  # partial_timings imports prbench from there
    return module


def running(pid):
    """Whether process ``pid`` exists and is not a zombie (ended, not yet reaped by the
    process that inherited it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_run_past_its_time_is_stopped_with_its_children(gpu_workflow, tmp_path):
    pid_file = tmp_path / "child.pid"
    script = f"sleep 300 & echo $! > {pid_file}; echo started; wait"
    start = time.monotonic()
    with open(tmp_path / "log", "w") as log:
        code, stopped = gpu_workflow.tee(["bash", "-c", script], dict(os.environ), log,
                                         timeout=2)
    assert stopped and code != 0
    assert time.monotonic() - start < 20  # SIGTERM ended it; no 20-s wait for SIGKILL
    child = int(pid_file.read_text())
    time.sleep(0.2)
    assert not running(child)  # the grandchild went with its group
    assert "started" in (tmp_path / "log").read_text()
    with open(tmp_path / "log2", "w") as log:
        assert gpu_workflow.tee(["bash", "-c", "exit 3"], dict(os.environ), log,
                                timeout=30) == (3, False)


def fake_benchmark(folder, name, seconds, end):
    path = folder / f"{name}.tsv"
    path.write_text(f"s\th:m:s\tmax_rss\n{seconds}\t0:00:01\t10\n")
    os.utime(path, (end, end))


def fake_run(root, run, scores_bytes):
    """results/<run>/noiseless with a table, a png and a pdf figure, benchmark files and
    scores.csv of ``scores_bytes`` random (incompressible) bytes."""
    results = root / "results" / run / "noiseless"
    for folder in ("tables", "figures", "benchmarks", "logs", "models/naive"):
        (results / folder).mkdir(parents=True)
    (results / "tables" / "table1.md").write_text("| method |\n")
    (results / "figures" / "figure4.png").write_bytes(b"png")
    (results / "figures" / "figure4.pdf").write_bytes(b"pdf")
    (results / "models" / "naive" / "history.csv").write_text("epoch\n1\n")
    (results / "models" / "naive" / "best.pt").write_bytes(b"weights")
    (results / "scores.csv").write_bytes(os.urandom(scores_bytes))
    fake_benchmark(results / "benchmarks", "synthesize_test", 3.0, 1000.0)
    fake_benchmark(results / "benchmarks", "reconstruct_hio_shard0", 20.0, 1030.0)
    fake_benchmark(results / "benchmarks", "reconstruct_hio_shard1", 25.0, 1040.0)
    return results


def test_a_stopped_run_brings_back_its_partial_times_within_the_limits(gpu_workflow, tmp_path):
    """Two runs: `small` finished (provenance and timings written), `big` was stopped (no
    provenance) and has a scores.csv over the per-file limit, which its tar leaves out."""
    small = fake_run(tmp_path, "small", 1000)
    (small / "provenance.json").write_text("{}")
    (small / "tables" / "timings.md").write_text("small's timings")
    big = fake_run(tmp_path, "big", 17 * 2**20)
    (big / "tables" / "table1.md").unlink()  # stopped before its table
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.html").write_text("<html>")
    (out / "run.log").write_text("log")
    entries = [{"run": "small"}, {"run": "big"}]
    summary = {"runs": entries}
    gpu_workflow.collect(out, entries, summary)
    names = sorted(path.name for path in out.iterdir())
    assert names == ["big.tar.gz", "report.html", "run.log", "small.tar.gz", "summary.json",
                     "timings.md"]  # big has no table1.md or provenance.json to copy
    assert entries[1]["left_out_of_tar"] == ["results/big/noiseless/scores.csv"]
    assert entries[0]["left_out_of_tar"] == []
    written = json.loads((out / "summary.json").read_text())
    assert written["out_within_limits"] and written["out_problems"] == []
    with tarfile.open(out / "small.tar.gz") as tar:
        members = set(tar.getnames())
    assert {f"results/small/noiseless/{name}" for name in (
        "scores.csv", "figures/figure4.png", "tables/timings.md", "provenance.json",
        "models/naive/history.csv")} <= members
    assert not {"results/small/noiseless/figures/figure4.pdf",
                "results/small/noiseless/models/naive/best.pt"} & members
    # the last run's partial record: 3 jobs from 997 (1000 - 3) to 1040
    timings = (out / "timings.md").read_text()
    assert timings.startswith("PARTIAL")
    assert "| reconstruct | 2 | 45.0 | 25.0 | 13.0 | 43.0 |" in timings
    assert "Wall 43.0 s" in timings


def test_more_files_than_the_device_returns_are_reported(gpu_workflow, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    for k in range(9):
        (out / f"extra{k}.txt").write_text("x")
    summary = {}
    gpu_workflow.collect(out, [], summary)
    assert not summary["out_within_limits"]
    assert summary["out_problems"] == ["10 files > 8"]  # nine plus summary.json


def test_the_default_configs_fit_the_files_the_device_returns(gpu_workflow):
    assert len(gpu_workflow.DEFAULT_CONFIGS) <= gpu_workflow.MAX_CONFIGS
    assert len(gpu_workflow.FLAT) + gpu_workflow.MAX_CONFIGS == gpu_workflow.OUT_LIMIT_FILES
    assert [gpu_workflow.run_name(config) for config in gpu_workflow.DEFAULT_CONFIGS] == [
        "gpu-smoke", "gpu"]
