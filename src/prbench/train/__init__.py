"""Training of prbench's networks: one loop (:mod:`.loop`) and its tasks, the learned
initialiser g_W (:mod:`.initialiser`, with the losses of the paper's Eqs. 2.1-2.2 in
:mod:`.losses`) and prDeep's denoiser (:mod:`.denoiser`)."""

from .denoiser import DenoisingTask, train_denoiser
from .initialiser import InitialiserTask, predict, train
from .loop import Cosine, OneCycle, fit

__all__ = ["fit", "OneCycle", "Cosine", "InitialiserTask", "DenoisingTask", "train",
           "train_denoiser", "predict"]
