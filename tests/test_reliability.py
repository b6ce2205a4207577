"""Reruns are always right: each case here once ended with exit 0 and a stale or wrong table.

Every test runs the real workflow on the tiny config (config/test.yaml) or a variant
of it, in a temporary directory; a test that changes a finished run works on a copy.
"""

import hashlib
import re

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from prbench.data import synth
from workflow_helpers import ROOT, copy_run, planned_jobs, snakemake, write_config

pytestmark = pytest.mark.e2e

MODELS = "results/test/noiseless/models"


def weights(path):
    return torch.load(path, weights_only=True)["model"]


def same_weights(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)


def test_forcerun_retrains_the_network(finished_run, tmp_path):
    workdir = copy_run(finished_run[0], tmp_path / "run")
    before = weights(workdir / MODELS / "naive/best.pt")
    snakemake(workdir, f"{MODELS}/naive/best.pt", "--configfile", str(finished_run[1]),
              "--forcerun", "train_naive")
    log = (workdir / "results/test/noiseless/logs/train_naive.log").read_text()
    assert "training from scratch" in log and "trained 1 epochs (resumed after epoch 0)" in log
    # Trained again from the same seed and data: the same weights, bit for bit.
    assert same_weights(before, weights(workdir / MODELS / "naive/best.pt"))


def test_changed_training_settings_retrain_exactly_those_networks(finished_run, tmp_path):
    workdir = copy_run(finished_run[0], tmp_path / "run")
    config_path, _ = write_config(tmp_path, **{"training.models.naive.epochs": 2,
                                               "training.models.passive.widths": [4, 8, 16]})
    jobs = planned_jobs(snakemake(workdir, "--configfile", str(config_path), "-n").stdout)
    assert jobs["train_naive"] == 1 and jobs["train_passive"] == 1
    assert not {"train_denoiser", "synthesize", "download_fashion_mnist"} & set(jobs)
    denoiser = (workdir / MODELS / "denoiser/best.pt").stat().st_mtime_ns
    snakemake(workdir, "--configfile", str(config_path))
    naive = pd.read_csv(workdir / MODELS / "naive/history.csv")
    assert naive["epoch"].tolist() == [1, 2]
    passive = torch.load(workdir / MODELS / "passive/best.pt", weights_only=True)
    assert passive["model_config"]["widths"] == [4, 8, 16]
    assert (workdir / MODELS / "denoiser/best.pt").stat().st_mtime_ns == denoiser
    assert snakemake(workdir, "--configfile", str(config_path), "-n").stdout.count("train_") == 0


def test_changed_data_retrains_every_network(finished_run, tmp_path):
    workdir = copy_run(finished_run[0], tmp_path / "run")
    before = {model: weights(workdir / MODELS / model / "best.pt")
              for model in ("naive", "passive", "denoiser")}
    config_path, _ = write_config(tmp_path, **{"synthesis.object": "complex"})
    targets = [f"{MODELS}/{model}/best.pt" for model in before]
    snakemake(workdir, *targets, "--configfile", str(config_path))
    train = synth.load(workdir / "results/test/noiseless/data/train.npz")
    assert np.iscomplexobj(train.x) and np.abs(train.x.imag).max() > 0.1
    for model, old in before.items():
        assert not same_weights(old, weights(workdir / MODELS / model / "best.pt")), model


def test_a_config_listing_two_methods_plans_exactly_those(tmp_path):
    config_path, config = write_config(
        tmp_path, **{"training": None, "denoiser": None, "report.paired_reference": "hio",
                     "reconstruction.methods": {"hio": {"iters": 30}, "alm": {"n_starts": 1}}})
    shards = config["reconstruction"]["shards"]
    jobs = planned_jobs(snakemake(tmp_path, "--configfile", str(config_path), "-n").stdout)
    assert jobs == {"download_fashion_mnist": 1, "synthesize": 1, "reconstruct": 2 * shards,
                    "score": 2, "table": 1, "figures": 1, "provenance": 1,
                    "sweep_summary": 1, "sweep_timings": 1, "all": 1}


def test_the_default_config_is_used_only_without_a_configfile(tmp_path):
    """`snakemake` alone plans config/config.yaml's run; --configfile replaces it."""
    default = snakemake(tmp_path, "-n").stdout
    assert "results/default/" in default and "results/test/" not in default
    config_path, _ = write_config(tmp_path)
    given = snakemake(tmp_path, "--configfile", str(config_path), "-n").stdout
    assert "results/test/" in given and "results/default/" not in given


@pytest.fixture(scope="module")
def small_frame_run(tmp_path_factory):
    """A run with n = 30, m = 60 and a few methods of every kind (frame-support iterative,
    support-free, network, refined, prDeep), one shard."""
    workdir = tmp_path_factory.mktemp("small_frame")
    methods = yaml_methods("hio", "alm", "hio_sw", "naive_dnn", "passive_dnn",
                           "passive_refined", "prdeep")
    config_path, config = write_config(
        workdir, **{"run": "frame30", "synthesis.n": 30, "synthesis.m": 60,
                    "reconstruction.shards": 1, "reconstruction.methods": methods})
    snakemake(workdir, "--configfile", str(config_path))
    return workdir, config_path, config


def yaml_methods(*names):
    """The tiny config's settings of the named methods."""
    config = yaml.safe_load((ROOT / "config" / "test.yaml").read_text())
    return {name: config["reconstruction"]["methods"][name] for name in names}


def test_the_frame_follows_synthesis_n(small_frame_run):
    workdir, _, config = small_frame_run
    results = workdir / "results/frame30/noiseless"
    test = synth.load(results / "data/test.npz")
    assert test.x.shape[1:] == (30, 30) and test.y.shape[1:] == (60, 60)
    for method in ("hio", "alm", "hio_sw", "passive_refined", "prdeep"):
        with np.load(results / f"recon/{method}/shard0.npz") as shard:
            x_hat = shard["x_hat"]
        assert x_hat.shape[1:] == (60, 60), method
        if method in ("hio_sw", "passive_refined"):
            continue  # their supports come from the autocorrelation / the network output
        outside = np.abs(x_hat).astype(np.float64) ** 2
        outside[:, :30, :30] = 0
        assert outside.sum() <= 1e-10 * (np.abs(x_hat) ** 2).sum(), method
    for method in ("naive_dnn", "passive_dnn"):
        with np.load(results / f"recon/{method}/shard0.npz") as shard:
            assert shard["x_hat"].shape[1:] == (30, 30), method
    scores = pd.read_csv(results / "scores.csv")
    assert set(scores["method"]) == set(config["reconstruction"]["methods"])
    assert scores["mse"].between(0, 1).all()


def without_times(path):
    """A file's bytes without what measures time: tables/timings.md (job times) is left
    out whole, tables/networks.md without its last column (training images/s)."""
    if path.name == "networks.md":
        lines = path.read_text().splitlines()
        return "\n".join(re.sub(r"[^|]*\|$", "", line) if line.startswith("|") else line
                         for line in lines).encode()
    return path.read_bytes()


def digests(results):
    """SHA-256 of every table, figure and score file of a run; scores without `seconds`,
    tables without their time records (without_times)."""
    scores = sorted([*results.glob("scores/*.csv"), results / "scores.csv"])
    out = {str(path.relative_to(results)): hashlib.sha256(without_times(path)).hexdigest()
           for path in sorted([*results.glob("tables/*"), *results.glob("figures/*")])
           if path.name != "timings.md"}
    for path in scores:
        data = pd.read_csv(path).drop(columns="seconds").to_csv(index=False).encode()
        out[str(path.relative_to(results))] = hashlib.sha256(data).hexdigest()
    return out


def test_two_runs_give_byte_identical_tables_figures_and_scores(small_frame_run, tmp_path):
    workdir, config_path, _ = small_frame_run
    again = copy_run(workdir, tmp_path / "again")
    snakemake(again, "--configfile", str(config_path), "--forceall")
    for model in ("naive", "passive", "denoiser"):
        assert "training from scratch" in (again / f"results/frame30/noiseless/logs/train_{model}.log"
                                           ).read_text()
    first, second = (digests(path / "results/frame30/noiseless") for path in (workdir, again))
    assert len(first) >= 10 and "figures/figure4.pdf" in first
    assert first == second


def test_switching_configs_reruns_nothing_of_the_other_run(finished_run, tmp_path):
    workdir = copy_run(finished_run[0], tmp_path / "run")
    other_path, _ = write_config(tmp_path, name="other.yaml",
                                 **{"run": "other", "seed": 5, "synthesis.test_size": 8})
    snakemake(workdir, "results/other/noiseless/data/test.npz", "--configfile", str(other_path))
    result = snakemake(workdir, "--configfile", str(finished_run[1]), "-n")
    assert "Nothing to be done" in result.stdout + result.stderr
