# Shared names and helpers (no rules here). Planning imports only the torch-free registry
# and config checks: `snakemake -n` and `--lint` need no torch.
import json
import os
import re
import shlex
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.io import get_wildcard_names, strip_wildcard_constraints
from snakemake.logging import logger

from prbench.config import SUMMARY_FOLDER, scenario_config, scenario_synthesis
from prbench.config import owners_of_test_splits
from prbench.config import check as check_config
from prbench.io import RERUN_VARIABLE, WORKDIR_VARIABLE
from prbench.registry import METHODS, PLUGINS_VARIABLE, SUPPORT_SELECTORS, load_plugins

# The config's plugins register their methods before the config's methods are checked;
# the jobs (local or on a cluster) load the same modules (prbench.stages.run).
load_plugins(config.get("plugins", []))
os.environ[PLUGINS_VARIABLE] = json.dumps(config.get("plugins", []))
check_config(config, schema=SCHEMA)


def refuse_subfolder_of_checkout():
    """Outputs are written under the working directory: refuse one strictly inside the
    checkout (e.g. `cd workflow && snakemake -s ../Snakefile`), where results/ and
    resources/ would land in unignored folders of the repository."""
    root, here = Path(workflow.basedir).resolve(), Path.cwd().resolve()
    if here != root and root in here.parents:
        raise WorkflowError(
            f"snakemake runs in {here}, a subfolder of the prbench checkout {root}: it would "
            f"write results/ and resources/ there. Run it from the checkout's root "
            f"(cd {shlex.quote(str(root))}) or give another folder with --directory."
        )


def rerun_command():
    """The snakemake command line of this run without targets: its Snakefile (unless it is
    ./Snakefile), the profile and executor options it was given, its config files and
    --config overrides. Readers that find a damaged input print it with
    `--forcerun <file>` (prbench.io.repair_command)."""
    words = ["snakemake"]
    snakefile = Path(workflow.main_snakefile).resolve()
    if snakefile != (Path.cwd() / "Snakefile").resolve():
        words += ["--snakefile", str(snakefile)]
    words += execution_options(sys.argv[1:])
    if workflow.overwrite_configfiles:
        words += ["--configfile", *map(str, workflow.overwrite_configfiles)]
    if workflow.config_settings.config_args:
        words += ["--config", *workflow.config_settings.config_args]
    return shlex.join(words)


def execution_options(arguments):
    """The options among a snakemake command's ``arguments`` that say where its jobs run
    (--profile, --workflow-profile, --executor/-e), each with its one value."""
    kept, words = [], iter(arguments)
    for word in words:
        name, equals, _ = word.partition("=")
        if name in ("--profile", "--workflow-profile", "--executor", "-e"):
            kept += [word] if equals else [word, next(words, "")]
    return kept


refuse_subfolder_of_checkout()
# Set by the command a user typed; its jobs (local or on a cluster) inherit it.
os.environ.setdefault(RERUN_VARIABLE, rerun_command())
os.environ.setdefault(WORKDIR_VARIABLE, os.getcwd())

RUN = config["run"]
# Every stage runs per scenario: RESULTS is a pattern with the wildcard {scenario}; expand()
# over other wildcards keeps it (allow_missing=True) for the job's own scenario to fill.
SCENARIOS = list(config["scenarios"])
RESULTS = f"results/{RUN}/{{scenario}}"
SUMMARY = f"results/{RUN}/{SUMMARY_FOLDER}"


def report_stale_scenarios():
    """Warn about folders of results/<run>/ that belong to no configured scenario (left by
    an earlier version of the config): nothing reads them, and nothing removes them."""
    folder = Path("results", RUN)
    stale = sorted(
        path.name
        for path in (folder.iterdir() if folder.is_dir() else [])
        if path.is_dir() and path.name not in SCENARIOS + [SUMMARY_FOLDER]
    )
    if stale:
        logger.warning(
            f"results/{RUN}/ holds folders of scenarios this config does not list: "
            f"{', '.join(stale)}. They are not part of this run's tables or summary; "
            f"remove them with: rm -r "
            + " ".join(shlex.quote(str(folder / name)) for name in stale)
        )


report_stale_scenarios()


wildcard_constraints:
    scenario="|".join(map(re.escape, SCENARIOS)),


ENV = "../envs/prbench.yml"
SHARDS = range(config["reconstruction"]["shards"])
ALL_METHODS = list(config["reconstruction"]["methods"])
# Test images every method's scores and table rows must cover (readers check them).
TEST_IMAGES = config["synthesis"]["test_size"]
# Networks are trained only when a configured method needs them (the registry's kinds).
KINDS = {METHODS[method].kind for method in ALL_METHODS}
# In the registry's order (SUPPORT_SELECTORS), not the config's: the tables list them so.
MODELS = [
    model
    for model in SUPPORT_SELECTORS
    if any(METHODS[method].model == model for method in ALL_METHODS)
]
TRAINED = MODELS + (["denoiser"] if "prdeep" in KINDS else [])
# Epochs of every trained network: its history.csv must hold each (readers check them).
EPOCHS = {model: config["training"]["models"][model]["epochs"] for model in MODELS} | (
    {"denoiser": config["denoiser"]["epochs"]} if "denoiser" in TRAINED else {}
)
# Networks whose output a configured method takes its support from: their support is
# selected on the validation split (support.smk).
SELECTED = [
    model
    for model in MODELS
    if any(
        METHODS[method].needs_support and METHODS[method].model == model
        for method in ALL_METHODS
    )
]
# The decoded Fashion-MNIST of the configured source: one file per source, shared by
# every run (its rule has no run-dependent parameters).
FASHION_MNIST = f"resources/fashion_mnist/{config['data']['source']}.npz"
# Scenarios that differ only in train_size share their test split: the first of them (its
# owner) synthesizes it and runs every method that needs nothing trained; the others read
# those rows from the owner's folder (prbench.config.owners_of_test_splits).
OWNERS = owners_of_test_splits(config)
TRAINING_FREE = [method for method in ALL_METHODS if not METHODS[method].needs()]


def owns_test_set(scenario):
    """Whether ``scenario`` synthesizes its test split (others read their owner's)."""
    return OWNERS[scenario] == scenario


def splits(scenario):
    """The splits a scenario synthesizes: the test split if it owns it, the train split
    when a network is trained or a method reads it."""
    return (["test"] if owns_test_set(scenario) else []) + (
        ["train"] if TRAINED or "calibration" in KINDS else []
    )


def methods_run_in(scenario):
    """The methods whose shards and scores a scenario computes itself."""
    own = RESULTS.format(scenario=scenario)
    return [method for method in ALL_METHODS if method_folder(scenario, method) == own]


def method_folder(scenario, method):
    """The scenario folder that holds ``method``'s shards, scores and aligned
    reconstructions for ``scenario``: its test set's owner for a training-free method.
    """
    owner = OWNERS[scenario] if method in TRAINING_FREE else scenario
    return f"results/{RUN}/{owner}"


def test_set(wildcards):
    """The test split of the job's scenario (its owner's file)."""
    return f"results/{RUN}/{OWNERS[wildcards.scenario]}/data/test.npz"


def method_files(kind, extension):
    """An input function: every configured method's ``<kind>/<method>.<extension>`` for
    the job's scenario, in ALL_METHODS order, from the folder that computes it."""

    def files(wildcards):
        return [
            f"{method_folder(wildcards.scenario, method)}/{kind}/{method}.{extension}"
            for method in ALL_METHODS
        ]

    return files


def gpu_jobs(device):
    """The resource `gpu_jobs` of a job on ``device``: 1 unless it runs on the CPU, so that
    `snakemake --resources gpu_jobs=N` runs at most N jobs on a GPU at once."""
    return 0 if device == "cpu" else 1


def reconstruction_inputs(wildcards):
    """The test set and, from the registry, what else a method's shard needs (its trained
    network and selected support, its denoiser, or the training split)."""
    folder = RESULTS.format(scenario=wildcards.scenario)
    needs = METHODS[wildcards.method].needs()
    return {"test": test_set(wildcards)} | {
        role: f"{folder}/{path}" for role, path in needs.items()
    }


def reconstruction_gpu_jobs(wildcards):
    """gpu_jobs of a reconstruction job: none for a method that runs on the CPU alone."""
    if METHODS[wildcards.method].kind == "calibration":
        return 0
    return gpu_jobs(config["reconstruction"]["device"])


def per_scenario(pattern, **wildcards):
    """expand() of a pattern under RESULTS over ``wildcards``, keeping {scenario}."""
    return expand(pattern, **wildcards, allow_missing=True)


def scenario_setting(*keys):
    """A params function: config[keys...] of the job's scenario (prbench.config.scenario_config)."""

    def setting(wildcards):
        node = scenario_config(config, wildcards.scenario)
        for key in keys:
            node = node[key]
        return node

    return setting


def job_wildcards(scenario):
    """The values each wildcard of a rule's benchmark record takes among ``scenario``'s
    jobs: the splits it synthesizes, the methods it reconstructs and scores itself (the
    training-free rows it reads from its test set's owner are timed there), the shards and
    the models whose support it selects."""
    return {
        "split": splits(scenario),
        "method": methods_run_in(scenario),
        "shard": list(SHARDS),
        "model": SELECTED,
    }


def run_benchmarks(scenario):
    """{rule: its jobs' benchmark files} for every job of ``scenario`` except `provenance`,
    which reads them all (its time record cannot include itself), derived from the
    workflow's rules: each rule whose record lies in the scenario's folder, its pattern
    expanded over job_wildcards(). The shared Fashion-MNIST decoding (resources/) and the
    run's summary belong to no scenario."""
    values = job_wildcards(scenario)
    jobs = {}
    # by name: the order of workflow.rules differs between processes, and the provenance
    # rule's params (their order included) must not
    for each in sorted(workflow.rules, key=lambda rule: rule.name):
        pattern = strip_wildcard_constraints(str(each.benchmark or ""))
        if each.name == "provenance" or not pattern.startswith(f"{RESULTS}/"):
            continue
        pattern = pattern.replace("{scenario}", scenario)
        unknown = set(get_wildcard_names(pattern)) - set(values)
        if unknown:
            raise WorkflowError(
                f"the benchmark record {pattern} of rule {each.name!r} has wildcards "
                f"{sorted(unknown)} whose values in a run job_wildcards() does not state"
            )
        # sorted: the set's order, and expand()'s product order with it, varies by process
        names = sorted(get_wildcard_names(pattern))
        jobs[each.name] = expand(pattern, **{name: values[name] for name in names})
    return {rule: paths for rule, paths in jobs.items() if paths}


def check_benchmarks(rules):
    """Every rule but `all` writes a benchmark record, and every record in a scenario's
    folder is one run_benchmarks() can list, so that the scenario's time record
    (provenance.json, tables/timings.md) leaves no job out."""
    unrecorded = [
        each.name for each in rules if each.name != "all" and not each.benchmark
    ]
    if unrecorded:
        raise WorkflowError(f"rules without a benchmark record: {unrecorded}")
    for name in SCENARIOS:
        run_benchmarks(name)


def scenario_outputs():
    """Everything a scenario produces (patterns with {scenario}): Table 1, figures,
    provenance, the time table, the networks' diagnostics and, where supports are
    selected, the selection's table."""
    return (
        [
            f"{RESULTS}/tables/table1.md",
            f"{RESULTS}/figures/figure4.png",
            f"{RESULTS}/provenance.json",
            f"{RESULTS}/tables/timings.md",
        ]
        + ([f"{RESULTS}/figures/training_curves.png"] if TRAINED else [])
        + ([f"{RESULTS}/tables/networks.md"] if MODELS else [])
        + ([f"{RESULTS}/tables/support_selection.md"] if SELECTED else [])
    )


def sweep_parameters():
    """{scenario: its synthesis parameters that the sweep summary shows}."""
    keys = ("object", "photons", "n", "m", "train_size")
    return {
        name: {key: scenario_synthesis(config, name)[key] for key in keys}
        for name in SCENARIOS
    }


def scenario_benchmarks():
    """{scenario: {rule: its jobs' benchmark files}}: every job of every scenario,
    its provenance job included (for the whole run's time record)."""
    return {
        name: run_benchmarks(name)
        | {"provenance": [f"{RESULTS.format(scenario=name)}/benchmarks/provenance.tsv"]}
        for name in SCENARIOS
    }


def run_outputs():
    """Everything a full run produces: every scenario's outputs, the sweep summary over
    them and the run's time record."""
    return expand(scenario_outputs(), scenario=SCENARIOS) + [
        f"{SUMMARY}/sweep.csv",
        f"{SUMMARY}/sweep.md",
        f"{SUMMARY}/sweep.png",
        f"{SUMMARY}/timings.md",
    ]
