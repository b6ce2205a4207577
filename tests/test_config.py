"""Shipped configs are whole configs: each validates alone and states every key the default
run states (no silent inheritance from config/config.yaml), and the cross-key checks."""

import copy
import inspect
from pathlib import Path

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from prbench.config import (ConfigError, check, check_values, scenario_config,
                            scenario_synthesis, owners_of_test_splits)
from prbench.nets import UNet
from prbench.registry import METHODS
from prbench.solvers import SOLVERS
from prbench.train.initialiser import train

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = str(ROOT / "workflow" / "schemas" / "config.schema.yaml")
SHIPPED = sorted((ROOT / "config").glob("*.yaml"))


def load(path):
    return yaml.safe_load(Path(path).read_text())


def dotted_keys(node, prefix=""):
    """Every leaf key of a nested dict, as dotted paths (lists are leaves; an empty dict,
    such as a method without parameters, holds no key)."""
    if isinstance(node, dict) and not node:
        return set()
    if not isinstance(node, dict):
        return {prefix.rstrip(".")}
    return {key for name, value in node.items() for key in dotted_keys(value, f"{prefix}{name}.")}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.name)
def test_shipped_config_validates_alone(path):
    config = load(path)
    check_values(config)
    validate(config, SCHEMA)
    check(config, schema=load(SCHEMA))


@pytest.mark.parametrize("path", [p for p in SHIPPED if p.name != "config.yaml"],
                         ids=lambda path: path.name)
def test_shipped_config_states_every_key_the_default_states(path):
    """Where a config has a section (a method, a model, the denoiser), it sets every key that
    config/config.yaml sets there: nothing is left to come from elsewhere unseen (scenario
    names are each config's own)."""
    default, config = load(ROOT / "config" / "config.yaml"), load(path)
    present = dotted_keys(config)
    missing = set()
    for key in dotted_keys(default):
        if key.startswith("scenarios."):
            continue
        parts = key.split(".")
        parent = config
        for part in parts[:-1]:
            parent = parent.get(part) if isinstance(parent, dict) else None
        if isinstance(parent, dict) and key not in present:
            missing.add(key)
    assert not missing, f"{path.name} leaves unset: {sorted(missing)}"


def test_each_solver_schema_names_a_solver_and_only_parameters_it_takes():
    """The schema's $defs/solvers entries (the only per-solver lists; methods are listed by
    the registry alone) cannot drift from the solvers' signatures."""
    schema = load(SCHEMA)
    entries = schema["$defs"]["solvers"]["properties"]
    assert set(entries) <= set(SOLVERS)
    assert {method.solver for method in METHODS.values()} - {None} <= set(entries)
    for name, entry in entries.items():
        properties = schema["$defs"][entry["$ref"].rsplit("/", 1)[1]]["properties"]
        signature = inspect.signature(SOLVERS[name]).parameters
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.values()):
            assert set(properties) <= set(signature), name


@pytest.mark.parametrize("method, params, named", [
    ("hio", {"bogus": 1}, r"reconstruction.methods.hio: Additional properties are not "
                          r"allowed \('bogus' was unexpected\)"),
    ("hio", {"iters": 0}, "reconstruction.methods.hio.iters: 0 is less than the minimum of 1"),
    ("alm", {"rho": -1.0}, "reconstruction.methods.alm.rho: -1.0 is less than or equal to"),
    ("passive_refined", {"support": {"sigma": 1.0}},
     r"reconstruction.methods.passive_refined: \['support'\] may not be set"),
    ("passive_dnn", {"iters": 3},
     r"reconstruction.methods.passive_dnn: a 'network' method takes no parameters"),
    ("mean_object", {"iters": 3}, "a 'calibration' method takes no parameters"),
    ("hio_realpos", {"real_nonnegative": False}, "the method fixes"),
])
def test_method_parameters_are_checked_against_their_solver(method, params, named):
    config = copy.deepcopy(base())
    config["reconstruction"]["methods"][method] = params
    config["training"]["models"].setdefault("passive", config["training"]["models"]["naive"])
    validate(config, SCHEMA)  # the schema lists no methods: check() refuses them
    with pytest.raises(ConfigError, match=named):
        check(config, schema=load(SCHEMA))


def base():
    config = load(ROOT / "config" / "test.yaml")
    validate(config, SCHEMA)
    return config


@pytest.mark.parametrize("change, named", [
    (lambda c: c["synthesis"].update(m=60), r"synthesis.m \(scenario noiseless\): m = 60"),
    (lambda c: c["reconstruction"]["methods"].update(magic={}), "reconstruction.methods.magic"),
    (lambda c: c["training"]["models"].pop("naive"), "needs training.models.naive"),
    (lambda c: c.pop("denoiser"), "reconstruction.methods.prdeep needs the 'denoiser'"),
    (lambda c: c["report"].update(paired_reference="hio_sw2"), "report.paired_reference"),
    (lambda c: c["reconstruction"].pop("support_selection"),
     r"reconstruction.support_selection is required: \['naive_refined', 'passive_refined', "
     r"'naive_support_only', 'passive_support_only', 'naive_sw'\] take their support"),
    (lambda c: c["reconstruction"]["methods"].pop("naive_refined"),
     "reconstruction.methods.naive_support_only uses the support selected with "
     "naive_refined's settings: configure reconstruction.methods.naive_refined too"),
    (lambda c: (c["synthesis"].update(photons=1.0e4),
                c["training"]["models"]["passive"].update(on_the_fly=True)),
     "training.models.passive.on_the_fly: on-the-fly placement computes noiseless"),
    (lambda c: c["training"]["models"]["naive"].update(fourier_loss="intensity"),
     "training.models.naive.fourier_loss = 'intensity': the naive objective compares"),
    (lambda c: c["training"]["models"]["naive"].update(output_domain="grid"),
     "training.models.naive.output_domain = 'grid': the naive objective compares"),
    (lambda c: c["training"]["models"]["canonical"].update(output_domain="grid"),
     "training.models.canonical.output_domain = 'grid': the canonical objective compares"),
    (lambda c: c["training"]["models"]["invariant"].update(fourier_loss="intensity"),
     "training.models.invariant.fourier_loss = 'intensity': the invariant objective compares"),
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


def test_only_methods_that_take_a_network_support_need_the_selection():
    config = base()
    del config["reconstruction"]["support_selection"]
    config["reconstruction"]["methods"] = {"hio": {}, "passive_dnn": {}}
    config["report"]["paired_reference"] = "hio"
    validate(config, SCHEMA)
    check(config)


@pytest.mark.parametrize("change, message", [
    (lambda c: c["reconstruction"]["support_selection"].pop("images"),
     "'images' is a required property"),
    (lambda c: c["reconstruction"]["support_selection"].update(threshold=[0.2, 1.0]),
     "1.0 is greater than or equal to the maximum of 1"),
    (lambda c: c["reconstruction"]["support_selection"].update(sigma=[]),
     "should be non-empty"),
])
def test_schema_checks_the_support_selection_and_takes_no_support_per_method(change, message):
    config = copy.deepcopy(base())
    change(config)
    with pytest.raises(WorkflowError, match=message):
        validate(config, SCHEMA)


NEW_UNET_KEYS = {"fourier_loss": ("amplitude", "intensity"), "input_transform": ("log1p", "sqrt"),
                 "output_domain": ("frame", "grid"),
                 "lr_schedule": ("onecycle", "cosine", "constant")}


def test_the_unet_design_settings_default_to_todays_behaviour_in_the_library():
    """Left out, each new U-Net setting gets no schema default (a run made before it existed
    keeps its parameters, so Snakemake reruns nothing) and the library's default is the
    behaviour from before (the first value); the passive network takes every value."""
    config = copy.deepcopy(base())
    for settings in config["training"]["models"].values():
        for key in NEW_UNET_KEYS:
            settings.pop(key, None)
    validate(config, SCHEMA)
    for settings in config["training"]["models"].values():
        assert not set(NEW_UNET_KEYS) & set(settings)
    defaults = {name: parameter.default for function in (UNet, train)
                for name, parameter in inspect.signature(function).parameters.items()}
    assert {key: defaults[key] for key in NEW_UNET_KEYS} == {
        key: values[0] for key, values in NEW_UNET_KEYS.items()}
    for key, values in NEW_UNET_KEYS.items():
        for value in values:
            config["training"]["models"]["passive"][key] = value
            validate(config, SCHEMA)
            check(config)
        config["training"]["models"]["passive"][key] = "other"
        with pytest.raises(WorkflowError, match="'other' is not one of"):
            validate(config, SCHEMA)
        config["training"]["models"]["passive"][key] = values[0]


@pytest.mark.parametrize("stopping, message", [
    (None, None), ({"floor": 1e-4}, None), ({"floor": 1e-4, "tol": 0.01, "window": 100}, None),
    ({"floor": 1e-4, "window": None}, None),
    ({"floor": -1.0}, "-1.0 is less than the minimum of 0"),
    ({"tol": 0.01}, "'floor' is a required property"),
    ({"floor": 1e-4, "tol": 1.0}, "1.0 is greater than or equal to the maximum of 1"),
    ({"floor": 1e-4, "window": 0}, "0 is less than the minimum of 1"),
    ({"floor": 1e-4, "patience": 3}, "'patience' was unexpected"),
])
def test_schema_checks_the_stopping_test(stopping, message):
    config = copy.deepcopy(base())
    config["reconstruction"]["stopping"] = stopping
    if message is None:
        validate(config, SCHEMA)
    else:
        with pytest.raises(WorkflowError, match=message):
            validate(config, SCHEMA)


@pytest.mark.parametrize("change, named", [
    (lambda c: c["scenarios"].update(small={"m": 60}), "scenarios.small.m: m = 60"),
    (lambda c: c["scenarios"].update(again={"object": "real"}),
     "scenarios.again has the object, n, m, photons, train_size of scenarios.noiseless"),
    (lambda c: c["scenarios"].update(same={"train_size": c["synthesis"]["train_size"]}),
     "scenarios.same has the object, n, m, photons, train_size of scenarios.noiseless"),
    (lambda c: c.update(scenarios={}), "scenarios must list at least one scenario"),
    (lambda c: c.update(scenarios={"sweep": {}}), "scenarios.sweep: the name is reserved"),
])
def test_scenario_errors_name_the_scenario(change, named):
    config = copy.deepcopy(base())
    change(config)
    with pytest.raises(ConfigError, match=named):
        check(config)


@pytest.mark.parametrize("scenarios, message", [
    ({"sweep": {}}, "does not match"), ({"a/b": {}}, "does not match"),
    ({"x": {"train_sizes": 5}}, "'train_sizes' was unexpected"),
    ({"x": {"train_size": 60001}}, "60001 is greater than the maximum of 60000"),
    ({"x": {"test_size": 5}}, "'test_size' was unexpected"),
    ({"x": {"photons": 0}}, "less than or equal to the minimum of 0"),
])
def test_schema_checks_scenario_names_and_overrides(scenarios, message):
    config = copy.deepcopy(base())
    config["scenarios"] = scenarios
    with pytest.raises(WorkflowError, match=message):
        validate(config, SCHEMA)


def test_a_scenario_overrides_only_its_keys_of_the_synthesis():
    config = copy.deepcopy(base())
    config["scenarios"] = {"noiseless": {}, "complex": {"object": "complex", "photons": 500.0}}
    original = copy.deepcopy(config)
    complex_config = scenario_config(config, "complex")
    expected = {**original["synthesis"], "object": "complex", "photons": 500.0}
    assert complex_config["synthesis"] == expected
    assert complex_config["scenario"] == "complex"
    assert {key: value for key, value in complex_config.items()
            if key not in ("synthesis", "scenario")} == {
        key: value for key, value in original.items() if key != "synthesis"}
    assert scenario_synthesis(config, "noiseless") == original["synthesis"]
    assert config == original  # nothing was changed in place
    with pytest.raises(ConfigError, match="unknown scenario 'other'"):
        scenario_synthesis(config, "other")


def test_scenarios_that_differ_only_in_training_size_share_their_test_set():
    config = copy.deepcopy(base())
    config["scenarios"] = {"small": {"train_size": 100}, "noisy": {"photons": 1.0e6},
                           "large": {"train_size": 400}, "noisy-large": {
                               "photons": 1.0e6, "train_size": 400},
                           "frame": {"n": 30, "m": 60, "train_size": 100}}
    assert owners_of_test_splits(config) == {"small": "small", "noisy": "noisy", "large": "small",
                                       "noisy-large": "noisy", "frame": "frame"}
    config["scenarios"]["large"]["phase_std_rad"] = 0.5  # any other key makes its own
    assert owners_of_test_splits(config)["large"] == "large"


@pytest.mark.parametrize("text, named", [
    ("photons: 1e3", "config key scenarios.low.photons = '1e3' is text, not a number: YAML "
                     "reads a number with an exponent but no decimal point (1e3) as text; "
                     "write 1000.0 or 1.0e+03"),
    ("photons: .nan", "config key scenarios.low.photons = nan: must be a finite number"),
    ("photons: -.inf", "config key scenarios.low.photons = -inf: must be a finite number"),
])
def test_numbers_yaml_reads_as_text_and_non_finite_numbers_are_refused(text, named):
    config = load(ROOT / "config" / "test.yaml")
    config["scenarios"]["low"] = yaml.safe_load(text)
    with pytest.raises(ConfigError) as raised:
        check_values(config)
    assert str(raised.value) == named


def test_a_run_named_like_a_number_is_text_by_design():
    config = load(ROOT / "config" / "test.yaml")
    config["run"] = "1e3"
    check_values(config)


@pytest.mark.parametrize("key, value, named", [
    ("scenarios.low.n", 40.0, "config key scenarios.low.n = 40.0 must be an integer"),
    ("synthesis.test_size", 12.0, "config key synthesis.test_size = 12.0 must be an integer"),
    ("reconstruction.methods.hio.iters", 30.0,
     "config key reconstruction.methods.hio.iters = 30.0 must be an integer"),
    ("training.models.naive.widths", [4, 8.0],
     r"config key training.models.naive.widths\[1\] = 8.0 must be an integer"),
])
def test_floats_where_the_schema_wants_integers_are_refused(key, value, named):
    """JSON Schema counts 40.0 as an integer; the check, given the schema, does not."""
    config = load(ROOT / "config" / "test.yaml")
    config["scenarios"]["low"] = {"n": 40, "m": 80}
    *parents, last = key.split(".")
    node = config
    for parent in parents:
        node = node[parent]
    node[last] = value
    validate(config, SCHEMA)  # passes the schema
    with pytest.raises(ConfigError, match=named):
        check(config, schema=load(SCHEMA))


@pytest.mark.parametrize("photons, refused", [(5183.0, True), (5184, False), (1e-9, True)])
def test_a_photon_budget_below_one_photon_per_pixel_is_refused(photons, refused):
    config = load(ROOT / "config" / "test.yaml")
    config["scenarios"]["low"] = {"photons": photons}
    if refused:
        with pytest.raises(ConfigError, match=f"scenarios.low.photons = {photons!r} is below the "
                                              "floor of 1 expected photon per measured pixel "
                                              r"\(5184 photons per image on the 72 x 72 grid\)"):
            check(config)
    else:
        check(config)
