"""Methods from plugins (prbench.registry.register / load_plugins): the example plugin of
examples/prbench-er-plugin run end to end by the unmodified workflow, and the errors a
faulty plugin gets, each naming the plugin (and its method)."""

import copy
import hashlib
import json
import os
import subprocess
import sys
import textwrap
import uuid

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from prbench import config as config_module
from prbench import methods, registry, stages
from prbench.data import synth
from prbench.geometry import Geometry
from prbench.physics import forward, fourier_residual
from prbench.registry import METHODS, PluginError
from synthetic_objects import blob_objects
from workflow_helpers import DOWNLOAD_CACHE, ROOT, planned_jobs

EXAMPLE = ROOT / "examples" / "prbench-er-plugin"
EXAMPLE_SRC = EXAMPLE / "src"
EXAMPLE_FILE = EXAMPLE_SRC / "prbench_er" / "__init__.py"
EXAMPLE_METHOD, EXAMPLE_LABEL = "fienup_er", "Error reduction (plugin)"
SCHEMA = yaml.safe_load((ROOT / "workflow" / "schemas" / "config.schema.yaml").read_text())
G = Geometry(n=36, m=72)


# --- fixtures and helpers -------------------------------------------------------------------

@pytest.fixture(autouse=True)
def registry_state():
    """Restore the registry's tables (methods, plugins, plugin solvers and schemas) and
    forget the plugin modules a test imported, so that every test starts from the
    built-in registry."""
    tables = (registry.METHODS, registry.PLUGINS, registry._PLUGIN_SOLVERS,
              registry._PLUGIN_SCHEMAS)
    saved = [copy.deepcopy(table) for table in tables]
    loading = list(registry._loading)
    modules = set(sys.modules)
    yield
    for table, content in zip(tables, saved):
        table.clear()
        table.update(content)
    registry._loading[:] = loading
    for name in set(sys.modules) - modules:
        if name == "prbench_er" or name.startswith(("prbench_er.", "plugin_under_test_")):
            del sys.modules[name]


@pytest.fixture
def write_plugin(tmp_path, monkeypatch):
    """Write a plugin module (source text) into tmp_path, importable under a name of its
    own (importlib caches modules by name); returns that name."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(source, **names):
        name = f"plugin_under_test_{uuid.uuid4().hex[:12]}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source).format(**names))
        return name

    return write


@pytest.fixture
def example_plugin(monkeypatch):
    """The example plugin loaded from its source folder: its provenance record."""
    monkeypatch.syspath_prepend(str(EXAMPLE_SRC))
    return registry.load_plugins(["prbench_er"], entry_points=False)["prbench_er"]


def example_config():
    return yaml.safe_load((EXAMPLE / "config.yaml").read_text())


def measurements(count=3, seed=3):
    return forward(blob_objects(count, n=G.n, seed=seed), G.m)


#: A plugin with one method whose solver returns a wrong result (FAULT).
FAULTY = """
    import torch

    from prbench.registry import Method, register

    def solver(Y, support=None, init=None, *, seed, geometry, iters=1):
        B, m = Y.shape[0], geometry.m
        fault = {fault!r}
        if fault == "shape":
            return torch.zeros(B, geometry.n, geometry.n, dtype=torch.complex64), None
        if fault == "real":
            return torch.zeros(B, m, m), None
        return torch.full((B, m, m), float("nan"), dtype=torch.complex64), {{}}

    register(Method("faulty_{fault}", "Faulty", "plugin", "iterative", solver="faulty_{fault}"),
             solver=solver)
"""

#: A plugin with one well-behaved method whose parameters are checked against its solver's
#: signature (no JSON Schema).
ZERO_PHASE = """
    from prbench.registry import Method, register

    def solver(Y, support=None, init=None, *, seed, geometry, scale=1.0):
        import torch
        return torch.fft.ifft2(scale * Y.sqrt()).to(torch.complex64), None

    register(Method("{method}", "Zero phase", "plugin", "iterative", solver="{method}"),
             solver=solver)
"""


# --- loading and registering ----------------------------------------------------------------

def test_example_plugin_registers_one_method_and_records_its_file(example_plugin):
    method = METHODS[EXAMPLE_METHOD]
    assert (method.label, method.group, method.kind, method.solver, method.plugin) == (
        EXAMPLE_LABEL, "plugin", "iterative", EXAMPLE_METHOD, "prbench_er")
    assert example_plugin["methods"] == [EXAMPLE_METHOD]
    assert example_plugin["version"] == "0.1.0"
    assert example_plugin["sha256"] == hashlib.sha256(EXAMPLE_FILE.read_bytes()).hexdigest()
    assert registry.parameter_schema(EXAMPLE_METHOD)["additionalProperties"] is False
    # loading again is a no-op
    assert registry.load_plugins(["prbench_er"], entry_points=False)["prbench_er"] == \
        example_plugin


def test_plugin_that_fails_to_import_is_named(write_plugin):
    name = write_plugin("import prbench_no_such_dependency\n")
    with pytest.raises(PluginError, match=f"plugin '{name}' failed to import: "
                                          "ModuleNotFoundError"):
        registry.load_plugins([name], entry_points=False)
    assert name not in registry.PLUGINS
    with pytest.raises(PluginError, match="plugin 'prbench_no_such_plugin' failed to import"):
        registry.load_plugins(["prbench_no_such_plugin"], entry_points=False)


@pytest.mark.parametrize("second", ["again", "hio"])
def test_a_name_registered_twice_is_refused_and_nothing_of_the_plugin_remains(
        write_plugin, second):
    """A plugin registering one name twice, or a built-in method's name: the error names
    the plugin and the method, and the method it registered before is gone."""
    name = write_plugin("""
        from prbench.registry import Method, register

        def solver(Y, support=None, init=None, *, seed, geometry):
            raise AssertionError("never run")

        register(Method("first_ok", "First", "plugin", "iterative", solver="first_ok"),
                 solver=solver, parameters={{"type": "object"}})
        register(Method("{second}", "Second", "plugin", "iterative", solver="{second}"),
                 solver=solver)
        register(Method("again", "Again", "plugin", "iterative", solver="again"),
                 solver=solver)
    """, second=second)
    owner = "prbench" if second == "hio" else name
    with pytest.raises(PluginError, match=f"plugin '{name}', method '{second}': the name is "
                                          rf"already registered \(by {owner}\)"):
        registry.load_plugins([name], entry_points=False)
    assert "first_ok" not in METHODS and "again" not in METHODS
    assert registry.plugin_solver("first_ok") is None
    assert registry.parameter_schema("first_ok") is None
    assert name not in registry.PLUGINS
    assert METHODS["hio"].plugin is None and registry.plugin_solver("hio") is None


PLUGIN_SOLVER = """from prbench.registry import Method, register

def solver(Y, support=None, init=None, *, seed, geometry):
    raise AssertionError("never run")

"""


@pytest.mark.parametrize("registration, message", [
    ('register(Method("raar", "Shadow", "plugin", "iterative", solver="raar"), solver=solver)',
     "method 'raar': a built-in solver has this name"),
    ('register(Method("ghost", "Ghost", "plugin", "iterative", solver="no_such_solver"))',
     "method 'ghost': solver 'no_such_solver' is not a built-in solver"),
    ('register(Method("own_alm", "Own", "plugin", "refined", solver="alm", model="naive"),\n'
     '         parameters={{"type": "object"}})',
     "method 'own_alm': parameters describe the plugin's own solver"),
])
def test_a_plugin_cannot_shadow_or_invent_a_built_in_solver(write_plugin, registration,
                                                            message):
    """A plugin's solver may not take a built-in solver's name (the built-in one would run
    instead), a method without its own solver must name a built-in one, and only its own
    solver's parameters may get a schema (a schema for "alm" would replace the built-in
    one for every alm method)."""
    name = write_plugin(PLUGIN_SOLVER + registration + "\n")
    with pytest.raises(PluginError, match=f"plugin '{name}', {message}"):
        registry.load_plugins([name], entry_points=False)
    assert registry.parameter_schema("alm") is None and registry.plugin_solver("raar") is None


def test_a_plugin_imported_before_loading_is_recorded(write_plugin):
    """A plugin module imported directly (a notebook, a test) registers under its own
    name; load_plugins then records it instead of refusing it for registering nothing."""
    name = write_plugin(PLUGIN_SOLVER + 'register(Method("early", "Early", "plugin", '
                        '"iterative", solver="early"), solver=solver)\n')
    __import__(name)
    assert METHODS["early"].plugin == name
    record = registry.load_plugins([name], entry_points=False)[name]
    assert record["methods"] == ["early"] and record["sha256"]


def test_plugin_that_fails_after_registering_leaves_nothing(write_plugin):
    name = write_plugin("""
        from prbench.registry import Method, register

        def solver(Y, support=None, init=None, *, seed, geometry):
            raise AssertionError("never run")

        register(Method("half_loaded", "Half", "plugin", "iterative", solver="half_loaded"),
                 solver=solver, parameters={{"type": "object"}})
        raise RuntimeError("the plugin's own bug")
    """)
    with pytest.raises(PluginError, match=f"plugin '{name}' failed to import: RuntimeError: "
                                          "the plugin's own bug"):
        registry.load_plugins([name], entry_points=False)
    assert "half_loaded" not in METHODS
    assert registry.plugin_solver("half_loaded") is None
    assert registry.parameter_schema("half_loaded") is None
    assert name not in registry.PLUGINS


def test_plugin_that_registers_nothing_is_refused(write_plugin):
    name = write_plugin("VALUE = 1\n")
    with pytest.raises(PluginError, match=f"plugin '{name}' registered no method"):
        registry.load_plugins([name], entry_points=False)
    assert name not in registry.PLUGINS


def test_plugins_must_be_a_list_of_names():
    with pytest.raises(PluginError, match="list of module names"):
        registry.load_plugins("prbench_er")


def test_plugins_from_the_environment(write_plugin, monkeypatch):
    name = write_plugin(ZERO_PHASE, method="from_environment")
    monkeypatch.setenv(registry.PLUGINS_VARIABLE, json.dumps([name]))
    assert list(registry.load_plugins_from_environment()) == [name]
    assert METHODS["from_environment"].plugin == name
    monkeypatch.setenv(registry.PLUGINS_VARIABLE, "[oops")
    with pytest.raises(PluginError, match=registry.PLUGINS_VARIABLE):
        registry.load_plugins_from_environment()


def test_installed_entry_point_is_loaded(tmp_path, monkeypatch):
    """A distribution whose entry point in the group prbench.methods names a module (a
    fake *.dist-info on sys.path) is loaded by load_plugins() without being asked for;
    its version is the distribution's."""
    module = f"plugin_under_test_{uuid.uuid4().hex[:12]}"
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(ZERO_PHASE).format(
        method="from_entry_point"))
    info = tmp_path / "prbench_fake_plugin-2.5.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: prbench-fake-plugin\n"
                                   "Version: 2.5\n")
    (info / "entry_points.txt").write_text(f"[{registry.ENTRY_POINT_GROUP}]\n"
                                           f"zero_phase = {module}\n")
    (info / "top_level.txt").write_text(f"{module}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    loaded = registry.load_plugins()
    assert module in loaded
    assert loaded[module]["methods"] == ["from_entry_point"]
    assert loaded[module]["version"] == "2.5"
    assert METHODS["from_entry_point"].plugin == module
    assert registry.load_plugins(entry_points=False) == {}


# --- the config's parameters ----------------------------------------------------------------

def test_example_config_is_valid_with_its_plugin(example_plugin):
    config_module.check(example_config(), schema=SCHEMA)


def test_plugin_method_without_its_plugin_is_an_unknown_method():
    with pytest.raises(config_module.ConfigError,
                       match=f"reconstruction.methods.{EXAMPLE_METHOD}: unknown method"):
        config_module.check(example_config(), schema=SCHEMA)


@pytest.mark.parametrize("params, message", [
    ({"iters": 5, "beta": 0.9}, r"reconstruction.methods.fienup_er: unknown parameter\(s\) "
                                r"\['beta'\]; its solver 'fienup_er' takes \['iters', "
                                r"'n_starts', 'positivity'\]"),
    ({"iters": "many"}, "reconstruction.methods.fienup_er.iters: 'many' is not of type"),
    ({"iters": 0}, "reconstruction.methods.fienup_er.iters: 0 is less than the minimum"),
    ({"n_starts": 2}, "reconstruction.methods.fienup_er: 'iters' is a required property"),
    ({"iters": 5, "positivity": "yes"}, "reconstruction.methods.fienup_er.positivity"),
    ({"iters": 5, "seed": 3}, r"reconstruction.methods.fienup_er: \['seed'\] may not be set"),
])
def test_schema_violations_are_refused_naming_the_key_and_plugin(example_plugin, params,
                                                                  message):
    config = example_config()
    config["reconstruction"]["methods"][EXAMPLE_METHOD] = params
    with pytest.raises(config_module.ConfigError, match=message) as raised:
        config_module.check(config, schema=SCHEMA)
    assert str(raised.value).endswith("(plugin prbench_er)")


def test_integer_written_as_float_is_refused_naming_the_key(example_plugin):
    config = example_config()
    config["reconstruction"]["methods"][EXAMPLE_METHOD] = {"iters": 5.0}
    with pytest.raises(config_module.ConfigError,
                       match="reconstruction.methods.fienup_er.iters = 5.0 must be an integer"):
        config_module.check(config, schema=SCHEMA)


def test_unknown_parameter_is_refused_by_the_solver_signature(write_plugin):
    name = write_plugin(ZERO_PHASE, method="zero_phase")
    registry.load_plugins([name], entry_points=False)
    config = example_config()
    config["plugins"] = [name]
    config["reconstruction"]["methods"] = {"hio": {"iters": 5}, "zero_phase": {"scale": 2.0}}
    config_module.check(config, schema=SCHEMA)
    config["reconstruction"]["methods"]["zero_phase"] = {"scale": 2.0, "sclae": 1.0}
    with pytest.raises(config_module.ConfigError,
                       match=rf"reconstruction.methods.zero_phase: unknown parameter\(s\) "
                             rf"\['sclae'\]; its solver 'zero_phase' takes \['scale'\] "
                             rf"\(plugin {name}\)"):
        config_module.check(config, schema=SCHEMA)


# --- running a plugin's solver --------------------------------------------------------------

def test_example_solver_keeps_the_contract_and_fits_the_measurements(example_plugin):
    from prbench_er import error_reduction

    y = measurements()
    seeds = [11, 12, 13]
    x_hat, info = error_reduction(y, seed=seeds, geometry=G, iters=60, n_starts=2)
    assert x_hat.shape == (3, G.m, G.m) and x_hat.dtype == torch.complex64
    assert not x_hat[:, G.n:].any() and not x_hat[:, :, G.n:].any()  # zero off the frame
    assert info["iterations"].tolist() == [60, 60, 60]
    start, _ = error_reduction(y, seed=seeds, geometry=G, iters=1, n_starts=2)
    assert (fourier_residual(x_hat, y.sqrt()) < fourier_residual(start, y.sqrt())).all()
    # seeded per image: the same seeds give the same result, an image's alone too
    again, _ = error_reduction(y, seed=seeds, geometry=G, iters=60, n_starts=2)
    assert torch.equal(again, x_hat)
    alone, _ = error_reduction(y[1:2], seed=seeds[1:2], geometry=G, iters=60, n_starts=2)
    torch.testing.assert_close(alone[0], x_hat[1], atol=1e-4, rtol=1e-4)
    other, _ = error_reduction(y, seed=[21, 22, 23], geometry=G, iters=60, n_starts=2)
    assert not torch.equal(other, x_hat)
    # positivity: real and >= 0; a support mask replaces the frame
    positive, _ = error_reduction(y, seed=seeds, geometry=G, iters=20, positivity=True)
    assert not positive.imag.any() and (positive.real >= 0).all()
    support = torch.zeros(3, G.m, G.m, dtype=torch.bool)
    support[:, 4:30, 2:33] = True
    masked, _ = error_reduction(y, support, seed=seeds, geometry=G, iters=5)
    assert not masked[~support].any()
    with pytest.raises(ValueError, match="fienup_er: n_starts must be an integer >= 1"):
        error_reduction(y, seed=seeds, geometry=G, iters=5, n_starts=0)


def test_example_method_runs_through_the_executor(example_plugin):
    y = measurements(count=2).numpy()
    result = methods.reconstruct(EXAMPLE_METHOD, y, np.array([4, 7]), {"iters": 10},
                                 seed=5, geometry=G, device="cpu")
    assert result.x_hat.shape == (2, G.m, G.m) and result.x_hat.dtype == np.complex64
    assert result.iterations.tolist() == [10, 10]
    assert list(result.stop_reason) == ["budget", "budget"]
    expected = fourier_residual(torch.from_numpy(result.x_hat), torch.from_numpy(y).sqrt())
    np.testing.assert_allclose(result.residual, expected.numpy(), rtol=1e-5)


@pytest.fixture
def test_split(tmp_path):
    """A synthesized test split of three images (data/test.npz as the workflow writes it)."""
    x = blob_objects(3, n=G.n, seed=1)
    split = synth.SynthesizedSet(
        x=x.to(torch.complex64).numpy(), y=forward(x, G.m).numpy(),
        offsets=np.zeros((3, 2), np.int64), flips=np.zeros(3, bool),
        labels=np.zeros(3, np.int64), base_index=np.arange(3),
        meta={"n": G.n, "m": G.m, "object_kind": "real"})
    path = tmp_path / "data" / "test.npz"
    path.parent.mkdir()
    split.save(path)
    return path


@pytest.mark.parametrize("fault, problem", [
    ("shape", r"returned shape \(3, 36, 36\), expected \(B, m, m\) = \(3, 72, 72\)"),
    ("real", "returned dtype torch.float32, not a complex tensor"),
    ("nan", "returned NaN or infinite values"),
])
def test_faulty_solver_fails_its_job_naming_plugin_and_method(write_plugin, test_split,
                                                             tmp_path, fault, problem):
    name = write_plugin(FAULTY, fault=fault)
    registry.load_plugins([name], entry_points=False)
    method = f"faulty_{fault}"
    message = rf"method '{method}' \(plugin '{name}'\): its solver '{method}' {problem}"
    data = synth.load(test_split)
    with pytest.raises(ValueError, match=message):
        methods.reconstruct(method, data.y, np.arange(3), {}, seed=1, geometry=G,
                            device="cpu")
    output = tmp_path / "recon" / method / "shard0.npz"
    output.parent.mkdir(parents=True)
    with pytest.raises(ValueError, match=message):
        stages.reconstruct_shard(method=method, test=test_split, output=output, shard=0,
                                 shards=1, settings={"iters": 2}, seed=1, device="cpu",
                                 repository=ROOT)
    assert list(output.parent.iterdir()) == []


# --- the workflow (subprocesses) ------------------------------------------------------------

def run_snakemake(workdir, *arguments, pythonpath):
    """``python -m snakemake`` on the repository's Snakefile in ``workdir`` (also its cwd),
    with ``pythonpath`` as PYTHONPATH."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, pythonpath)),
           "PRBENCH_DOWNLOAD_CACHE": str(DOWNLOAD_CACHE)}
    env.pop(registry.PLUGINS_VARIABLE, None)
    return subprocess.run([sys.executable, "-m", "snakemake", "--snakefile",
                           str(ROOT / "Snakefile"), "--directory", str(workdir), "--cores", "2",
                           "--configfile", str(EXAMPLE / "config.yaml"), *arguments],
                          cwd=workdir, capture_output=True, text=True, timeout=900, env=env)


def repository_status():
    """``git status --porcelain`` of the checkout: its new files, and every change under
    examples/. (Other edits of tracked files are left out: people may edit the checkout
    while the test runs, and a run writes no tracked file.)"""
    lines = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.splitlines()
    return {line for line in lines if line.startswith("??") or line[3:].startswith("examples/")}


@pytest.mark.e2e
def test_example_config_plans_without_torch(tmp_path, no_torch):
    workdir = tmp_path / "work"
    workdir.mkdir()
    plan = run_snakemake(workdir, "-n", pythonpath=[no_torch, EXAMPLE_SRC])
    assert plan.returncode == 0, plan.stdout + plan.stderr
    config = example_config()
    assert planned_jobs(plan.stdout)["reconstruct"] == (
        len(config["reconstruction"]["methods"]) * config["reconstruction"]["shards"]
        * len(config["scenarios"]))
    assert f"recon/{EXAMPLE_METHOD}/shard0.npz" in plan.stdout
    without = run_snakemake(workdir, "-n", pythonpath=[no_torch])
    assert without.returncode != 0
    assert "plugin 'prbench_er' failed to import" in without.stdout + without.stderr


@pytest.mark.e2e
def test_example_plugin_runs_end_to_end_with_prbench_unmodified(tmp_path):
    """The example config, run from a folder outside the checkout with the plugin's source
    on PYTHONPATH: the plugin's method is reconstructed, scored, tabled, drawn and swept in
    every scenario, its file is recorded in provenance, and the checkout is untouched."""
    status = repository_status()
    digest = hashlib.sha256(EXAMPLE_FILE.read_bytes()).hexdigest()
    workdir = tmp_path / "work"
    workdir.mkdir()
    result = run_snakemake(workdir, pythonpath=[EXAMPLE_SRC])
    assert result.returncode == 0, result.stdout + result.stderr
    config = example_config()
    run = workdir / "results" / config["run"]
    row = f"| {EXAMPLE_LABEL} |"
    for scenario in config["scenarios"]:
        folder = run / scenario
        assert row in (folder / "tables" / "table1.md").read_text()
        scores = pd.read_csv(folder / "scores.csv")
        ours = scores.loc[scores["method"] == EXAMPLE_METHOD]
        assert sorted(ours["image"]) == list(range(config["synthesis"]["test_size"]))
        assert (ours["iterations"] == config["reconstruction"]["methods"][EXAMPLE_METHOD]
                ["iters"]).all()
        assert (folder / "aligned" / f"{EXAMPLE_METHOD}.npz").is_file()
        assert (folder / "figures" / "figure4.png").is_file()
        record = json.loads((folder / "provenance.json").read_text())["plugins"]["prbench_er"]
        assert record["module"] == "prbench_er" and record["version"] == "0.1.0"
        assert record["sha256"] == digest
        assert os.path.samefile(record["file"], EXAMPLE_FILE)
        assert record["methods"] == [EXAMPLE_METHOD]
        with np.load(folder / "recon" / EXAMPLE_METHOD / "shard0.npz") as shard:
            job_record = json.loads(str(shard["provenance"]))
        assert job_record["plugins"]["prbench_er"]["sha256"] == digest
    # Figure 4 was drawn from the plugin method's aligned reconstructions (Snakemake's record)
    summary = run_snakemake(workdir, "--detailed-summary", pythonpath=[EXAMPLE_SRC])
    assert summary.returncode == 0, summary.stderr
    figure_inputs = {line.split("\t")[0]: line.split("\t")[4].split(",")
                     for line in summary.stdout.splitlines() if "figure4.png\t" in line}
    assert len(figure_inputs) == len(config["scenarios"])
    for path, inputs in figure_inputs.items():
        scenario = path.split("/")[2]
        assert f"results/{config['run']}/{scenario}/aligned/{EXAMPLE_METHOD}.npz" in inputs
    sweep = pd.read_csv(run / "sweep" / "sweep.csv")
    ours = sweep.loc[sweep["method"] == EXAMPLE_METHOD]
    assert sorted(ours["scenario"]) == sorted(config["scenarios"])
    assert set(ours["label"]) == {EXAMPLE_LABEL} and set(ours["group"]) == {"plugin"}
    assert row in (run / "sweep" / "sweep.md").read_text()
    # the checkout: no file added by the run, the example's folder as it was
    assert repository_status() - status == set()
    assert not (ROOT / "results" / config["run"]).exists()  # ignored by git
    assert hashlib.sha256(EXAMPLE_FILE.read_bytes()).hexdigest() == digest
