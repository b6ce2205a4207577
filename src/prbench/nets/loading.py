"""Rebuilding a trained network from the ``best.pt`` that its training wrote."""

from __future__ import annotations

import inspect
import os

import torch
from torch import nn

from ..devices import select_device
from ..io import CorruptFileError, load_torch
from .dncnn import DnCNN
from .unet import UNet

__all__ = ["NETWORKS", "load_network"]

#: The trained network classes, by the name that ``best.pt`` records (``model_class``).
NETWORKS: dict[str, type[nn.Module]] = {network.__name__: network for network in (UNet, DnCNN)}


def load_network(path: str | os.PathLike, device: str | torch.device = "cpu", *,
                 produced_by: str) -> nn.Module:
    """The network stored in ``path``, in eval mode on ``device``.

    ``path`` holds ``model_class`` (a key of :data:`NETWORKS`), ``model_config``
    (its constructor arguments) and ``model`` (the weights), as
    :func:`prbench.train.fit` writes them. An unreadable file, or one without
    these entries, raises :class:`prbench.io.CorruptFileError` naming
    ``produced_by``, the workflow rule that writes ``path``; so does one whose
    ``model_config`` does not name every constructor argument of this version's class
    (a network saved before an argument existed would otherwise get its default),
    except those of the class's ``ADDED_ARGUMENTS``: one of these left out takes the
    value recorded there, the behaviour of the version that saved the network.
    """
    target = select_device(device)
    stored = load_torch(path, produced_by=produced_by, map_location=target)
    if not isinstance(stored, dict) or stored.get("model_class") not in NETWORKS:
        raise CorruptFileError.for_file(path, f"no model_class among {sorted(NETWORKS)}",
                                        produced_by=produced_by)
    network_class = NETWORKS[stored["model_class"]]
    expected = set(inspect.signature(network_class).parameters)
    recorded = stored.get("model_config")
    config = ({**getattr(network_class, "ADDED_ARGUMENTS", {}), **recorded}
              if isinstance(recorded, dict) else {})
    if set(config) != expected:
        raise CorruptFileError.for_file(
            path, f"its model_config records {sorted(recorded or {})}, but a "
            f"{stored['model_class']} of this version takes {sorted(expected)} (saved by "
            "another prbench version?)", produced_by=produced_by)
    try:
        network = network_class(**config)
        network.load_state_dict(stored["model"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise CorruptFileError.for_file(path, f"its weights do not rebuild a "
                                        f"{stored['model_class']}: {type(error).__name__}: "
                                        f"{error}", produced_by=produced_by) from error
    return network.to(target).eval()
