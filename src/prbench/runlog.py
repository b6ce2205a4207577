"""Logging for workflow jobs: one log file per job, errors recorded before re-raising."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

__all__ = ["job_log"]


@contextlib.contextmanager
def job_log(path: str | Path, name: str) -> Iterator[logging.Logger]:
    """Log to ``path`` and stderr inside the block; an exception is logged, then re-raised."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    handlers = [logging.FileHandler(path, mode="w"), logging.StreamHandler(sys.stderr)]
    logging.basicConfig(level=logging.INFO, handlers=handlers, force=True,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logger = logging.getLogger(name)
    try:
        yield logger
    except Exception:
        logger.exception("job failed")
        raise
    finally:
        for handler in handlers:
            handler.close()
