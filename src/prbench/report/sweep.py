"""The sweep summary of a multi-scenario run: every scenario's Table 1 side by side.

A scenario is one set of synthesis parameters (object type, expected photons per
image or None for noiseless, frame n, grid m). The summary has one row per
(scenario, method) with the numbers of that scenario's Table 1
(:func:`prbench.report.table.summarize`), taken as they are; it is rendered as
Markdown (one table per object type) and as a figure of mean MSE and success rate
against the photon budget.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import NullLocator  # noqa: E402

__all__ = ["NOISELESS_FACTOR", "OBJECT_ORDER", "SWEEP_COLUMNS", "photon_text",
           "summarize_sweep", "sweep_figure", "sweep_markdown"]

#: Object types in summary order.
OBJECT_ORDER = ("real", "complex")

#: Columns of the summary: the scenario's parameters, then its Table 1 row.
SWEEP_COLUMNS = ("scenario", "object", "photons", "n", "m", "method", "label", "group",
                 "images", "mean", "ci_low", "ci_high", "median", "success_rate")

#: Table 1 columns the summary takes, and their names in it.
_TABLE_COLUMNS = {"method": "method", "label": "label", "group": "group", "images": "images",
                  "mean_mse": "mean", "ci_low": "ci_low", "ci_high": "ci_high",
                  "median_mse": "median", "success_rate": "success_rate"}

_PARAMETERS = ("object", "photons", "n", "m")

#: The figure draws the noiseless scenario this factor right of the largest finite budget.
NOISELESS_FACTOR = 10.0

_LINESTYLES = ("-", "--", "-.", (0, (3, 1, 1, 1, 1, 1)))
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def _photons(name: str, value) -> float:
    """The expected photons per image as a float, NaN for noiseless (None)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return math.nan
    photons = float(value)
    if not (math.isfinite(photons) and photons > 0):
        raise ValueError(f"scenario {name!r}: photons must be positive or None (noiseless), "
                         f"got {value!r}")
    return photons


def _sort_key(parameters: Mapping) -> tuple:
    photons = parameters["photons"]
    return (OBJECT_ORDER.index(parameters["object"]), 0 if math.isnan(photons) else 1,
            0.0 if math.isnan(photons) else -photons, parameters["n"], parameters["m"])


def summarize_sweep(tables: Mapping[str, pd.DataFrame],
                    scenarios: Mapping[str, Mapping]) -> pd.DataFrame:
    """One row per (scenario, method) with :data:`SWEEP_COLUMNS`.

    tables[scenario]: that scenario's Table 1 (table1.csv as a DataFrame);
    scenarios[scenario]: its synthesis parameters ``object`` ("real" or "complex"),
    ``photons`` (expected photons per image, None: noiseless), ``n``, ``m``.
    Rows are ordered by object type (real first), photons descending with noiseless
    first, then in the method order of the tables; the numbers are the tables' own
    (``mean`` is ``mean_mse``, ``median`` is ``median_mse``). Every scenario must
    have a table with the same set of methods.
    """
    if not scenarios:
        raise ValueError("a sweep needs at least one scenario")
    unknown = sorted(set(tables) - set(scenarios))
    if unknown:
        raise ValueError(f"tables of scenarios without parameters: {unknown}")
    parameters = {}
    for name, given in scenarios.items():
        missing = [key for key in _PARAMETERS if key not in given]
        if missing:
            raise ValueError(f"scenario {name!r} lacks synthesis parameters {missing}")
        if given["object"] not in OBJECT_ORDER:
            raise ValueError(f"scenario {name!r}: object must be one of {OBJECT_ORDER}, "
                             f"got {given['object']!r}")
        parameters[name] = {"object": given["object"], "photons": _photons(name, given["photons"]),
                            "n": int(given["n"]), "m": int(given["m"])}
    order = sorted(parameters, key=lambda name: _sort_key(parameters[name]))
    blocks, methods = [], None
    for name in order:
        if name not in tables:
            raise ValueError(f"scenario {name!r} has no table")
        table = tables[name]
        missing = [column for column in _TABLE_COLUMNS if column not in table.columns]
        if missing:
            raise ValueError(f"table of scenario {name!r} lacks columns {missing}")
        repeated = sorted(set(table["method"][table["method"].duplicated()]))
        if repeated:
            raise ValueError(f"table of scenario {name!r} repeats methods {repeated}")
        if methods is None:
            methods, first = list(table["method"]), name
        elif set(table["method"]) != set(methods):
            present = set(table["method"])
            raise ValueError(
                f"scenario {name!r} lacks methods {sorted(set(methods) - present)} and has "
                f"methods {sorted(present - set(methods))} that scenario {first!r} does not; "
                "a sweep compares the same methods in every scenario")
        block = (table.set_index("method").loc[methods].reset_index()
                 [list(_TABLE_COLUMNS)].rename(columns=_TABLE_COLUMNS))
        for key, value in reversed(parameters[name].items()):
            block.insert(0, key, value)
        block.insert(0, "scenario", name)
        blocks.append(block)
    summary = pd.concat(blocks, ignore_index=True)
    return summary.astype({"photons": float, "n": int, "m": int})[list(SWEEP_COLUMNS)]


def photon_text(photons: float) -> str:
    """A photon budget as compact text: "noiseless" (NaN), "500", "1e5", "2.5e4"."""
    if pd.isna(photons):
        return "noiseless"
    exponent = math.floor(math.log10(photons))
    if exponent < 3:
        return f"{photons:g}"
    return f"{photons / 10 ** exponent:.3g}e{exponent}"


def _scenarios(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per scenario (its parameters), in summary order."""
    return summary.drop_duplicates("scenario")[["scenario", *_PARAMETERS]]


def _cell(row: pd.Series) -> str:
    return (f"{row['mean']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}] · "
            f"{100 * row['success_rate']:.0f}%")


def sweep_markdown(summary: pd.DataFrame, *, success_threshold: float) -> str:
    """Markdown: per object type, one row per method (label) and one column per scenario
    (its photon budget; the scenario's name added where two budgets coincide), each cell
    ``mean [95% CI] · success rate``; ``summary`` as from :func:`summarize_sweep`."""
    scenarios = _scenarios(summary)
    grids = scenarios[["n", "m"]].drop_duplicates()
    if len(grids) == 1:
        grid_line = f"Frame n = {grids.n.iloc[0]}, grid m = {grids.m.iloc[0]} in every scenario."
    else:
        grid_line = "Frame n and grid m per scenario: " + ", ".join(
            f"{row.scenario} (n = {row.n}, m = {row.m})" for row in scenarios.itertuples()) + "."
    lines = ["Mean symmetry-adjusted MSE [95% CI] · success rate "
             f"(success: MSE < {success_threshold:g}) per scenario.", grid_line, ""]
    for kind in OBJECT_ORDER:
        block = summary[summary["object"] == kind]
        if block.empty:
            continue
        columns = scenarios[scenarios["object"] == kind]
        budgets = [photon_text(photons) for photons in columns["photons"]]
        headers = [f"{budget} photons" if budget != "noiseless" else budget
                   for budget in budgets]
        headers = [f"{header} ({name})" if budgets.count(budget) > 1 else header
                   for header, budget, name in zip(headers, budgets, columns["scenario"])]
        lines += [f"**{kind.capitalize()} objects**", "",
                  "| Method | " + " | ".join(headers) + " |",
                  "| --- |" + " ---: |" * len(headers)]
        for method in block["method"].drop_duplicates():
            rows = block[block["method"] == method].set_index("scenario")
            cells = [_cell(rows.loc[name]) for name in columns["scenario"]]
            lines.append(f"| {rows['label'].iloc[0]} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def _panels(scenarios: pd.DataFrame) -> list[tuple[str, int, int]]:
    """(object, n, m) of each figure column: real first, then by n and m; a budget that
    two scenarios of one column share is refused."""
    keys = sorted(set(zip(scenarios["object"], scenarios["n"], scenarios["m"])),
                  key=lambda key: (OBJECT_ORDER.index(key[0]), key[1], key[2]))
    for kind, n, m in keys:
        panel = scenarios[(scenarios["object"] == kind) & (scenarios["n"] == n)
                          & (scenarios["m"] == m)]
        shared = panel["photons"].fillna(-1.0).duplicated(keep=False)
        if shared.any():
            raise ValueError(f"scenarios {list(panel['scenario'][shared])} share a photon "
                             f"budget for {kind} objects, n = {n}, m = {m}; the figure cannot "
                             "tell them apart")
    return keys


def sweep_figure(summary: pd.DataFrame, *, success_threshold: float) -> plt.Figure:
    """Mean MSE (95% CI band) and success rate against the photon budget (log x).

    Two rows of panels, one column per object type (per object type and (n, m) where
    the sweep varies n or m); one line per method. The noiseless scenario is drawn
    :data:`NOISELESS_FACTOR` right of the largest finite budget, joined by a dotted
    line, at a tick labelled "noiseless". ``summary`` as from :func:`summarize_sweep`.
    """
    scenarios = _scenarios(summary)
    panels = _panels(scenarios)
    several_grids = len({(n, m) for _, n, m in panels}) > 1
    methods = list(summary["method"].drop_duplicates())
    labels = summary.drop_duplicates("method").set_index("method")["label"]
    colours = plt.get_cmap("tab20").colors
    styles = {method: {"color": colours[i % len(colours)],
                       "linestyle": _LINESTYLES[i % len(_LINESTYLES)],
                       "marker": _MARKERS[i % len(_MARKERS)]}
              for i, method in enumerate(methods)}
    figure, axes = plt.subplots(2, len(panels), squeeze=False, sharey="row",
                                figsize=(4.2 * len(panels), 6.4))
    for column, (kind, n, m) in enumerate(panels):
        block = summary[(summary["object"] == kind) & (summary["n"] == n) & (summary["m"] == m)]
        finite = np.sort(block["photons"].dropna().unique())
        has_noiseless = bool(block["photons"].isna().any())
        noiseless_x = finite[-1] * NOISELESS_FACTOR if len(finite) else 1.0
        block = block.assign(x=block["photons"].fillna(noiseless_x)).sort_values("x")
        for method in methods:
            rows = block[block["method"] == method]
            measured, noiseless = rows[rows["photons"].notna()], rows[rows["photons"].isna()]
            style, x, split = styles[method], rows["x"].to_numpy(), len(measured)
            for axis, values in ((axes[0, column], rows["mean"].to_numpy()),
                                 (axes[1, column], 100 * rows["success_rate"].to_numpy())):
                if split:
                    axis.plot(x[:split], values[:split], markersize=4, linewidth=1.2, **style)
                if has_noiseless:
                    axis.plot(x[split:], values[split:], markersize=4, linestyle="none",
                              color=style["color"], marker=style["marker"])
                if split and has_noiseless:
                    axis.plot(x[split - 1:], values[split - 1:], linestyle=":", linewidth=1.0,
                              color=style["color"])
            axes[0, column].fill_between(measured["x"], measured["ci_low"], measured["ci_high"],
                                         color=style["color"], alpha=0.08, linewidth=0)
            if has_noiseless:
                axes[0, column].errorbar(
                    noiseless["x"], noiseless["mean"],
                    yerr=[noiseless["mean"] - noiseless["ci_low"],
                          noiseless["ci_high"] - noiseless["mean"]],
                    linestyle="none", color=style["color"], alpha=0.5, capsize=2)
        ticks = [*finite, noiseless_x] if has_noiseless else list(finite)
        for axis in axes[:, column]:
            axis.set_xscale("log")
            axis.xaxis.set_minor_locator(NullLocator())
            axis.set_xticks(ticks, [photon_text(x) for x in finite]
                            + ["noiseless"] * has_noiseless)
            axis.set_xlim(min(ticks) / 2, max(ticks) * 2)
            if len(finite) and has_noiseless:
                axis.axvline(np.sqrt(finite[-1] * noiseless_x), color="0.75", linestyle=":",
                             linewidth=0.8)
            axis.grid(True, which="major", alpha=0.3)
        title = f"{kind} objects" + (f", n = {n}, m = {m}" if several_grids else "")
        axes[0, column].set_title(title, fontsize=9)
        axes[1, column].set_xlabel("expected photons per image")
    axes[0, 0].set_ylabel("mean MSE (95% CI)")
    axes[0, 0].set_ylim(bottom=0)
    axes[1, 0].set_ylabel(f"success rate (MSE < {success_threshold:g}), %")
    axes[1, 0].set_ylim(-3, 103)
    handles = [Line2D([], [], markersize=4, linewidth=1.2, label=labels[method],
                      **styles[method]) for method in methods]
    figure.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7,
                  frameon=False)
    figure.tight_layout()
    return figure
