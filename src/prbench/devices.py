"""Device selection shared by training, prediction and the solvers' workflow jobs, and
the process set-up of a workflow job."""

from __future__ import annotations

import ctypes
import ctypes.util

import torch

__all__ = ["configure_job", "keep_freed_memory", "select_device"]

#: glibc mallopt parameters (malloc.h) and the values a job sets: blocks up to 32 MiB
#: (glibc's largest mmap threshold on 64-bit) come from the heap, and freed heap memory
#: is returned to the system only above 1 GiB.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD_BYTES, _TRIM_THRESHOLD_BYTES = 32 * 2 ** 20, 2 ** 30


def keep_freed_memory() -> bool:
    """Have glibc's malloc reuse freed blocks instead of returning them to the system.

    A solver step allocates and frees several (B, m, m) tensors of a few MB each; by
    default glibc serves each from a fresh mmap and unmaps it on free, so every step
    pays the page faults of touching new memory again (its share of the solvers'
    speed-up is not recorded on its own: benchmarks/results/solver_speed.md measures
    it together with the other changes of that record). Returns whether the C library
    took both settings (False where it is not glibc: nothing changes).
    """
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES)
                and mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD_BYTES))


def configure_job(threads: int | None) -> None:
    """Set up a workflow job's process: ``threads`` torch CPU threads (None: torch's
    default) and :func:`keep_freed_memory`."""
    if threads is not None:
        torch.set_num_threads(threads)
    keep_freed_memory()


def select_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"``: the first CUDA GPU if available, else the CPU; anything else as given.

    Raises a clear error when CUDA is requested but not available.
    """
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    chosen = torch.device(device)
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} was requested but CUDA is not available")
    return chosen
