"""Device selection shared by training, prediction and the solvers' workflow jobs."""

from __future__ import annotations

import torch

__all__ = ["select_device"]


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
