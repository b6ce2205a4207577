"""Deterministic .npz writes, checked reads of intermediates, and the recorded git revision."""

import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest
import torch

from prbench import provenance
from prbench.io import CorruptFileError, load_npz, load_torch, save_npz, save_torch

def regenerate(path, rule="reconstruct"):
    """The repair advice for ``path`` outside a workflow run (no PRBENCH_RERUN)."""
    return (f"It is written by rule `{rule}`; to regenerate it and everything that depends on "
            f"it, run: snakemake --forcerun {path}")


def example_arrays():
    rng = np.random.default_rng(0)
    return {
        "x_hat": rng.normal(size=(2, 3, 3, 2)).astype(np.float32).view(np.complex64)[..., 0],
        "index": np.array([4, 7], dtype=np.int64),
        "images": rng.integers(0, 256, (2, 5, 5)).astype(np.uint8),
        "residual": np.array([0.25, 0.5], dtype=np.float32),
        "empty": np.zeros((0, 3), dtype=np.float64),
        "flags": np.array([True, False]),
        "device": np.array("cuda:0"),
    }


def test_save_npz_bytes_depend_only_on_the_arrays(tmp_path, monkeypatch):
    arrays = example_arrays()
    monkeypatch.setattr(time, "time", lambda: 1_000_000_000.0)  # 2001
    save_npz(tmp_path / "a.npz", **arrays)
    monkeypatch.setattr(time, "time", lambda: 1_700_000_000.0)  # 2023
    save_npz(tmp_path / "b.npz", **arrays)
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    with zipfile.ZipFile(tmp_path / "a.npz") as archive:
        entries = archive.infolist()
    assert [entry.filename for entry in entries] == [f"{name}.npy" for name in arrays]
    assert {entry.date_time for entry in entries} == {(1980, 1, 1, 0, 0, 0)}
    assert {entry.compress_type for entry in entries} == {zipfile.ZIP_STORED}


def test_save_npz_round_trips_exactly(tmp_path):
    arrays = example_arrays()
    save_npz(tmp_path / "a.npz", **arrays)
    loaded = load_npz(tmp_path / "a.npz", keys=list(arrays), produced_by="reconstruct")
    with np.load(tmp_path / "a.npz") as independent:
        assert sorted(independent.files) == sorted(arrays)
        for name, array in arrays.items():
            for copy in (loaded[name], independent[name]):
                assert copy.dtype == array.dtype and copy.shape == array.shape
                np.testing.assert_array_equal(copy, array)
    assert loaded["device"].shape == () and str(loaded["device"]) == "cuda:0"
    # Only the requested arrays are returned.
    assert list(load_npz(tmp_path / "a.npz", keys=["index"], produced_by="x")) == ["index"]


def damage(path, how):
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "overwritten":  # zeroes inside the first array's data: a CRC mismatch
        path.write_bytes(data[:200] + bytes(16) + data[216:])
    elif how == "missing":
        path.unlink()
    elif how == "npy":
        np.save(path.with_suffix(".npy"), np.arange(3))
        path.with_suffix(".npy").replace(path)


@pytest.mark.parametrize("how", ["truncated", "empty", "overwritten", "missing", "npy"])
def test_unreadable_npz_raises_one_error_naming_the_file_and_the_fix(tmp_path, how):
    path = tmp_path / "shard0.npz"
    save_npz(path, **example_arrays())
    damage(path, how)
    with pytest.raises(CorruptFileError) as raised:
        load_npz(path, keys=list(example_arrays()), produced_by="reconstruct")
    message = str(raised.value)
    assert str(path) in message and regenerate(path) in message


def test_missing_array_is_named(tmp_path):
    path = tmp_path / "shard0.npz"
    save_npz(path, x_hat=np.zeros(2), index=np.arange(2))
    with pytest.raises(CorruptFileError) as raised:
        load_npz(path, keys=["x_hat", "seconds", "index"], produced_by="reconstruct")
    message = str(raised.value)
    assert "missing array 'seconds'" in message and str(path) in message
    assert "'x_hat'" not in message.split(";")[0] and regenerate(path) in message


def test_load_torch_round_trips_and_reports_damage(tmp_path):
    path = tmp_path / "best.pt"
    weights = {"conv.weight": torch.arange(600.0).reshape(20, 30)}
    save_torch(weights, path)
    assert torch.equal(load_torch(path, produced_by="train")["conv.weight"],
                       weights["conv.weight"])
    for how in ("truncated", "empty", "missing"):
        save_torch(weights, path)
        damage(path, how)
        with pytest.raises(CorruptFileError) as raised:
            load_torch(path, produced_by="train")
        message = str(raised.value)
        assert str(path) in message and regenerate(path, "train") in message


def test_io_imports_without_torch():
    code = "import sys; sys.modules['torch'] = None; import prbench.io"
    subprocess.run([sys.executable, "-c", code], check=True)


def git(repository, *args):
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org",
                           "-c", "commit.gpgsign=false", *args], cwd=repository, check=True,
                          capture_output=True, text=True).stdout.strip()


def test_git_revision_describes_the_given_checkout(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    repository = tmp_path / "workflow"
    (repository / "scripts").mkdir(parents=True)
    (repository / "scripts" / "step.py").write_text("print(1)\n")
    git(repository, "init", "-q")
    git(repository, "add", ".")
    git(repository, "commit", "-q", "-m", "first")
    head = git(repository, "rev-parse", "HEAD")
    assert len(head) == 40
    assert provenance.git_revision(repository) == head
    assert provenance.git_revision(repository / "scripts") == head
    (repository / "untracked.txt").write_text("not part of the code\n")
    assert provenance.git_revision(repository) == head
    (repository / "scripts" / "step.py").write_text("print(2)\n")
    assert provenance.git_revision(repository) == f"{head}-dirty"
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    assert provenance.git_revision(outside) is None
    assert provenance.collect(repository=repository)["git_revision"] == f"{head}-dirty"
    assert provenance.collect(seed=1)["git_revision"] is None
