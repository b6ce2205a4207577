"""Checks of the workflow configuration that JSON Schema cannot express.

The schema (workflow/schemas/config.schema.yaml) validates types and ranges;
:func:`check_values` runs before it (numbers that YAML read as text, NaN and
infinities, which JSON Schema lets through or reports without the reason) and
:func:`check` after it (integers given as floats, the photon floor, cross-key
constraints, each method's parameters against its solver's schema: the registry, not
the schema, lists the methods), each error naming the offending key. Load the config's
plugins (:func:`prbench.registry.load_plugins`) before :func:`check`.
"""

from __future__ import annotations

import importlib
import math
import re

import jsonschema
from numbers import Real
from typing import Any

from .registry import (METHODS, SUPERVISED_MODELS, SUPPORT_SELECTORS, Method, parameter_problem,
                       parameter_schema, plugin_solver)

__all__ = ["ConfigError", "PHOTONS_PER_PIXEL_FLOOR", "SUMMARY_FOLDER", "SWEEP_KEYS", "check",
           "check_values", "scenario_config", "scenario_synthesis", "owners_of_test_splits"]

#: The least photon budget a scenario may ask for, in expected photons per measured pixel
#: (photons per image / m^2): below one photon per pixel most pixels count nothing.
PHOTONS_PER_PIXEL_FLOOR = 1.0
#: Text that reads as a number. PyYAML (YAML 1.1) keeps some of it as a string, above all
#: an exponent without a decimal point (1e3, 2E-5); a quoted number is text too.
_NUMBER_TEXT = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")
#: Keys whose values are text by design (a run may be named "2024").
_TEXT_KEYS = {"run"}

#: The synthesis keys that place a scenario in the sweep summary (no two scenarios share all).
SWEEP_KEYS = ("object", "n", "m", "photons", "train_size")
#: results/<run>/<this>/ holds the summary over a run's scenarios; no scenario may be named so.
SUMMARY_FOLDER = "sweep"


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the key."""


def scenario_synthesis(config: dict[str, Any], scenario: str) -> dict[str, Any]:
    """The synthesis section of ``scenario``: config["synthesis"] updated with the keys
    that config["scenarios"][scenario] overrides (object, photons, n, m, phase_*, train_size)."""
    if scenario not in config["scenarios"]:
        raise ConfigError(f"unknown scenario {scenario!r}; config key scenarios lists "
                          f"{sorted(config['scenarios'])}")
    return {**config["synthesis"], **(config["scenarios"][scenario] or {})}


def owners_of_test_splits(config: dict[str, Any]) -> dict[str, str]:
    """{scenario: the first scenario, in config order, whose synthesis equals its own except
    for ``train_size``}. Such scenarios draw the same test split (it depends on the seed and
    the synthesis alone, :func:`prbench.data.synth.synthesize`), so the workflow synthesizes
    it, and runs every method that needs nothing trained, once, in the owner's folder."""
    owners: dict[str, str] = {}
    first: dict[tuple, str] = {}  # test synthesis -> the scenario that owns it
    for scenario in config["scenarios"]:
        test_synthesis = tuple(sorted((key, value) for key, value in
                                      scenario_synthesis(config, scenario).items()
                                      if key != "train_size"))
        owners[scenario] = first.setdefault(test_synthesis, scenario)
    return owners


def scenario_config(config: dict[str, Any], scenario: str) -> dict[str, Any]:
    """The whole configuration one scenario runs with: ``config`` with its synthesis
    section replaced by :func:`scenario_synthesis` and the key ``scenario`` added."""
    return {**config, "scenario": scenario,
            "synthesis": scenario_synthesis(config, scenario)}


def _walk(node: Any, key: str = ""):
    """(dotted key, value) of every leaf of a config (lists by index)."""
    if isinstance(node, dict):
        for name, value in node.items():
            yield from _walk(value, f"{key}.{name}" if key else str(name))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{key}[{index}]")
    else:
        yield key, node


def check_values(config: dict[str, Any]) -> None:
    """Refuse, before schema validation, values that the schema would accept or refuse
    without saying why: numbers that YAML read as text ('1e3') and NaN or infinite numbers."""
    for key, value in _walk(config):
        if isinstance(value, str) and key not in _TEXT_KEYS and _NUMBER_TEXT.match(value):
            raise ConfigError(f"config key {key} = {value!r} is text, not a number: YAML reads "
                              "a number with an exponent but no decimal point (1e3) as text; "
                              f"write {float(value):.1f} or {float(value):.1e}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"config key {key} = {value}: must be a finite number")


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while isinstance(schema, dict) and "$ref" in schema:
        node = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema if isinstance(schema, dict) else {}


def _integer_floats(node: Any, schema: dict[str, Any], root: dict[str, Any], key: str = ""):
    """Dotted keys where ``schema`` (JSON Schema, local $refs) wants an integer and the
    config holds a float: JSON Schema counts 40.0 as an integer, Python code does not."""
    schema = _resolve(schema, root)
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else types
    if isinstance(node, float) and "integer" in types and "number" not in types:
        yield key, node
    elif isinstance(node, dict):
        for name, value in node.items():
            child = schema.get("properties", {}).get(name, schema.get("additionalProperties"))
            yield from _integer_floats(value, child or {}, root, f"{key}.{name}" if key else name)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _integer_floats(value, schema.get("items") or {}, root, f"{key}[{index}]")


def _refuse_integer_floats(node: Any, schema: dict[str, Any], root: dict[str, Any],
                           key: str = "", suffix: str = "") -> None:
    """Raise for the first of :func:`_integer_floats` (``suffix`` ends the message)."""
    for where, value in _integer_floats(node, schema, root, key):
        raise ConfigError(f"config key {where} = {value!r} must be an integer (written without "
                          f"a decimal point){suffix}")


def _check_synthesis(config: dict[str, Any], scenario: str) -> None:
    """The frame and the photon budget of one scenario's synthesis; errors name the key
    that sets the value (scenarios.<name>.<key>, or synthesis.<key> for the scenario)."""
    synthesis = scenario_synthesis(config, scenario)
    overrides = config["scenarios"][scenario] or {}

    def origin(name: str) -> str:
        return (f"scenarios.{scenario}.{name}" if name in overrides
                else f"synthesis.{name} (scenario {scenario})")

    n, m = synthesis["n"], synthesis["m"]
    if m < 2 * n - 1:
        raise ConfigError(f"config key {origin('m')}: m = {m} must be >= 2 * n - 1 = "
                          f"{2 * n - 1} (n = {n}; Fourier PR is unique only with this "
                          "oversampling)")
    photons = synthesis.get("photons")
    if photons is None:
        return
    floor = PHOTONS_PER_PIXEL_FLOOR * m * m
    if not (isinstance(photons, Real) and not isinstance(photons, bool) and photons >= floor):
        raise ConfigError(
            f"config key {origin('photons')} = {photons!r} is below the floor of "
            f"{PHOTONS_PER_PIXEL_FLOOR:g} expected photon per measured pixel ({floor:g} "
            f"photons per image on the {m} x {m} grid): almost every pixel would count "
            "nothing and every method would score about 1")
    models = config.get("training", {}).get("models", {})
    on_the_fly = sorted(name for name, settings in models.items() if settings.get("on_the_fly"))
    if on_the_fly:
        raise ConfigError(f"config key training.models.{on_the_fly[0]}.on_the_fly: "
                          "on-the-fly placement computes noiseless measurements, but "
                          f"{origin('photons')} asks for photons = {photons}")


def check(config: dict[str, Any], *, schema: dict[str, Any] | None = None) -> None:
    """Raise :class:`ConfigError` for values that are valid alone but not together, for a
    photon budget below the floor, and (given the JSON ``schema`` the config was validated
    with) for floats where the schema wants integers. Run :func:`check_values` first."""
    _refuse_integer_floats(config, schema or {}, schema or {})
    models = config.get("training", {}).get("models", {})
    for model in SUPERVISED_MODELS:
        for key, needed in (("fourier_loss", "amplitude"), ("output_domain", "frame")):
            value = models.get(model, {}).get(key, needed)
            if value != needed:
                raise ConfigError(f"config key training.models.{model}.{key} = {value!r}: the "
                                  f"{model} objective compares the output with the object "
                                  f"frame, it takes {needed!r}")
    scenarios = config.get("scenarios") or {}
    if not scenarios:
        raise ConfigError("config key scenarios must list at least one scenario "
                          "(e.g. `scenarios: {noiseless: {}}`)")
    if SUMMARY_FOLDER in scenarios:
        raise ConfigError(f"config key scenarios.{SUMMARY_FOLDER}: the name is reserved for "
                          f"the summary folder results/<run>/{SUMMARY_FOLDER}/")
    points: dict[tuple, str] = {}
    for scenario in scenarios:
        _check_synthesis(config, scenario)
        synthesis = scenario_synthesis(config, scenario)
        # The sweep summary draws one point per (object, frame, grid, photon budget,
        # training-set size).
        point = tuple(synthesis[key] for key in SWEEP_KEYS)
        if point in points:
            raise ConfigError(f"config key scenarios.{scenario} has the "
                              f"{', '.join(SWEEP_KEYS)} of scenarios.{points[point]}: the "
                              "sweep summary would draw both at one point")
        points[point] = scenario
    for name, params in config["reconstruction"]["methods"].items():
        key = f"reconstruction.methods.{name}"
        if name not in METHODS:
            raise ConfigError(f"config key {key}: unknown method; registered: {sorted(METHODS)}")
        method = METHODS[name]
        if method.kind == "prdeep" and not {"denoiser", "training"} <= set(config):
            raise ConfigError(f"config key {key} needs the 'denoiser' and 'training' sections "
                              "(its denoiser's training)")
        if method.model is not None and method.model not in models:
            raise ConfigError(f"config key {key} needs training.models.{method.model}")
        _check_parameters(method, params, schema or {})
    _check_support_selection(config["reconstruction"])
    reference = config["report"].get("paired_reference")
    if reference is not None and reference not in config["reconstruction"]["methods"]:
        raise ConfigError(f"config key report.paired_reference = {reference!r} is not one of "
                          "the configured reconstruction.methods")


def _check_parameters(method: Method, params: dict[str, Any], schema: dict[str, Any]) -> None:
    """``method``'s parameters against its solver: names it may not take
    (:func:`prbench.registry.parameter_problem`), then the solver's JSON Schema (a plugin's,
    or ``$defs/solvers/<solver>`` of the workflow's ``schema``), or without one the
    signature of its solver (a built-in solver's only where torch can be imported: without
    it the job checks the signature when it starts)."""
    key = f"reconstruction.methods.{method.name}"
    suffix = f" (plugin {method.plugin})" if method.plugin else ""
    solvers = schema.get("$defs", {}).get("solvers", {}).get("properties", {})
    solver_schema = parameter_schema(method.solver or "") or solvers.get(method.solver or "")
    function = plugin_solver(method.solver or "")
    if method.solver and not (function or solver_schema):
        built_in = _built_in_solvers()
        if built_in is not None:
            function = built_in.get(method.solver)
            if function is None:
                raise ConfigError(f"config key {key}: unknown solver {method.solver!r}{suffix}")
    problem = parameter_problem(method, params, function)
    if problem:
        raise ConfigError(f"config key {key}: {problem}{suffix}")
    if solver_schema is None:
        return
    root = {"$defs": schema.get("$defs", {}), **solver_schema}
    validator = jsonschema.validators.validator_for(schema or solver_schema)(root)
    error = jsonschema.exceptions.best_match(validator.iter_errors(params))
    if error is not None:
        where = ".".join([key, *map(str, error.absolute_path)])
        raise ConfigError(f"config key {where}: {error.message}{suffix}")
    _refuse_integer_floats(params, root, root, key, suffix)


def _built_in_solvers() -> dict[str, Any] | None:
    """prbench.solvers.SOLVERS, or None where torch is missing (planning needs none)."""
    try:
        return importlib.import_module("prbench.solvers").SOLVERS
    except ImportError:
        return None


def _check_support_selection(reconstruction: dict[str, Any]) -> None:
    """A method that takes its support from a network's output needs the
    ``support_selection`` grid and its model's selecting method (``SUPPORT_SELECTORS``)."""
    configured = reconstruction["methods"]
    needing = [name for name in configured if METHODS[name].needs_support]
    if needing and "support_selection" not in reconstruction:
        raise ConfigError("config key reconstruction.support_selection is required: "
                          f"{needing} take their support from a network's output, selected "
                          "on the validation split over its sigma and threshold grid")
    for name in needing:
        selector = SUPPORT_SELECTORS[METHODS[name].model]
        if selector not in configured:
            raise ConfigError(f"config key reconstruction.methods.{name} uses the support "
                              f"selected with {selector}'s settings: configure "
                              f"reconstruction.methods.{selector} too")
