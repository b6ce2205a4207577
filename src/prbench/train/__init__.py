"""Training of prbench's networks: one loop (:mod:`.loop`) and its tasks, the learned
initialiser g_W (:mod:`.initialiser`, with the losses of the paper's Eqs. 2.1-2.2 in
:mod:`.losses`) and prDeep's denoiser (:mod:`.denoiser`)."""

from . import denoiser, initialiser
from .denoiser import DenoisingTask, train_denoiser
from .initialiser import InitialiserTask, predict, train
from .loop import Cosine, OneCycle, fit, read_history

__all__ = ["fit", "OneCycle", "Cosine", "InitialiserTask", "DenoisingTask", "train",
           "train_denoiser", "predict", "read_network_history"]


def read_network_history(path, *, network: str, epochs: int):
    """The checked ``history.csv`` of a trained network ("naive", "passive" or "denoiser";
    :func:`prbench.train.loop.read_history`), written by rule ``train_<network>``."""
    columns = denoiser.HISTORY_COLUMNS if network == "denoiser" else initialiser.HISTORY_COLUMNS
    return read_history(path, columns=columns, epochs=epochs, produced_by=f"train_{network}")
