"""Iterative Fourier phase-retrieval solvers (batched torch, CPU or CUDA).

Every solver has the signature ``solver(Y, support=None, init=None, *, seed=0,
geometry, **params) -> (X_hat, info)`` with ``geometry`` a required
:class:`prbench.geometry.Geometry` (n, m), Y (B, m, m) intensities
``|F pad(x, m)|^2`` (checked against geometry.m), support None meaning the n x n
top-left frame, X_hat (B, m, m) complex64 on Y's device and info a :class:`SolverInfo`.
Invalid numeric parameters raise a ValueError naming the parameter. Every solver takes
``stopping``: a :class:`Stopping` test that lets a converged start leave the batch
early (None, the default: every start runs its whole iteration budget).
"""

from . import support
from ._common import STOP_REASONS, SolverInfo, Stopping
from .augmented_lagrangian import alm, alm_objective
from .fourier_splitting import alm_split
from .projection import dm, dm_sw, hio, hio_sw, raar, raar_sw
from .prdeep import prdeep

__all__ = ["hio", "raar", "dm", "alm", "alm_split", "hio_sw", "raar_sw", "dm_sw", "prdeep",
           "support", "SOLVERS", "SolverInfo", "Stopping", "STOP_REASONS", "alm_objective"]

#: Public solvers by name.
SOLVERS = {"hio": hio, "raar": raar, "dm": dm, "alm": alm, "alm_split": alm_split,
           "hio_sw": hio_sw, "raar_sw": raar_sw, "dm_sw": dm_sw, "prdeep": prdeep}
