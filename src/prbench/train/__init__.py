"""Training of prbench's networks: one loop (:mod:`.loop`) and its tasks, the learned
initialiser g_W (:mod:`.initialiser`, losses of the paper's Eqs. 2.1-2.2 in
:mod:`.losses`) and prDeep's denoiser (:mod:`.denoiser`)."""

from .denoiser import DenoisingTask, train_denoiser
from .initialiser import HISTORY_COLUMNS, InitialiserTask, predict, train
from .loop import Cosine, OneCycle, fit
from .losses import (
    OBJECTIVES,
    ObjectiveTerms,
    jacobian_frobenius_sq,
    jacobian_frobenius_sq_from_outputs,
    naive_loss,
    objective,
    passive_loss,
)

__all__ = [
    "OBJECTIVES",
    "ObjectiveTerms",
    "naive_loss",
    "passive_loss",
    "jacobian_frobenius_sq",
    "jacobian_frobenius_sq_from_outputs",
    "objective",
    "fit",
    "OneCycle",
    "Cosine",
    "InitialiserTask",
    "DenoisingTask",
    "HISTORY_COLUMNS",
    "train",
    "train_denoiser",
    "predict",
]
