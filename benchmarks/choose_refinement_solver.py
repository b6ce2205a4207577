"""Choose the refinement solver on validation data: the L-BFGS ALM or the Fourier-splitting ALM.

The paper refines the network output with "ALM [27]". Two readings are implemented
(``prbench.solvers.alm_lbfgs``: augmented Lagrangian with an L-BFGS inner solver;
``prbench.solvers.alm``: augmented Lagrangian of the splitting z = F x with a
closed-form z-step). For each trained network of a finished run (its ``best.pt``) this
script refines the first ``--count`` images of the run's validation hold-out (the last
``training.validation_fraction`` of ``data/train.npz``; no network trained on them) as
``<model>_refined`` does -- support from the network output, solver started from it --
with each solver at its config settings, over the run's support-selection grid, so that
each solver is compared at its own best support. Prints, per model and solver, the mean
and median symmetric MSE at every grid point and the paired per-image difference of the
two solvers at their best grid points.

    python benchmarks/choose_refinement_solver.py [--run results/default/noiseless]
        [--config config/config.yaml] [--count 32] [--threads 1] [--output FILE]

The ``alm`` settings are those of the config's ``alm`` row with one start (as the
refined rows use one); the L-BFGS ALM's are those of its ``alm_lbfgs`` row with one start.
Recorded result: benchmarks/results/refinement_solver.md (the default run's networks
before the refined rows changed solver); it made the Fourier-splitting ALM the refinement
solver of the refined and support-only rows.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from prbench import methods
from prbench.data import synth
from prbench.metrics import symmetric_mse
from prbench.physics import pad
from prbench.solvers import SOLVERS
from prbench.solvers.support import from_estimate
from prbench.support_selection import grid
from validation_data import paired_cells, report

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=ROOT / "results" / "default" / "noiseless")
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "config.yaml")
    parser.add_argument("--count", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", type=Path, help="also write the tables here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = yaml.safe_load(args.config.read_text())
    data = synth.load(args.run / "data" / "train.npz")
    n_val = synth.validation_size(len(data.x), config["training"]["validation_fraction"])
    if args.count > n_val:
        raise ValueError(f"--count {args.count} exceeds the {n_val} validation images")
    indices = np.arange(len(data.x) - n_val, len(data.x) - n_val + args.count)
    x, y, geometry = data.x[indices], data.y[indices], data.geometry
    truth = torch.from_numpy(x)
    settings = config["reconstruction"]["methods"]
    selection = config["reconstruction"]["support_selection"]
    points = grid(selection["sigma"], selection["threshold"])
    lines = [f"Validation images {indices[0]}-{indices[-1]} of {args.run}/data/train.npz "
             f"({len(indices)} images), networks of {args.run}, {args.threads} torch "
             "thread(s).", "",
             "| model | solver | settings | σ | threshold | mean sym. MSE | median | seconds |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    best = {}
    for model in ("naive", "passive"):
        method = f"{model}_refined"
        output, _ = methods.network_output(model, args.run / "models" / model / "best.pt", y,
                                           geometry, device="cpu")
        estimate = pad(output, geometry.m)
        seeds = methods.image_seeds(config["seed"], method, indices)
        solvers = {"alm_lbfgs": {**settings["alm_lbfgs"], "n_starts": 1},
                   "alm": {**settings["alm"], "n_starts": 1}}
        for solver, params in solvers.items():
            for point in points:
                start = time.perf_counter()
                x_hat, _ = SOLVERS[solver](torch.from_numpy(y), from_estimate(estimate, **point),
                                           estimate, seed=seeds, geometry=geometry, **params)
                seconds = time.perf_counter() - start
                error = symmetric_mse(truth, x_hat, geometry).numpy()
                if (model, solver) not in best or error.mean() < best[model, solver].mean():
                    best[model, solver] = error
                shown = ", ".join(f"{key} {value}" for key, value in params.items())
                lines.append(f"| {model} | {solver} | {shown} | {point['sigma']:g} | "
                             f"{point['threshold']:g} | {error.mean():.4f} | "
                             f"{np.median(error):.4f} | {seconds:.0f} |")
                print(lines[-1], flush=True)
    lines += ["", "| model | alm - alm_lbfgs at each one's best grid point | s.e. | "
              "images better with alm |", "| --- | ---: | ---: | ---: |"]
    for model in ("naive", "passive"):
        diff = best[model, "alm"] - best[model, "alm_lbfgs"]
        lines.append(f"| {model} | {paired_cells(diff)} | {(diff < 0).sum()} of {len(diff)} |")
    report(lines, args.output)


if __name__ == "__main__":
    main()
