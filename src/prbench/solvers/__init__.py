"""Iterative Fourier phase-retrieval solvers (batched torch, CPU or CUDA).

Every solver has the signature ``solver(Y, support=None, init=None, *, seed=0,
geometry, **params) -> (X_hat, info)`` with ``geometry`` a required
:class:`prbench.geometry.Geometry` (n, m), Y (B, m, m) intensities
``|F pad(x, m)|^2`` (checked against geometry.m), support None meaning the n x n
top-left frame, X_hat (B, m, m) complex64 on Y's device and info a :class:`SolverInfo`.
Invalid numeric parameters raise a ValueError naming the parameter. Every solver takes
``stopping``: a :class:`Stopping` test that lets a converged start leave the batch
early (None, the default: every start runs its whole iteration budget).

A solver is a function decorated with :func:`solver` in any module of this package:
every module is imported here, so the decorator alone puts it in :data:`SOLVERS` under
its function name (and makes it importable from ``prbench.solvers``).
"""

import importlib
import pkgutil

from . import support
from ._common import SOLVERS, STOP_REASONS, SolverInfo, Stopping, solver
from .augmented_lagrangian import alm_objective

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
globals().update(SOLVERS)

__all__ = [*SOLVERS, "support", "solver", "SOLVERS", "SolverInfo", "Stopping", "STOP_REASONS",
           "alm_objective"]
