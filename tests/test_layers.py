"""The package layers cleanly: no module imports from a layer above its own.

Every module under src/prbench is parsed with ``ast`` (imports inside functions
included, relative imports resolved) and each import of another prbench
component is checked against :data:`LAYERS` and :data:`PEER_IMPORTS`. The modules
the workflow planner loads import no torch, and the stages of the most numerous jobs
load none of the libraries they do not use (:data:`UNUSED_BY_JOB_STAGES`).
"""

import ast
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

import prbench
from prbench import stages

PACKAGE = Path(prbench.__file__).resolve().parent

#: Components of prbench (a top-level module or subpackage), bottom to top.
LAYERS = {
    "geometry": 0, "io": 0, "devices": 0, "runlog": 0, "provenance": 0, "physics": 0, "nets": 0,
    "shards": 0, "machine": 0, "registry": 0, "config": 0,
    "metrics": 1, "symmetry": 1, "data": 1, "solvers": 1, "train": 1,
    "methods": 2, "report": 2, "support_selection": 2,
    "stages": 3,
    "cli": 4,
}

#: The only imports allowed between different components of one layer (importer, imported).
PEER_IMPORTS = {
    ("nets", "io"), ("nets", "devices"),  # nets.load_network reads a best.pt onto a device
    ("shards", "io"),  # the shard file is written and read through prbench.io
    ("physics", "geometry"),  # grid sizes are checked as the geometry checks them
    ("train", "data"),  # on-the-fly placement (data.synth.random_placement)
    ("train", "metrics"),  # the validation symmetric MSE, the invariant loss
    ("train", "symmetry"),  # the canonical objective's targets
    ("provenance", "registry"),  # every result records the plugins loaded
    ("config", "registry"),  # a config's methods are the registry's
    # the support selection runs the executor's refinement of its registered selector
    ("support_selection", "methods"),
}

#: Modules that must import without torch (the workflow planner loads them).
TORCH_FREE = ("geometry", "io", "registry", "config", "shards", "machine")

#: Libraries that the stages of the many short jobs (one per shard and method, one per
#: method) must not import: each job would pay for them once more.
UNUSED_BY_JOB_STAGES = {
    "reconstruct_shard": ("matplotlib", "pandas", "scipy"),
    "score": ("matplotlib", "scipy"),
}


def run_python(code: str) -> None:
    """Run ``code`` in a fresh interpreter that imports this checkout's prbench."""
    path = os.pathsep.join(filter(None, [str(PACKAGE.parent), os.environ.get("PYTHONPATH")]))
    check = f"import prbench; assert prbench.__file__.startswith({str(PACKAGE)!r}); "
    subprocess.run([sys.executable, "-c", check + code], check=True,
                   env={**os.environ, "PYTHONPATH": path})


def imported_names(source: str, module: str, is_package: bool) -> set[str]:
    """Absolute dotted names of everything prbench that ``source`` (the module ``module``,
    an ``__init__`` if ``is_package``) imports, at any depth of its syntax tree; for
    ``from a import b`` the name ``a.b`` (b may be a module or a name in a)."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            stem = ".".join(package[:len(package) + 1 - node.level]
                            + ([node.module] if node.module else [])) \
                if node.level else node.module
            names.update(f"{stem}.{alias.name}" for alias in node.names)
    return {name for name in names if name.split(".")[0] == "prbench"}


def component(name: str) -> str | None:
    """The prbench component of a dotted name: prbench.<component>... (None: prbench itself)."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else None


def layer_violations(source: str, module: str, is_package: bool = False) -> list[str]:
    """The imports of one module that break :data:`LAYERS` or :data:`PEER_IMPORTS`."""
    importer = component(module)
    if importer is None:
        return []
    if importer not in LAYERS:
        return [f"{module}: component {importer!r} has no layer in LAYERS"]
    problems = []
    for name in sorted(imported_names(source, module, is_package)):
        target = component(name)
        if target in (None, importer):
            continue
        if target not in LAYERS:
            problems.append(f"{module} imports {name}, whose component has no layer in LAYERS")
        elif LAYERS[target] > LAYERS[importer] or (
                LAYERS[target] == LAYERS[importer] and (importer, target) not in PEER_IMPORTS):
            problems.append(f"{module} (layer {LAYERS[importer]}) imports {name} "
                            f"(layer {LAYERS[target]})")
    return problems


def test_no_module_imports_from_above_its_layer():
    paths = sorted(PACKAGE.rglob("*.py"))
    assert len(paths) > 20
    problems = []
    for path in paths:
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        module = ".".join(parts[:-1] if is_package else parts)
        problems += layer_violations(path.read_text(), module, is_package)
    assert problems == []


def test_the_check_finds_relative_and_function_level_imports():
    source = ("from .. import physics\n"
              "from . import support\n"
              "from ..report import table\n"
              "def f():\n"
              "    from ..train.loop import fit\n"
              "    import prbench.nets\n"
              "    import prbench.stages\n")
    assert layer_violations(source, "prbench.solvers.planted") == [
        "prbench.solvers.planted (layer 1) imports prbench.report.table (layer 2)",
        "prbench.solvers.planted (layer 1) imports prbench.stages (layer 3)",
        "prbench.solvers.planted (layer 1) imports prbench.train.loop.fit (layer 1)",
    ]
    assert layer_violations("from .. import train\n", "prbench.data", is_package=True) == [
        "prbench.data (layer 1) imports prbench.train (layer 1)"]
    assert layer_violations("import prbench.solvers\n", "prbench.extra") == [
        "prbench.extra: component 'extra' has no layer in LAYERS"]


@pytest.mark.parametrize("name", TORCH_FREE)
def test_planner_modules_import_without_torch(name):
    if not (PACKAGE / f"{name}.py").exists():
        pytest.skip(f"prbench.{name} does not exist yet")
    if name == "config" and not (PACKAGE / "registry.py").exists():
        pytest.skip("prbench.config imports torch (via methods) until the registry split")
    run_python(f"import sys, prbench.{name}; assert 'torch' not in sys.modules, 'torch imported'")


@pytest.mark.parametrize("stage", sorted(UNUSED_BY_JOB_STAGES))
def test_job_stages_import_only_what_they_use(stage):
    run_python(f"import sys, prbench.stages; prbench.stages.{stage}; "
               f"loaded = [name for name in {UNUSED_BY_JOB_STAGES[stage]!r} "
               "if name in sys.modules]; assert not loaded, f'imported {loaded}'")


def test_every_stage_is_its_groups_function():
    for group in set(stages.GROUPS.values()):
        module = importlib.import_module(f"prbench.stages.{group}")
        assert sorted(module.__all__) == sorted(
            name for name, home in stages.GROUPS.items() if home == group)
        for name in module.__all__:
            assert getattr(stages, name) is getattr(module, name)
    assert stages.__all__ == ["run", *stages.GROUPS]
    with pytest.raises(AttributeError, match="no attribute 'reconstruct'"):
        stages.reconstruct
