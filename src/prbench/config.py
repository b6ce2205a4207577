"""Checks of the workflow configuration that JSON Schema cannot express.

The schema (workflow/schemas/config.schema.yaml) validates types and ranges;
:func:`check` adds cross-key constraints, each error naming the offending key.
"""

from __future__ import annotations

from typing import Any

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
