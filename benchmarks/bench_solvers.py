"""Throughput of every iterative solver, this checkout against a baseline revision.

Measures image-iterations per second (images x iterations / wall time; ALM with
L-BFGS subproblems: its L-BFGS iterations) of each solver on the same measurements of
synthetic 36 x 36 blob objects (:func:`prbench.data.phantoms.blob_objects`, made once by
this checkout and handed to every process as a file; m = 72, the n x n frame support,
random starts, no stopping test, no ER polish) in fresh processes, one per measurement:
the baseline revision
(checked out into a temporary git worktree) and this checkout alternate, solver by
solver, ``--repeats`` times, and the table gives the medians. Each process sets up
memory and threads as a workflow job of its tree does (``prbench.devices.
configure_job`` where the tree has it), so the ratio is what a job gains.

    python benchmarks/bench_solvers.py [--baseline 439c85b] [--batch 100] [--repeats 5]
        [--threads 1] [--device cpu] [--output benchmarks/results/solver_speed.md]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Each solver's call: its iterations per measurement and keyword arguments.
CASES = {
    "hio": (100, dict(iters=100, n_starts=1, er_iters=0)),
    "raar": (100, dict(iters=100, n_starts=1, er_iters=0)),
    "dm": (100, dict(iters=100, n_starts=1, er_iters=0)),
    "hio_sw": (100, dict(iters=100, n_starts=1, er_iters=0)),
    "raar_sw": (100, dict(iters=100, n_starts=1, er_iters=0)),
    "dm_sw": (100, dict(iters=100, n_starts=1, er_iters=0)),
    "alm": (100, dict(iters=100, n_starts=1)),
    "alm_lbfgs": (30, dict(n_starts=1, outer_iters=3, inner_iters=10, tol=0.0, grad_tol=0.0)),
}


GEOMETRY = (36, 72)


def write_measurements(path: Path, batch: int) -> None:
    """The measurements every process times its solver on: (batch, m, m) float32, .npy."""
    import numpy as np

    from prbench.data.phantoms import blob_objects
    from prbench.physics import forward

    n, m = GEOMETRY
    np.save(path, forward(blob_objects(batch, seed=0, n=n), m).numpy())


def worker(solver: str, measurements: Path, threads: int, device: str) -> None:
    """Time one call of ``solver`` in this process's prbench on the ``measurements`` file;
    print a JSON record."""
    import numpy as np
    import torch

    from prbench import devices
    from prbench.geometry import Geometry
    from prbench.solvers import SOLVERS

    if hasattr(devices, "configure_job"):
        devices.configure_job(threads)
    else:
        torch.set_num_threads(threads)
    geometry = Geometry(*GEOMETRY)
    target = torch.device(device)
    y = torch.from_numpy(np.load(measurements)).to(target)
    batch = len(y)
    iterations, params = CASES[solver]
    SOLVERS[solver](y[:2], geometry=geometry, **params)  # warm-up
    start = time.perf_counter()
    SOLVERS[solver](y, geometry=geometry, **params)
    if target.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    import prbench
    print(json.dumps({"rate": batch * iterations / seconds, "seconds": seconds,
                      "prbench": prbench.__file__}))


def measure(tree: Path, solver: str, args: argparse.Namespace, measurements: Path) -> float:
    """Image-iterations per second of ``solver`` with the prbench of ``tree``."""
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    out = subprocess.run([sys.executable, __file__, "--worker", solver, "--measurements",
                          str(measurements), "--threads", str(args.threads), "--device",
                          args.device], env=env, check=True, capture_output=True, text=True)
    record = json.loads(out.stdout.strip().splitlines()[-1])
    if not record["prbench"].startswith(str(tree / "src")):
        raise RuntimeError(f"the worker imported {record['prbench']}, not {tree}'s prbench")
    return record["rate"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="439c85b", help="git revision to compare with")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--solvers", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--output", type=Path, help="also write the table here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--measurements", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.measurements, args.threads, args.device)
        return
    rates: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        measurements = Path(scratch) / "measurements.npy"
        write_measurements(measurements, args.batch)
        baseline = Path(scratch) / "baseline"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(baseline),
                        args.baseline], check=True, capture_output=True)
        try:
            for repeat in range(args.repeats):
                for solver in args.solvers:
                    for name, tree in (("before", baseline), ("after", ROOT)):
                        rates.setdefault((solver, name), []).append(
                            measure(tree, solver, args, measurements))
                print(f"repeat {repeat + 1}/{args.repeats} done", file=sys.stderr, flush=True)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                            str(baseline)], check=True)
    revision = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              check=True, capture_output=True, text=True).stdout.strip()
    lines = [f"Image-iterations per second, median of {args.repeats} interleaved runs; batch "
             f"{args.batch} images, one start each, {args.threads} torch thread(s), "
             f"{args.device}; before: `{args.baseline}`, after: this checkout (`{revision}`, "
             "with its uncommitted changes if any).", "",
             "| solver | iterations | before | after | after / before |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for solver in args.solvers:
        before = statistics.median(rates[solver, "before"])
        after = statistics.median(rates[solver, "after"])
        lines.append(f"| {solver} | {CASES[solver][0]} | {before:,.0f} | {after:,.0f} | "
                     f"{after / before:.2f}x |")
    table = "\n".join(lines) + "\n"
    print(table)
    if args.output:
        args.output.write_text(table)


if __name__ == "__main__":
    main()
