"""Checks of the workflow configuration that JSON Schema cannot express.

The schema (workflow/schemas/config.schema.yaml) validates types and ranges;
:func:`check` adds cross-key constraints, each error naming the offending key.
"""

from __future__ import annotations

from typing import Any

from .registry import METHODS, SUPPORT_SELECTORS

__all__ = ["ConfigError", "SUMMARY_FOLDER", "check", "scenario_config", "scenario_synthesis"]

#: results/<run>/<this>/ holds the summary over a run's scenarios; no scenario may be named so.
SUMMARY_FOLDER = "sweep"


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the key."""


def scenario_synthesis(config: dict[str, Any], scenario: str) -> dict[str, Any]:
    """The synthesis section of ``scenario``: config["synthesis"] updated with the keys
    that config["scenarios"][scenario] overrides (object, photons, n, m, phase_*)."""
    if scenario not in config["scenarios"]:
        raise ConfigError(f"unknown scenario {scenario!r}; config key scenarios lists "
                          f"{sorted(config['scenarios'])}")
    return {**config["synthesis"], **(config["scenarios"][scenario] or {})}


def scenario_config(config: dict[str, Any], scenario: str) -> dict[str, Any]:
    """The whole configuration one scenario runs with: ``config`` with its synthesis
    section replaced by :func:`scenario_synthesis` and the key ``scenario`` added."""
    return {**config, "scenario": scenario,
            "synthesis": scenario_synthesis(config, scenario)}


def _check_synthesis(synthesis: dict[str, Any], key: str, models: dict[str, Any]) -> None:
    """The frame and the photon budget of one scenario's synthesis (``key`` names where
    its values come from)."""
    n, m = synthesis["n"], synthesis["m"]
    if m < 2 * n - 1:
        raise ConfigError(f"config key {key}: m = {m} must be >= 2 * n - 1 = {2 * n - 1} "
                          "(Fourier PR is unique only with this oversampling)")
    if synthesis.get("photons") is not None:
        on_the_fly = sorted(name for name, settings in models.items()
                            if settings.get("on_the_fly"))
        if on_the_fly:
            raise ConfigError(f"config key training.models.{on_the_fly[0]}.on_the_fly: "
                              "on-the-fly placement computes noiseless measurements, but "
                              f"{key} asks for photons = {synthesis['photons']}")


def check(config: dict[str, Any]) -> None:
    """Raise :class:`ConfigError` for values that are valid alone but not together."""
    models = config.get("training", {}).get("models", {})
    scenarios = config.get("scenarios") or {}
    if not scenarios:
        raise ConfigError("config key scenarios must list at least one scenario "
                          "(e.g. `scenarios: {noiseless: {}}`)")
    if SUMMARY_FOLDER in scenarios:
        raise ConfigError(f"config key scenarios.{SUMMARY_FOLDER}: the name is reserved for "
                          f"the summary folder results/<run>/{SUMMARY_FOLDER}/")
    points: dict[tuple, str] = {}
    for scenario in scenarios:
        synthesis = scenario_synthesis(config, scenario)
        _check_synthesis(synthesis, f"synthesis with scenarios.{scenario}", models)
        # The sweep summary draws one point per (object, frame, grid, photon budget).
        point = tuple(synthesis[key] for key in ("object", "n", "m", "photons"))
        if point in points:
            raise ConfigError(f"config key scenarios.{scenario} has the object, n, m and "
                              f"photons of scenarios.{points[point]}: the sweep summary "
                              "would draw both at one point")
        points[point] = scenario
    for name, params in config["reconstruction"]["methods"].items():
        key = f"reconstruction.methods.{name}"
        if name not in METHODS:
            raise ConfigError(f"config key {key}: unknown method; registered: {sorted(METHODS)}")
        method = METHODS[name]
        if method.denoiser and not {"denoiser", "training"} <= set(config):
            raise ConfigError(f"config key {key} needs the 'denoiser' and 'training' sections "
                              "(its denoiser's training)")
        if method.model is not None and method.model not in models:
            raise ConfigError(f"config key {key} needs training.models.{method.model}")
        if method.solver is None and params:
            raise ConfigError(f"config key {key}: the network output takes no parameters")
    _check_support_selection(config["reconstruction"])
    reference = config["report"].get("paired_reference")
    if reference is not None and reference not in config["reconstruction"]["methods"]:
        raise ConfigError(f"config key report.paired_reference = {reference!r} is not one of "
                          "the configured reconstruction.methods")


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
