"""Shipped configs are whole configs: each validates alone and states every key the default
run states (no silent inheritance from config/config.yaml), and the cross-key checks."""

import copy
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from prbench.config import ConfigError, check
from prbench.registry import METHODS

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = str(ROOT / "workflow" / "schemas" / "config.schema.yaml")
SHIPPED = sorted((ROOT / "config").glob("*.yaml"))


def load(path):
    return yaml.safe_load(Path(path).read_text())


def dotted_keys(node, prefix=""):
    """Every leaf key of a nested dict, as dotted paths (lists are leaves)."""
    if not isinstance(node, dict) or not node:
        return {prefix.rstrip(".")}
    return {key for name, value in node.items() for key in dotted_keys(value, f"{prefix}{name}.")}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.name)
def test_shipped_config_validates_alone(path):
    config = load(path)
    validate(config, SCHEMA)
    check(config)


@pytest.mark.parametrize("path", [p for p in SHIPPED if p.name != "config.yaml"],
                         ids=lambda path: path.name)
def test_shipped_config_states_every_key_the_default_states(path):
    """Where a config has a section (a method, a model, the denoiser), it sets every key that
    config/config.yaml sets there: nothing is left to come from elsewhere unseen."""
    default, config = load(ROOT / "config" / "config.yaml"), load(path)
    present = dotted_keys(config)
    missing = set()
    for key in dotted_keys(default):
        parts = key.split(".")
        parent = config
        for part in parts[:-1]:
            parent = parent.get(part) if isinstance(parent, dict) else None
        if isinstance(parent, dict) and key not in present:
            missing.add(key)
    assert not missing, f"{path.name} leaves unset: {sorted(missing)}"


def test_schema_checks_the_parameters_of_every_registered_method():
    methods = load(SCHEMA)["properties"]["reconstruction"]["properties"]["methods"]
    assert set(methods["properties"]) == set(METHODS)


def base():
    config = load(ROOT / "config" / "test.yaml")
    validate(config, SCHEMA)
    return config


@pytest.mark.parametrize("change, named", [
    (lambda c: c["synthesis"].update(m=60), "synthesis.m = 60"),
    (lambda c: c["reconstruction"]["methods"].update(magic={}), "reconstruction.methods.magic"),
    (lambda c: c["training"]["models"].pop("naive"), "needs training.models.naive"),
    (lambda c: c.pop("denoiser"), "reconstruction.methods.prdeep needs the 'denoiser'"),
    (lambda c: c["report"].update(paired_reference="hio_sw2"), "report.paired_reference"),
])
def test_cross_key_errors_name_the_key(change, named):
    config = copy.deepcopy(base())
    change(config)
    with pytest.raises(ConfigError, match=named):
        check(config)


def test_a_config_without_networks_needs_no_training_section():
    config = base()
    del config["training"], config["denoiser"]
    config["reconstruction"]["methods"] = {"hio": {}, "alm": {}}
    config["report"]["paired_reference"] = "hio"
    validate(config, SCHEMA)
    check(config)
