"""`--sdm conda` is right by construction: every rule's conda environment provides every
third-party module its script and the library import; prbench itself comes from src/.

conda cannot be reached from these machines, so the environment is checked, not built.
"""

import ast
import re
import sys
import tomllib
from pathlib import Path

import yaml

from workflow_helpers import ROOT

#: import name -> conda package name, where they differ
IMPORT_TO_CONDA = {"torch": "pytorch", "yaml": "pyyaml", "PIL": "pillow"}
#: conda package -> pip requirement name, where they differ
CONDA_TO_PIP = {"pytorch": "torch"}
#: packages of the environment that are not Python requirements of pyproject.toml
NOT_PYTHON_REQUIREMENTS = {"python", "nodejs"}


def imported_modules(path):
    """Top-level names of every module ``path`` imports (absolute imports, at any depth)."""
    names = set()
    for node in ast.walk(ast.parse(Path(path).read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def third_party_imports(paths):
    """Modules outside the standard library and prbench imported by ``paths``."""
    names = set().union(*(imported_modules(path) for path in paths))
    return {name for name in names
            if name not in sys.stdlib_module_names and name not in {"prbench", "__future__"}}


def conda_packages(env_file):
    """{name: version spec} of a conda environment file's dependencies."""
    packages = {}
    for entry in yaml.safe_load(Path(env_file).read_text())["dependencies"]:
        assert isinstance(entry, str), f"{env_file}: only conda packages, no pip section"
        name, spec = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*([^#]*?)\s*(#.*)?", entry).group(1, 2)
        packages[name] = spec
    return packages


def rule_environments():
    """{rule file: env file} from the rules' `conda:` directives (through common.smk's ENV)."""
    common = (ROOT / "workflow/rules/common.smk").read_text()
    env = re.search(r'^ENV = "([^"]+)"', common, re.M).group(1)
    rules = {}
    for path in sorted((ROOT / "workflow/rules").glob("*.smk")):
        text = path.read_text()
        directives = re.findall(r"conda:\s*\n\s*(\S+)", text)
        if re.search(r"^\s*rule\b", text, re.M):
            assert directives and set(directives) == {"ENV"}, f"{path.name}: conda: ENV"
            rules[path.name] = (path.parent / env).resolve()
    return rules


def test_every_rule_names_one_environment_of_third_party_packages():
    environments = rule_environments()
    assert set(environments) >= {"data.smk", "train.smk", "reconstruct.smk", "score.smk",
                                 "report.smk"}
    for env_file in set(environments.values()):
        packages = conda_packages(env_file)
        assert "prbench" not in packages and "pip" not in packages


def test_the_environment_provides_every_import_of_the_scripts_and_the_library():
    sources = [*(ROOT / "workflow/scripts").glob("*.py"), *(ROOT / "src/prbench").rglob("*.py")]
    needed = {IMPORT_TO_CONDA.get(name, name) for name in third_party_imports(sources)}
    assert {"numpy", "pytorch"} <= needed  # the scan sees the imports
    for env_file in set(rule_environments().values()):
        missing = needed - set(conda_packages(env_file))
        assert not missing, f"{env_file} lacks {sorted(missing)}"


def test_the_scripts_find_the_library_without_installing_it():
    link = ROOT / "workflow/scripts/prbench"
    assert link.is_symlink() and link.resolve() == (ROOT / "src/prbench").resolve()


def test_environment_versions_agree_with_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    bounds = {}
    for requirement in project["dependencies"]:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*(.*)", requirement)
        bounds[match.group(1).lower()] = match.group(3).replace(" ", "")
    for env_file in set(rule_environments().values()):
        for name, spec in conda_packages(env_file).items():
            if name not in NOT_PYTHON_REQUIREMENTS:
                assert bounds[CONDA_TO_PIP.get(name, name)] == spec.replace(" ", ""), name
