"""Atomic, deterministic file writes and checked reads of intermediate files.

Every writer creates a temporary file in the destination's directory and
``os.replace``-s it into place, so an interrupted job leaves no partial output.
The readers turn any unreadable intermediate into one :class:`CorruptFileError`
that names the file, the problem, the rule that writes it and the command that
regenerates it and everything that depends on it (:func:`repair_command`).

pandas is imported lazily (by the CSV readers), so that the jobs that read no table
(reconstruction) start without it.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import pickle
import shlex
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CorruptFileError", "RERUN_VARIABLE", "WORKDIR_VARIABLE", "atomic_path",
           "check_ranges", "load_npz", "load_torch", "read_csv", "read_json", "repair_command",
           "save_npz", "save_torch", "write_csv_rows", "write_json", "write_text"]

#: Environment variable holding the snakemake command line of the run in progress (its
#: Snakefile, profile and executor options, config files and --config overrides, no
#: targets), set when the workflow is planned (workflow/rules/common.smk) and inherited by
#: its jobs.
RERUN_VARIABLE = "PRBENCH_RERUN"
#: Environment variable holding the directory that run works in (relative paths start there).
WORKDIR_VARIABLE = "PRBENCH_WORKDIR"


def repair_command(path: str | os.PathLike) -> str:
    """The command that regenerates ``path`` and everything that depends on it:
    ``snakemake --forcerun <path>`` with the run's own Snakefile, config files and
    overrides (:data:`RERUN_VARIABLE`), to be run in :data:`WORKDIR_VARIABLE` if set."""
    prefix = os.environ.get(RERUN_VARIABLE, "snakemake")
    return f"{prefix} --forcerun {shlex.quote(os.fspath(path))}"


class CorruptFileError(RuntimeError):
    """An intermediate file is missing, truncated, or disagrees with what the run planned."""

    @classmethod
    def for_file(cls, path: str | os.PathLike, problem: str, *,
                 produced_by: str) -> CorruptFileError:
        """The error for ``path``: ``problem``, the rule ``produced_by`` that writes it and
        the command that regenerates it and what depends on it (:func:`repair_command`)."""
        workdir = os.environ.get(WORKDIR_VARIABLE)
        where = f" in {workdir}" if workdir else ""
        return cls(f"{os.fspath(path)} is unusable ({problem}). It is written by rule "
                   f"`{produced_by}`; to regenerate it and everything that depends on it, "
                   f"run{where}: {repair_command(path)}")


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
    """Atomically write ``arrays`` to an uncompressed ``.npz`` file.

    The bytes depend only on the arrays: ``np.savez`` opens each zip entry by
    name, which gives it zipfile's fixed 1980-01-01 timestamp, not the current time.
    """
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as stream:
            np.savez(stream, **arrays)


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def load_npz(path: str | os.PathLike, *, keys: Sequence[str],
             produced_by: str) -> dict[str, np.ndarray]:
    """Read the arrays ``keys`` from an ``.npz`` file written by rule ``produced_by``.

    Reads eagerly and closes the file. A missing, truncated or damaged file, or a
    missing array, raises :class:`CorruptFileError` naming the file, the problem
    and how to regenerate it.
    """
    try:
        stored = np.load(path)
        if not isinstance(stored, np.lib.npyio.NpzFile):
            raise CorruptFileError.for_file(path, "not an .npz archive", produced_by=produced_by)
        with stored:
            missing = [key for key in keys if key not in stored.files]
            if missing:
                names = ", ".join(repr(key) for key in missing)
                raise CorruptFileError.for_file(path, f"missing array {names}; it holds "
                                                f"{stored.files}", produced_by=produced_by)
            return {key: stored[key] for key in keys}
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as error:
        raise CorruptFileError.for_file(path, _describe(error), produced_by=produced_by) from error


def load_torch(path: str | os.PathLike, *, produced_by: str, map_location: Any = "cpu") -> Any:
    """``torch.load(path, weights_only=True)`` of a file written by rule ``produced_by``.

    A missing, truncated or damaged file raises :class:`CorruptFileError` naming
    the file, the problem and how to regenerate it.
    """
    import torch

    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except (OSError, EOFError, RuntimeError, pickle.UnpicklingError) as error:
        raise CorruptFileError.for_file(path, _describe(error), produced_by=produced_by) from error


def read_json(path: str | os.PathLike, *, produced_by: str) -> Any:
    """The parsed content of a JSON file written by rule ``produced_by``.

    A missing, truncated or otherwise unparsable file raises :class:`CorruptFileError`
    naming the file, the problem and how to regenerate it.
    """
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CorruptFileError.for_file(path, _describe(error), produced_by=produced_by) from error


def read_csv(path: str | os.PathLike, *, columns: Sequence[str], produced_by: str
             ) -> pd.DataFrame:
    """The table in CSV file ``path`` written by rule ``produced_by``, with exactly the
    header ``columns`` and at least one row; otherwise :class:`CorruptFileError`."""
    import pandas as pd

    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as error:  # pandas' EmptyDataError and ParserError included
        raise CorruptFileError.for_file(path, _describe(error), produced_by=produced_by) from error
    if list(frame.columns) != list(columns):
        raise CorruptFileError.for_file(path, f"columns {list(frame.columns)}, expected "
                                        f"{list(columns)}", produced_by=produced_by)
    if frame.empty:
        raise CorruptFileError.for_file(path, "a header without rows", produced_by=produced_by)
    return frame


def check_ranges(path: str | os.PathLike, frame: pd.DataFrame,
                 ranges: dict[str, tuple[float, float]], *, produced_by: str) -> None:
    """Every value of each column of ``ranges`` is a finite number in its closed [low,
    high]; otherwise :class:`CorruptFileError` naming the column and the first bad row."""
    import pandas as pd

    for column, (low, high) in ranges.items():
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
        bad = ~(np.isfinite(values) & (values >= low) & (values <= high))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise CorruptFileError.for_file(
                path, f"column {column!r} holds {frame[column].iloc[row]} in row {row + 2} "
                f"({int(bad.sum())} bad values): not a finite number in [{low:g}, {high:g}]",
                produced_by=produced_by)


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
