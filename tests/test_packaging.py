"""environment.yml and pyproject.toml must declare the same dependencies."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
#: conda package name -> pip requirement name, where they differ
CONDA_TO_PIP = {"pytorch": "torch"}
#: conda packages standing for a pip extra ("snakemake[reports]" brings pygments)
EXTRA_PROVIDERS = {"pygments": ("snakemake", "reports")}


def split_requirement(text):
    match = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*(.*?)\s*(#.*)?", text)
    name, extras, spec = match.group(1).lower(), match.group(2) or "", match.group(3)
    return name, set(filter(None, extras.strip("[]").split(","))), spec.replace(" ", "")


def test_environment_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip = {}
    for requirement in project["dependencies"]:
        name, extras, spec = split_requirement(requirement)
        pip[name] = (extras, spec)

    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert {"conda-forge", "pytorch"} <= set(environment["channels"])
    conda, pip_section = {}, None
    for entry in environment["dependencies"]:
        if isinstance(entry, dict):
            pip_section = entry["pip"]
            continue
        name, _, spec = split_requirement(entry)
        conda[CONDA_TO_PIP.get(name, name)] = spec
    assert pip_section == ["-e ."], "the package itself is installed by pip"

    provided_extras = set()
    for package, (owner, extra) in EXTRA_PROVIDERS.items():
        assert package in conda
        del conda[package]
        provided_extras.add((owner, extra))
    assert conda.pop("python").startswith(">=3.11")
    assert conda.pop("pip") == ""
    assert set(conda) == set(pip), "same packages in environment.yml and pyproject.toml"
    for name, (extras, spec) in pip.items():
        assert conda[name] == spec, f"{name}: {conda[name]!r} (conda) vs {spec!r} (pip)"
        assert {(name, extra) for extra in extras} <= provided_extras, f"{name}{extras}"
