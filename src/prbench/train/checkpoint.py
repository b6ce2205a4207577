"""Resumable training state keyed to everything that produced it.

A training loop saves its state after every epoch to a checkpoint file
(``last.pt``) together with a *fingerprint*: the SHA-256 of the training and
validation tensors, every setting of the loop, the network's class and
constructor arguments, and the versions of prbench and torch. A loop resumes
only from a checkpoint whose fingerprint equals its own; any other checkpoint
(other data, settings, network or code version; or an unreadable file) is
ignored and training starts from scratch, with a log line naming what differs.
A finished training writes its final outputs once and then removes its
checkpoint, so that a rerun (``snakemake --forcerun``, or changed inputs) trains
anew instead of re-publishing old weights.

One mechanism serves every trained network (the U-Nets and the denoiser).
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..io import save_torch, write_csv_rows
from ..provenance import package_version

__all__ = ["TrainingCheckpoint", "fingerprint", "tensor_digest", "write_final_outputs"]

_LOG = logging.getLogger("prbench.train")


def tensor_digest(*tensors: torch.Tensor) -> str:
    """SHA-256 over the dtypes, shapes and bytes of ``tensors`` (any device)."""
    digest = hashlib.sha256()
    for tensor in tensors:
        data = tensor.detach().cpu().resolve_conj().resolve_neg().contiguous()
        digest.update(f"{data.dtype}{tuple(data.shape)}".encode())
        if data.is_complex():
            data = torch.view_as_real(data)
        digest.update(data.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def fingerprint(*, data: dict[str, tuple[torch.Tensor, ...]], settings: dict[str, Any],
                network: nn.Module) -> dict[str, Any]:
    """The JSON-able record a checkpoint must match to be resumed.

    data: named groups of tensors the loop learns from (e.g. ``{"train": (x, y),
    "validation": (x, y)}``), digested with :func:`tensor_digest`; settings:
    every argument of the loop that changes its result; network: the model being
    trained (its class name and its ``config``, the constructor arguments).
    """
    record = {
        "data": {name: tensor_digest(*tensors) for name, tensors in data.items()},
        "settings": settings,
        "network": {"class": type(network).__name__, "config": getattr(network, "config", None)},
        "versions": {"prbench": package_version("prbench"), "torch": torch.__version__},
    }
    return json.loads(json.dumps(record, sort_keys=True))  # tuples -> lists: comparable


def _differences(stored: Any, current: Any, prefix: str = "") -> list[str]:
    """Dotted names of the entries where two fingerprints differ."""
    if isinstance(stored, dict) and isinstance(current, dict):
        return [difference for key in sorted(set(stored) | set(current))
                for difference in _differences(stored.get(key), current.get(key),
                                               f"{prefix}{key}.")]
    return [] if stored == current else [prefix.rstrip(".")]


class TrainingCheckpoint:
    """The checkpoint file of one training, valid only for one fingerprint.

    path: the checkpoint file (``last.pt``); fingerprint: from :func:`fingerprint`.
    """

    def __init__(self, path: str | Path, fingerprint: dict[str, Any]) -> None:
        self.path = Path(path)
        self.fingerprint = fingerprint

    def resume(self) -> dict[str, Any] | None:
        """The saved state when the checkpoint exists and matches, else None (logged)."""
        if not self.path.exists():
            _LOG.info("no checkpoint at %s: training from scratch", self.path)
            return None
        try:
            stored = torch.load(self.path, map_location="cpu", weights_only=True)
            stored_fingerprint, state = stored["fingerprint"], stored["state"]
        except Exception as error:  # noqa: BLE001 - any unreadable file is discarded
            _LOG.warning("checkpoint %s is unreadable (%s: %s): training from scratch",
                         self.path, type(error).__name__, error)
            return None
        differences = _differences(stored_fingerprint, self.fingerprint)
        if differences:
            _LOG.info("checkpoint %s was written for other inputs (differs in: %s): "
                      "training from scratch", self.path, ", ".join(differences))
            return None
        _LOG.info("resuming from checkpoint %s after epoch %d", self.path, state["epoch"])
        return state

    def save(self, state: dict[str, Any]) -> None:
        """Atomically write ``state`` (must hold ``epoch``) with the fingerprint."""
        save_torch({"fingerprint": self.fingerprint, "state": state}, self.path)

    def remove(self) -> None:
        """Delete the checkpoint (after the final outputs are written)."""
        self.path.unlink(missing_ok=True)


def write_final_outputs(checkpoint: TrainingCheckpoint, state: dict[str, Any], best_path: Path,
                        history_path: Path, history_columns: tuple[str, ...], *,
                        network: nn.Module) -> None:
    """Publish a finished training once: ``best.pt``, ``history.csv``; then drop the checkpoint.

    state: holds ``history`` (row dicts), ``best_model`` (the best-validation
    weights), ``best_epoch`` and ``best_val_loss``. ``best.pt`` stores those
    weights with the class name (``model_class``) and constructor arguments
    (``model_config``) of ``network``, which :func:`prbench.nets.load_network`
    rebuilds, and the fingerprint (what they were trained from).
    """
    if "best_model" not in state:
        raise FloatingPointError("no epoch had a finite validation loss: nothing to publish; "
                                 "lower the learning rate")
    save_torch({"model": state["best_model"], "model_class": type(network).__name__,
                "model_config": getattr(network, "config", None),
                "epoch": state["best_epoch"], "val_loss": state["best_val_loss"],
                "fingerprint": checkpoint.fingerprint}, best_path)
    write_csv_rows(history_path, state["history"], history_columns)
    checkpoint.remove()
