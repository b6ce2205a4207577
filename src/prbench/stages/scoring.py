"""Scoring stage: the symmetry-adjusted MSE of one method's reconstructions."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from .. import methods
from ..data import synth
from ..io import save_npz, write_text
from ..report.scores import score_method
from ..shards import load_shards

__all__ = ["score"]

_LOG = logging.getLogger(__package__)


def score(*, method: str, test: str | Path, shards: Sequence[str | Path], scores: str | Path,
          aligned: str | Path) -> None:
    """Symmetry-adjusted MSE of one method's reconstructions (paper, Appendix A.1)."""
    data = synth.load(test)
    planned = [methods.shard_indices(len(data.y), len(shards), shard)
               for shard in range(len(shards))]
    table_rows, best_aligned = score_method(method, data, load_shards(shards, planned),
                                            data.geometry)
    _LOG.info("%s: %d images, mean MSE %.4f, median %.4f", method, len(table_rows),
              table_rows["mse"].mean(), table_rows["mse"].median())
    write_text(scores, table_rows.to_csv(index=False))
    save_npz(aligned, aligned=best_aligned, image=table_rows["image"].to_numpy())
