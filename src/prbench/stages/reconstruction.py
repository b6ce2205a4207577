"""Reconstruction stage: one test shard with one registered method."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from .. import methods, provenance, support_selection
from ..data import synth
from ..registry import METHODS
from ..shards import save_shard

__all__ = ["reconstruct_shard"]

_LOG = logging.getLogger(__package__)


def reconstruct_shard(*, method: str, test: str | Path, output: str | Path, shard: int,
                      shards: int, settings: dict[str, Any], seed: int, device: str,
                      repository: str | Path, network: str | Path | None = None,
                      support: str | Path | None = None, denoiser: str | Path | None = None,
                      training_set: str | Path | None = None,
                      stopping: dict[str, Any] | None = None) -> None:
    """Reconstruct test shard ``shard`` of ``shards`` with a registered method (with what
    the registry says it needs: network and its support selection file, denoiser or
    training split) and the solvers' ``stopping`` test (None: full budgets)."""
    data = synth.load(test)
    indices = methods.shard_indices(len(data.y), shards, shard)
    choice = None if support is None else support_selection.load_selection(
        support, model=METHODS[method].model)["choice"]
    result = methods.reconstruct(method, data.y[indices], indices, settings, seed=seed,
                                 geometry=data.geometry, device=device, network=network,
                                 denoiser=denoiser, training_set=training_set, support=choice,
                                 stopping=stopping)
    reasons, counts = np.unique(result.stop_reason, return_counts=True)
    _LOG.info("%s shard %d: %d images in %.1f s on %s, median residual %.3g, %d iterations "
              "in all, stopped by %s%s", method, shard, len(indices), result.seconds,
              result.device, float(np.median(result.residual)), int(result.iterations.sum()),
              dict(zip(reasons.tolist(), counts.tolist())),
              "" if choice is None else f", support {choice}")
    record = provenance.collect(repository=repository, seed=seed, device=result.device,
                                config={"method": method, "params": settings,
                                        "support": choice, "stopping": stopping})
    save_shard(output, x_hat=result.x_hat, index=indices, residual=result.residual,
               iterations=result.iterations, stop_reason=result.stop_reason,
               seconds=result.seconds, device=result.device, provenance=record)
