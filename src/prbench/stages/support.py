"""Support selection stage: the (sigma, threshold) of a network output's support."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from .. import methods, provenance, support_selection
from ..data import synth
from ..devices import select_device
from ..registry import SUPPORT_SELECTORS

__all__ = ["select_support"]

_LOG = logging.getLogger(__package__)


def select_support(*, model: str, train_set: str | Path, network: str | Path,
                   output: str | Path, curve: str | Path, settings: dict[str, Any],
                   selection: dict[str, Any], validation_fraction: float, seed: int,
                   device: str, repository: str | Path,
                   stopping: dict[str, Any] | None = None) -> None:
    """Select the support parameters of ``model``'s network output on the first
    ``selection["images"]`` images of the train split's validation part (the images its
    training validated on), scoring the grid ``selection["sigma"]`` x
    ``selection["threshold"]`` with the reconstruction of ``SUPPORT_SELECTORS[model]``
    (solver ``settings``, ``stopping`` test as in the reconstruction); writes the
    selection file ``output`` and the ``curve``."""
    method = SUPPORT_SELECTORS[model]
    data = synth.load(train_set)
    n_val = synth.validation_size(len(data.x), validation_fraction)
    images = selection["images"]
    if images > n_val:
        raise ValueError(f"config key reconstruction.support_selection.images = {images} "
                         f"exceeds the {n_val} validation images of the train split")
    indices = np.arange(len(data.x) - n_val, len(data.x) - n_val + images)
    target = select_device(device)
    output_of_network, seconds = methods.network_output(model, network, data.y[indices],
                                                        data.geometry, target)
    chosen = support_selection.select(
        method, data.x[indices], data.y[indices], indices, settings, output_of_network,
        sigmas=selection["sigma"], thresholds=selection["threshold"], seed=seed,
        geometry=data.geometry, device=target, stopping=stopping)
    _LOG.info("%s support, %d validation images scored with %s (network %.1f s):\n%s\n"
              "chosen: %s", model, images, method, seconds, chosen.curve.to_string(index=False),
              chosen.choice)
    record = provenance.collect(repository=repository, seed=seed, device=str(target),
                                config={"method": method, "params": settings,
                                        "support_selection": selection,
                                        "validation_fraction": validation_fraction,
                                        "stopping": stopping})
    support_selection.save(chosen, output, curve, model=model, provenance=record)
