"""The Snakemake workflow, run for real on the tiny config/test.yaml in a temporary directory."""

import json
from importlib import metadata

import numpy as np
import pandas as pd
import pytest
import torch

from prbench.data import synth
from prbench.physics import forward
from prbench.registry import METHODS
from workflow_helpers import planned_jobs, snakemake, write_config

pytestmark = pytest.mark.e2e


def test_full_run_synthesizes_the_configured_sets(finished_run):
    workdir, _, config = finished_run
    results = workdir / "results" / config["run"] / "noiseless"
    for split in ("train", "test"):
        data = synth.load(results / "data" / f"{split}.npz")
        assert data.x.shape == (config["synthesis"][f"{split}_size"], 36, 36)
        np.testing.assert_allclose(data.y, forward(torch.from_numpy(data.x), 72).numpy(),
                                   rtol=1e-5)
        assert data.meta["seed"] == config["seed"]
        assert data.meta["provenance"]["packages"]["torch"] == metadata.version("torch")
        assert (results / "logs" / f"synthesize_{split}.log").stat().st_size > 0
        assert (results / "benchmarks" / f"synthesize_{split}.tsv").is_file()


def test_full_run_scores_every_configured_method(finished_run):
    workdir, _, config = finished_run
    results = workdir / "results" / config["run"] / "noiseless"
    scores = pd.read_csv(results / "scores.csv")
    methods = set(config["reconstruction"]["methods"])
    assert set(scores["method"]) == methods
    assert (scores.groupby("method").size() == config["synthesis"]["test_size"]).all()
    assert scores["mse"].between(0, 1).all()
    table = pd.read_csv(results / "tables" / "table1.csv")
    assert set(table["method"]) == methods
    markdown = (results / "tables" / "table1.md").read_text()
    assert "| Passive Refined |" in markdown and "0.187" in markdown
    for name in ("figure4", "mse_distribution", "training_curves"):
        assert (results / "figures" / f"{name}.png").stat().st_size > 0
        assert (results / "figures" / f"{name}.pdf").stat().st_size > 0
    for model in config["training"]["models"]:
        history = pd.read_csv(results / "models" / model / "history.csv")
        assert len(history) == config["training"]["models"][model]["epochs"]
        assert (results / "models" / model / "training_curves.png").is_file()
    record = json.loads((results / "provenance.json").read_text())
    assert record["seed"] == config["seed"] and record["config"]["run"] == config["run"]
    assert record["packages"]["torch"] == metadata.version("torch")


def test_provenance_wall_time_spans_every_job_of_the_run(finished_run):
    """wall_seconds against the run's benchmark files read here: each job ends at its
    file's mtime and started its 's' seconds before; every job but provenance counts."""
    workdir, _, config = finished_run
    results = workdir / "results" / config["run"] / "noiseless"
    spans = []
    for path in (results / "benchmarks").glob("*.tsv"):
        if path.name != "provenance.tsv":
            seconds = pd.read_csv(path, sep="\t")["s"].sum()
            spans.append((path.stat().st_mtime - seconds, path.stat().st_mtime))
    methods, shards = len(config["reconstruction"]["methods"]), config["reconstruction"]["shards"]
    models = len(config["training"]["models"])  # every U-Net of the tiny config is used
    selected = len({METHODS[name].model for name in config["reconstruction"]["methods"]
                    if METHODS[name].needs_support})
    # synthesis (2), networks (the U-Nets, the denoiser), support selections and their
    # table, methods x shards, a score per method, table, figures, training curves,
    # network diagnostics
    assert len(spans) == 2 + models + 1 + selected + 1 + methods * shards + methods + 4
    record = json.loads((results / "provenance.json").read_text())
    wall = max(end for _, end in spans) - min(start for start, _ in spans)
    assert record["wall_seconds"] == pytest.approx(wall, abs=2e-3)
    assert record["timings"]["jobs"] == len(spans) and record["timings"]["not_covered"] == []
    text = (results / "tables" / "timings.md").read_text()
    assert f"| reconstruct | {methods * shards} |" in text and f"| score | {methods} |" in text


def test_refined_shards_use_the_support_selected_on_validation_images(finished_run):
    workdir, _, config = finished_run
    results = workdir / "results" / config["run"] / "noiseless"
    selection = config["reconstruction"]["support_selection"]
    for model in ("naive", "passive"):
        record = json.loads((results / "support" / f"{model}.json").read_text())
        curve = pd.read_csv(results / "support" / f"{model}_curve.csv")
        assert len(curve) == len(selection["sigma"]) * len(selection["threshold"])
        assert (curve["images"] == selection["images"]).all()
        assert record["validation_images"] == selection["images"]
        best = curve.loc[curve["mean_mse"].idxmin()]
        assert record["choice"] == {"sigma": best["sigma"], "threshold": best["threshold"]}
        for method in (f"{model}_refined", f"{model}_support_only"):
            for shard in range(config["reconstruction"]["shards"]):
                with np.load(results / f"recon/{method}/shard{shard}.npz") as data:
                    recorded = json.loads(str(data["provenance"]))["config"]["support"]
                assert recorded == record["choice"], (method, shard)
    table = (results / "tables" / "support_selection.md").read_text()
    assert table.count("✓") == 2 and "selected with Passive Refined" in table


def test_report_is_a_self_contained_html_file(finished_run):
    workdir, config_path, _ = finished_run
    snakemake(workdir, "--configfile", str(config_path), "--report", "report.html")
    html = (workdir / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") or "<html" in html[:500]
    assert "table1.csv" in html and "figure4.png" in html


def test_rerun_has_nothing_to_do(finished_run):
    workdir, config_path, _ = finished_run
    result = snakemake(workdir, "--configfile", str(config_path), "-n")
    assert "Nothing to be done" in result.stdout + result.stderr


def test_changed_parameter_reruns_only_dependent_jobs(finished_run, tmp_path):
    workdir, _, config = finished_run
    iters = config["reconstruction"]["methods"]["hio"]["iters"] + 1
    changed_path, _ = write_config(tmp_path, **{"reconstruction.methods.hio.iters": iters})
    jobs = planned_jobs(snakemake(workdir, "--configfile", str(changed_path), "-n").stdout)
    shards = config["reconstruction"]["shards"]
    # The hio shards, their scoring, and the summaries downstream; nothing else.
    assert jobs == {"reconstruct": shards, "score": 1, "table": 1, "figures": 1,
                    "provenance": 1, "sweep_summary": 1, "sweep_timings": 1, "all": 1}


def test_changed_support_grid_reruns_the_selection_and_the_methods_that_use_it(finished_run,
                                                                              tmp_path):
    workdir, _, config = finished_run
    changed_path, _ = write_config(
        tmp_path, **{"reconstruction.support_selection.threshold": [0.1, 0.2]})
    jobs = planned_jobs(snakemake(workdir, "--configfile", str(changed_path), "-n").stdout)
    shards = config["reconstruction"]["shards"]
    built = [name for name in config["reconstruction"]["methods"] if METHODS[name].needs_support]
    assert len(built) == 5  # refined, support-only (naive, passive) and naive_sw
    # Both selections, the methods built on them, and the summaries downstream.
    assert jobs == {"select_support": 2, "reconstruct": len(built) * shards, "score": len(built),
                    "support_table": 1, "table": 1, "figures": 1, "provenance": 1,
                    "sweep_summary": 1, "sweep_timings": 1, "all": 1}


def test_partial_target_builds_only_what_it_needs(finished_run, tmp_path):
    workdir, _, config = finished_run
    changed_path, _ = write_config(tmp_path, **{"seed": config["seed"] + 1})
    target = f"results/{config['run']}/noiseless/recon/hio/shard0.npz"
    jobs = planned_jobs(snakemake(workdir, "--configfile", str(changed_path), "-n",
                                  target).stdout)
    assert jobs == {"synthesize": 1, "reconstruct": 1}


@pytest.mark.parametrize(
    "override, named",
    [({"seed": -1}, "instance['seed']"), ({"synthesis.m": 60}, "synthesis.m (scenario noiseless): m = 60"),
     ({"synthesis.object": "imaginary"}, "instance['synthesis']['object']"),
     ({"data.source": "ftp"}, "instance['data']['source']"),
     ({"run": ".."}, "instance['run']"), ({"run": "a/b"}, "instance['run']"),
     ({"synthesis.train_sizes": 5}, "'train_sizes' was unexpected")],
)
def test_bad_config_fails_before_any_job_and_names_the_key(tmp_path, override, named):
    config_path, _ = write_config(tmp_path, **override)
    result = snakemake(tmp_path, "--configfile", str(config_path), check=False)
    assert result.returncode != 0
    assert named in result.stderr + result.stdout
    assert not (tmp_path / "results").exists()
