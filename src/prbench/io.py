"""Atomic file writes: a reader never sees a half-written output.

Every writer creates a temporary file in the destination's directory and
``os.replace``-s it into place, so an interrupted job leaves no partial output.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["atomic_path", "save_npz", "save_torch", "write_csv_rows", "write_json", "write_text"]


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` on success.

    On an exception the temporary file is removed and ``path`` is untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        os.chmod(temporary, 0o666 & ~_current_umask())
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def save_npz(path: str | os.PathLike, **arrays: Any) -> None:
    """Atomically write ``arrays`` to an uncompressed ``.npz`` file."""
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as stream:
            np.savez(stream, **arrays)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Atomically write ``text`` (UTF-8) to ``path``."""
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def write_json(path: str | os.PathLike, payload: Any) -> None:
    """Atomically write ``payload`` as indented JSON."""
    write_text(path, json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")


def save_torch(obj: Any, path: str | os.PathLike) -> None:
    """Atomically ``torch.save`` ``obj`` (checkpoints, weights) to ``path``."""
    import torch

    with atomic_path(path) as temporary:
        torch.save(obj, temporary)


def write_csv_rows(path: str | os.PathLike, rows: list[dict[str, Any]],
                   columns: tuple[str, ...] | list[str]) -> None:
    """Atomically write ``rows`` (dicts keyed by ``columns``) as a CSV file with a header."""
    with atomic_path(path) as temporary, open(temporary, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)
