"""Choose the starts of the network-started shrink-wrap rows on validation data: the
network's output alone, or it and random starts, the final choice by Fourier residual.

Takes a finished workflow run's trained networks and support selections (``--run``, a
scenario folder such as ``results/default/noiseless``, trained on the config's training
split) and the first ``--count`` images of that split's validation hold-out (on which no
network trained), reconstructs them with ``<model>_sw`` for each of ``--models`` at each
``--starts`` count (1: the network's output only; k > 1: it and k - 1 random starts, the
one of lowest Fourier residual kept, never chosen by the truth) and with ``hio_sw`` (the
training-free baseline, its config settings), through the registry
(:func:`prbench.methods.reconstruct`, the pipeline's per-image seeds and stopping test).
Prints the mean symmetric MSE per setting and the paired per-image differences from
``hio_sw`` and from one start (mean ± 1.96 s.e.); ``--output`` also writes them.

    python benchmarks/choose_network_starts.py --run results/default/noiseless
        [--models naive passive] [--starts 1 2] [--count 200] [--output FILE]

Recorded result: benchmarks/results/network_starts.md (validation images 5400-5599, the
default run's networks, every row at hio_sw's settings): hio_sw 0.0238; the network's
output alone 0.0310 (naive), 0.0293 (passive), 0.0253 (canonical), 0.0272 (invariant);
with one random start beside it 0.0252, 0.0254, 0.0239, 0.0253, lower for all four
(by 0.0058 +- 0.0042 for the naive network, within the interval for the others) and at
hio_sw's budget of two starts, so the configs take n_starts = 2. No network-started row
differs from hio_sw by more than its interval on these images.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
import yaml

from prbench import methods, support_selection
from prbench.metrics import symmetric_mse
from validation_data import paired_interval, report, validation_parser, validation_set

def main() -> None:
    parser = validation_parser(__doc__.splitlines()[0], 200)
    parser.add_argument("--run", type=Path, required=True,
                        help="a finished run's scenario folder trained on the config's split")
    parser.add_argument("--models", nargs="+", default=["naive", "passive"])
    parser.add_argument("--starts", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = yaml.safe_load(args.config.read_text())
    x, y, indices, geometry = validation_set(config, args.fashion, args.count)
    settings = config["reconstruction"]["methods"]
    common = {"seed": config["seed"], "geometry": geometry, "device": "cpu",
              "stopping": config["reconstruction"].get("stopping")}
    runs = [("hio_sw", settings["hio_sw"], {})]
    for model in args.models:
        needs = {"network": args.run / "models" / model / "best.pt",
                 "support": support_selection.load_selection(
                     args.run / "support" / f"{model}.json", model=model)["choice"]}
        runs += [(f"{model}_sw", {**settings[f"{model}_sw"], "n_starts": starts}, needs)
                 for starts in args.starts]
    lines = [f"Validation images {indices[0]}-{indices[-1]} of the `train` split of "
             f"{args.config.name} (seed {config['seed']}, {geometry}), {len(indices)} images; "
             f"networks and supports of {args.run}; {args.threads} torch thread(s).", "",
             "| method | starts | mean sym. MSE | median | seconds | Δ vs hio_sw | "
             "Δ vs one start |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    errors = {}
    for method, params, needs in runs:
        start = time.perf_counter()
        result = methods.reconstruct(method, y, indices, params, **common, **needs)
        seconds = time.perf_counter() - start
        error = symmetric_mse(torch.from_numpy(x), torch.from_numpy(result.x_hat),
                              geometry).numpy()
        errors[method, params["n_starts"]] = error
        baseline = ("—" if method == "hio_sw"
                    else paired_interval(error - errors["hio_sw", settings["hio_sw"]["n_starts"]]))
        single = errors.get((method, 1))
        versus_one = ("—" if single is None or params["n_starts"] == 1
                      else paired_interval(error - single))
        lines.append(f"| {method} | {params['n_starts']} | {error.mean():.4f} | "
                     f"{np.median(error):.4f} | {seconds:.0f} | {baseline} | {versus_one} |")
        print(lines[-1], flush=True)
    report(lines, args.output)


if __name__ == "__main__":
    main()
