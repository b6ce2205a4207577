"""Choose the refinement solver on validation data: the L-BFGS ALM or the Fourier-splitting ALM.

The paper refines the network output with "ALM [27]". Two readings are implemented
(``prbench.solvers.alm_lbfgs``: augmented Lagrangian with an L-BFGS inner solver;
``prbench.solvers.alm``: augmented Lagrangian of the splitting z = F x with a
closed-form z-step). For each trained network of a finished run (its ``best.pt``) this
script refines the first ``--count`` images of the run's validation hold-out (the last
``training.validation_fraction`` of ``data/train.npz``; no network trained on them;
:func:`prbench.data.validation.validation_set`) as ``<model>_refined`` does, through
:func:`prbench.methods.refine` with its ``solver`` replaced by each of the two -- support
from the network output, solver started from it, the method's per-image seeds, no
stopping test -- each solver at its config settings, over the config's support-selection
grid, so that each solver is compared at its own best support. Prints, per model and
solver, the mean and median symmetric MSE at every grid point and the paired per-image
difference of the two solvers at their best grid points.

    python benchmarks/choose_refinement_solver.py [--run results/default/noiseless]
        [--config config/config.yaml] [--scenario NAME] [--count 32] [--threads 1]
        [--output FILE]

The ``alm`` settings are those of the config's ``alm`` row with one start (as the
refined rows use one); the L-BFGS ALM's are those of its ``alm_lbfgs`` row with one start.
Recorded result: benchmarks/results/refinement_solver.md (the default run's networks
before the refined rows changed solver); it made the Fourier-splitting ALM the refinement
solver of the refined and support-only rows.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from prbench import methods
from prbench.metrics import symmetric_mse
from prbench.support_selection import grid
from common import chooser_parser, describe, paired_cells, report, setup

#: The solvers compared, each at its config row's settings with one start.
SOLVERS = ("alm_lbfgs", "alm")


def main() -> None:
    parser = chooser_parser(__doc__.splitlines()[0], count=32, run="default")
    args, config, held = setup(parser)
    truth = torch.from_numpy(held.x)
    settings = config["reconstruction"]["methods"]
    selection = config["reconstruction"]["support_selection"]
    points = grid(selection["sigma"], selection["threshold"])
    lines = [f"{describe(held, args.config)}; networks of {args.run}, {args.threads} torch "
             "thread(s).", "",
             "| model | solver | settings | σ | threshold | mean sym. MSE | median | seconds |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    best = {}
    for model in ("naive", "passive"):
        method = f"{model}_refined"
        output, _ = methods.network_output(model, args.run / "models" / model / "best.pt",
                                           held.y, held.geometry, device="cpu")
        for solver in SOLVERS:
            params = {**settings[solver], "n_starts": 1}
            for point in points:
                start = time.perf_counter()
                result = methods.refine(method, held.y, held.indices, params, output, point,
                                        seed=config["seed"], geometry=held.geometry,
                                        device="cpu", stopping=None, solver=solver)
                seconds = time.perf_counter() - start
                error = symmetric_mse(truth, torch.from_numpy(result.x_hat),
                                      held.geometry).numpy()
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
