"""A run's Table 1 against a committed reference made on another kernel path.

On the reference's kernel path (:func:`prbench.machine.kernel_path`) a run reproduces the
reference byte for byte. On another, bf16 training takes other kernels, so the networks
differ in their last bits and the rows built on them move: such a row passes when its mean
MSE lies within :data:`TOLERANCE` of the reference's; every other row must be identical in
every column (no training, no bf16: the same bits on every x86 CPU measured).
"""

from __future__ import annotations

import pandas as pd

from ..registry import METHODS

__all__ = ["KERNEL_PATH_MOVE", "TOLERANCE", "compare_tables", "depends_on_training"]

#: The smallest tolerance of a row built on a trained network: the largest move of such a
#: row's mean measured between two kernel paths (0.0177, simulated AVX2 against
#: AVX-512 BF16, 100 test images; benchmarks/results/kernel_paths.md), rounded up. The
#: networks' bits, not the test images, make that move, so it does not shrink with more
#: test images the way the CI does.
KERNEL_PATH_MOVE = 0.02
#: The tolerance of a row that depends on a trained network, in words.
TOLERANCE = (f"half the width of the reference row's 95% bootstrap CI of the mean MSE, "
             f"at least {KERNEL_PATH_MOVE}")


def depends_on_training(method: str) -> bool:
    """Whether a registered method's result depends on a trained network's weights (it
    needs a network or the denoiser: :meth:`prbench.registry.Method.needs`)."""
    return bool({"network", "denoiser"} & set(METHODS[method].needs()))


def compare_tables(run: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """One row per method of the reference's Table 1 (table1.csv frames): ``trained``
    (:func:`depends_on_training`), ``reference_mean``, ``run_mean``, ``moved`` (absolute
    difference of the means), ``tolerance`` (:data:`TOLERANCE`; 0 for a training-free
    row, which must be identical in every column) and ``within``. A method missing from
    the run, or a run with other methods or image counts, raises ValueError."""
    run, reference = run.set_index("method"), reference.set_index("method")
    if list(run.index) != list(reference.index) or not run["images"].equals(reference["images"]):
        raise ValueError(f"the run's table has methods {list(run.index)} on "
                         f"{run['images'].tolist()} images, the reference "
                         f"{list(reference.index)} on {reference['images'].tolist()}")
    rows = []
    for method, expected in reference.iterrows():
        got = run.loc[method]
        trained = depends_on_training(method)
        moved = abs(float(got["mean_mse"]) - float(expected["mean_mse"]))
        half_width = (float(expected["ci_high"]) - float(expected["ci_low"])) / 2
        tolerance = max(half_width, KERNEL_PATH_MOVE) if trained else 0.0
        within = moved <= tolerance if trained else bool(got.equals(expected))
        rows.append({"method": method, "trained": trained,
                     "reference_mean": float(expected["mean_mse"]),
                     "run_mean": float(got["mean_mse"]), "moved": moved,
                     "tolerance": tolerance, "within": within})
    return pd.DataFrame(rows)
