"""Choose the solvers' convergence test (``reconstruction.stopping``) on validation data.

Takes the first ``--count`` images of the validation hold-out of the ``--run`` folder's
train split (its ``data/train.npz``, on which no network trained;
:func:`prbench.data.validation.validation_set`, which synthesizes the split as the
workflow does where the run has none). Every
iterative method of the config (every method with a solver: the projection family, both
ALMs, prDeep and the refined / support-only rows, whose networks, denoiser and support
choices come from a finished run's folder ``--run``) reconstructs them through the
registry (:func:`prbench.methods.reconstruct`, the pipeline's per-image seeds) without
stopping and with each candidate test, ordered from strict to loose (a candidate may also
change solver parameters: "tol,window,floor;iters=500"). For each method and candidate it
reports the paired per-image difference of the symmetric MSE from the run without stopping
at the config's parameters (mean, 95% interval mean +- 1.96 s.e.), the iterations run and the
solver seconds as fractions of those without stopping. The chosen test is the loosest
candidate whose interval lies within +-``--bound`` for every method (seconds: each
method's solver time after one warm-up call, in a process set up as a workflow job;
on a shared machine they are noisy, the iterations are not); ``--output`` writes
the report (a Markdown file) and its machine-readable record (the same name, .json).

    python benchmarks/choose_stopping.py --run results/default/noiseless [--scenario NAME]
        [--count 100] [--candidates 0,none,1e-6 0.001,200,1e-4 ...] [--methods hio alm]
        [--bound 0.005] [--threads 1] [--output benchmarks/results/stopping.md]

Runs can be split by ``--methods`` over several processes and merged with ``--merge
FILE.json ...`` (which only reads records and writes the combined report).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from prbench import methods
from prbench.devices import configure_job
from prbench.metrics import symmetric_mse
from prbench.registry import METHODS
from prbench.support_selection import load_selection
from common import chooser_parser, report, validation_images

#: Candidate tests (tol, window, floor), strict to loose: the residual floor alone (window
#: none: no stall test), then with a cautious stall test.
CANDIDATES = ("0,none,1e-6", "0,none,1e-5", "0,none,1e-4", "0.001,200,1e-4")


def _candidate(text: str) -> dict[str, float | int]:
    """The Stopping keyword arguments of a candidate "tol,window,floor[;param=value...]"."""
    tol, window, floor = text.split(";")[0].split(",")
    return {"tol": float(tol), "window": None if window == "none" else int(window),
            "floor": float(floor)}


def _overrides(text: str) -> dict[str, object]:
    """The solver parameters a candidate "tol,window,floor;param=value;..." changes."""
    pairs = [item.split("=", 1) for item in text.split(";")[1:]]
    return {key: yaml.safe_load(value) for key, value in pairs}


def _inputs(method: str, run: Path) -> dict[str, object]:
    """The trained files a method needs, from the run's folder."""
    spec = METHODS[method]
    found: dict[str, object] = {}
    if spec.model is not None:
        found["network"] = run / "models" / spec.model / "best.pt"
        if spec.needs_support:
            found["support"] = load_selection(run / "support" / f"{spec.model}.json",
                                              model=spec.model)["choice"]
    if spec.kind == "prdeep":
        found["denoiser"] = run / "models" / "denoiser" / "best.pt"
    return found


def measure(config: dict, args: argparse.Namespace) -> dict[str, object]:
    """Per method and setting (None = no stopping, then each candidate): per-image MSE,
    iterations and the solver's seconds."""
    held = validation_images(args, config)
    x, y, indices, geometry = held.x, held.y, held.indices, held.geometry
    truth = torch.from_numpy(x)
    settings = config["reconstruction"]["methods"]
    chosen = args.methods or [method for method in settings if METHODS[method].solver]
    record = {"commands": [" ".join(["python", *sys.argv])],
              "config": args.config.name, "split": held.origin,
              "images": [int(indices[0]), int(indices[-1])],
              "count": len(indices), "threads": args.threads, "candidates": args.candidates,
              "methods": {}}
    for method in chosen:
        runs = []
        methods.reconstruct(method, y[:2], indices[:2], settings[method], seed=config["seed"],
                            geometry=geometry, device="cpu", **_inputs(method, args.run))
        for text in [None, *args.candidates]:
            setting = None if text is None else _candidate(text)
            params = {**settings[method], **({} if text is None else _overrides(text))}
            unknown = set(params) - set(settings[method])
            if unknown:
                raise ValueError(f"{method} has no parameters {sorted(unknown)} to change")
            start = time.perf_counter()
            result = methods.reconstruct(method, y, indices, params,
                                         seed=config["seed"], geometry=geometry, device="cpu",
                                         stopping=setting, **_inputs(method, args.run))
            wall = time.perf_counter() - start
            mse = symmetric_mse(truth, torch.from_numpy(result.x_hat), geometry).numpy()
            runs.append({"stopping": setting, "params": params, "mse": mse.tolist(),
                         "iterations": result.iterations.tolist(),
                         "stop_reason": result.stop_reason.tolist(),
                         "seconds": result.seconds, "wall": wall})
            print(f"{method} {text}: mean {mse.mean():.4f}, "
                  f"iterations {result.iterations.mean():.0f}, {result.seconds:.1f} s", flush=True)
        record["methods"][method] = runs
    return record


def _label(run: dict[str, object], base: dict[str, object]) -> str:
    """A run's test as "tol,window,floor" and the solver parameters it changed."""
    stopping = run["stopping"]
    window = "none" if stopping["window"] is None else stopping["window"]
    changed = {key: value for key, value in run.get("params", {}).items()
               if base.get("params", {}).get(key) != value}
    return ";".join([f"{stopping['tol']:g},{window},{stopping['floor']:g}",
                     *(f"{key}={value}" for key, value in changed.items())])


def summarize(record: dict[str, object], bound: float) -> tuple[list[str], str]:
    """The report's Markdown lines and the chosen candidate."""
    candidates = record["candidates"]
    lines = [*(f"`{command}`  " for command in record.get("commands", [])),
             f"Validation images {record['images'][0]}-{record['images'][1]} of "
             f"{record.get('split', 'the `train` split')} (config {record['config']}, "
             f"{record['count']} images, "
             f"{record['threads']} torch thread(s)). Paired difference of the symmetric MSE "
             "with stopping minus without (95% interval: mean +- 1.96 s.e.); iterations and "
             "solver seconds as fractions of the run without stopping (the iterations are "
             "exact, the seconds noisy: other work shared the machine).", "",
             "| method | stopping (tol, window, floor) | mean MSE | difference | 95% interval | "
             "iterations | seconds | stopped early |",
             "| --- | --- | ---: | ---: | --- | ---: | ---: | ---: |"]
    passing = [True] * len(candidates)
    for method, runs in record["methods"].items():
        base = runs[0]
        base_mse = np.asarray(base["mse"])
        lines.append(f"| {method} | none | {base_mse.mean():.4f} | | | 1 | 1 | 0 |")
        for number, run in enumerate(runs[1:]):
            diff = np.asarray(run["mse"]) - base_mse
            half = 1.96 * diff.std(ddof=1) / np.sqrt(len(diff))
            low, high = diff.mean() - half, diff.mean() + half
            inside = -bound <= low and high <= bound
            passing[number] &= inside
            iterations = np.sum(run["iterations"]) / max(np.sum(base["iterations"]), 1)
            early = np.mean([reason != "budget" for reason in run["stop_reason"]])
            lines.append(f"| {method} | {_label(run, base)} | {np.mean(run['mse']):.4f} | "
                         f"{diff.mean():+.4f} | [{low:+.4f}, {high:+.4f}]"
                         f"{'' if inside else ' outside'} | {iterations:.2f} | "
                         f"{run['seconds'] / base['seconds']:.2f} | {early:.2f} |")
    loosest = [candidate for candidate, ok in zip(candidates, passing) if ok]
    chosen = loosest[-1] if loosest else "none"
    lines += ["", f"Chosen (the loosest candidate within +-{bound} for every method): "
              f"**{chosen}**" + ("" if loosest else ": no candidate passed")]
    return lines, chosen


def main() -> None:
    parser = chooser_parser(__doc__.splitlines()[0], count=100, run="default")
    parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES),
                        help="tol,window,floor triples, strict to loose")
    parser.add_argument("--methods", nargs="+", help="default: every method with a solver")
    parser.add_argument("--bound", type=float, default=0.005)
    parser.add_argument("--merge", type=Path, nargs="+", help="records (.json) to combine")
    args = parser.parse_args()
    if args.merge:
        parts = [json.loads(path.read_text()) for path in args.merge]
        record = {**parts[0], "methods": {k: v for part in parts
                                          for k, v in part["methods"].items()},
                  "commands": [command for part in parts for command in part.get("commands", [])]
                  + [" ".join(["python", *sys.argv])]}
    else:
        configure_job(args.threads)  # as a workflow job
        record = measure(yaml.safe_load(args.config.read_text()), args)
    lines, chosen = summarize(record, args.bound)
    record["chosen"] = None if chosen == "none" else _candidate(chosen)
    if args.output:
        args.output.with_suffix(".json").write_text(json.dumps(record) + "\n")
    report(lines, args.output)


if __name__ == "__main__":
    main()
