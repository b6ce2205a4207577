"""Checks of the workflow configuration that JSON Schema cannot express.

The schema (workflow/schemas/config.schema.yaml) validates types and ranges;
:func:`check` adds cross-key constraints, each error naming the offending key.
"""

from __future__ import annotations

from typing import Any

from .registry import METHODS, SUPPORT_SELECTORS

__all__ = ["ConfigError", "check"]


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the key."""


def check(config: dict[str, Any]) -> None:
    """Raise :class:`ConfigError` for values that are valid alone but not together."""
    synthesis = config["synthesis"]
    n, m = synthesis["n"], synthesis["m"]
    if m < 2 * n - 1:
        raise ConfigError(f"config key synthesis.m = {m} must be >= 2 * synthesis.n - 1 = "
                          f"{2 * n - 1} (Fourier PR is unique only with this oversampling)")
    models = config.get("training", {}).get("models", {})
    if synthesis.get("photons") is not None:
        on_the_fly = sorted(name for name, settings in models.items()
                            if settings.get("on_the_fly"))
        if on_the_fly:
            raise ConfigError(f"config key training.models.{on_the_fly[0]}.on_the_fly: "
                              "on-the-fly placement computes noiseless measurements, but "
                              f"synthesis.photons = {synthesis['photons']} asks for noisy ones")
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
