"""Provenance recorded with every result: config, seed, code revision, versions, device."""

from __future__ import annotations

import datetime as _dt
import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["collect", "dumps", "git_revision"]

_PACKAGES = ("prbench", "torch", "numpy", "scipy", "pandas", "matplotlib", "snakemake")


def git_revision(directory: str | Path | None = None) -> str | None:
    """``git describe``-style revision of the checkout holding ``directory``.

    Returns the commit hash with a ``-dirty`` suffix when there are uncommitted
    changes, or None outside a git checkout.
    """
    cwd = Path(directory) if directory else Path(__file__).resolve().parent
    try:
        result = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=40"],
            cwd=cwd, capture_output=True, text=True, timeout=10, check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def collect(*, config: Any = None, seed: int | None = None, device: str | None = None,
            **extra: Any) -> dict[str, Any]:
    """A JSON-serialisable provenance record for one result."""
    return {
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "git_revision": git_revision(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": {name: _version(name) for name in _PACKAGES},
        "seed": seed,
        "device": device,
        "config": config,
        **extra,
    }


def dumps(record: dict[str, Any]) -> str:
    """Serialise a provenance record (non-JSON values become strings)."""
    return json.dumps(record, sort_keys=True, default=str)
