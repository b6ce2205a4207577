"""Training of the learned initialiser g_W: losses (paper, Eqs. 2.1-2.2) and loop."""

from .losses import (
    OBJECTIVES,
    ObjectiveTerms,
    jacobian_frobenius_sq,
    jacobian_frobenius_sq_from_outputs,
    naive_loss,
    objective,
    passive_loss,
)
from .loop import HISTORY_COLUMNS, predict, train

__all__ = [
    "OBJECTIVES",
    "ObjectiveTerms",
    "naive_loss",
    "passive_loss",
    "jacobian_frobenius_sq",
    "jacobian_frobenius_sq_from_outputs",
    "objective",
    "HISTORY_COLUMNS",
    "train",
    "predict",
]
