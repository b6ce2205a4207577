"""Provenance recorded with every result: config, seed, code revision, versions, device."""

from __future__ import annotations

import datetime as _dt
import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from .registry import PLUGINS

__all__ = ["collect", "dumps", "git_revision", "package_version"]

_PACKAGES = ("prbench", "torch", "numpy", "scipy", "pandas", "matplotlib", "snakemake")


def git_revision(directory: str | Path) -> str | None:
    """``git describe``-style revision of the checkout holding ``directory``.

    Returns the commit hash with a ``-dirty`` suffix when tracked files have
    uncommitted changes, or None outside a git checkout.
    """
    try:
        result = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=40"],
            cwd=directory, capture_output=True, text=True, timeout=10, check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None


def package_version(package: str) -> str | None:
    """The installed version of ``package``, or None where it is not installed."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def collect(*, repository: str | Path | None = None, config: Any = None,
            seed: int | None = None, device: str | None = None, **extra: Any) -> dict[str, Any]:
    """A JSON-serialisable provenance record for one result.

    ``repository`` is the directory whose git revision is recorded (the
    workflow's checkout); with None, ``git_revision`` is recorded as None rather
    than guessed from the working directory or the library's location. Where plugins
    are loaded (:data:`prbench.registry.PLUGINS`), their record is added as "plugins".
    """
    return {
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "git_revision": None if repository is None else git_revision(repository),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": {name: package_version(name) for name in _PACKAGES},
        "seed": seed,
        "device": device,
        "config": config,
        # the plugins this process loaded (module, version, file, SHA-256, methods)
        **({"plugins": {name: dict(record) for name, record in PLUGINS.items()}}
           if PLUGINS else {}),
        **extra,
    }


def dumps(record: dict[str, Any]) -> str:
    """Serialise a provenance record (non-JSON values become strings)."""
    return json.dumps(record, sort_keys=True, default=str)
