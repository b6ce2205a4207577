"""The sweep summary of a multi-scenario run: every scenario's Table 1 side by side.

A scenario is one set of synthesis parameters (object type, expected photons per
image or None for noiseless, frame n, grid m, training-set size). The summary has one
row per (scenario, method) with the numbers of that scenario's Table 1
(:func:`prbench.report.table.summarize`), taken as they are; it is rendered as
Markdown (one table per object type) and as a figure of mean MSE and success rate
against the photon budget, or against the training-set size for a learning curve.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from numbers import Integral

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import NullLocator  # noqa: E402

__all__ = ["CALIBRATION_STYLE", "NOISELESS_FACTOR", "OBJECT_ORDER", "SWEEP_COLUMNS",
           "photon_text", "size_text", "summarize_sweep", "sweep_figure", "sweep_markdown"]

#: Object types in summary order.
OBJECT_ORDER = ("real", "complex")

#: Columns of the summary: the scenario's parameters, then its Table 1 row.
SWEEP_COLUMNS = ("scenario", "object", "photons", "n", "m", "train_size", "method", "label",
                 "group", "images", "mean", "ci_low", "ci_high", "median", "success_rate")

#: Table 1 columns the summary takes, and their names in it.
_TABLE_COLUMNS = {"method": "method", "label": "label", "group": "group", "images": "images",
                  "mean_mse": "mean", "ci_low": "ci_low", "ci_high": "ci_high",
                  "median_mse": "median", "success_rate": "success_rate"}

_PARAMETERS = ("object", "photons", "n", "m", "train_size")

#: The figure draws the noiseless scenario this factor right of the largest finite budget.
NOISELESS_FACTOR = 10.0

_LINESTYLES = ("-", "--", "-.", (0, (3, 1, 1, 1, 1, 1)))
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")

#: The figure's style of the calibration rows (registry group "calibration", the mean
#: training object): a reference line, not one more method.
CALIBRATION_STYLE = {"color": "black", "linestyle": "--", "marker": "None"}


def _photons(name: str, value) -> float:
    """The expected photons per image as a float, NaN for noiseless (None)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return math.nan
    photons = float(value)
    if not (math.isfinite(photons) and photons > 0):
        raise ValueError(f"scenario {name!r}: photons must be positive or None (noiseless), "
                         f"got {value!r}")
    return photons


def _train_size(name: str, value) -> int:
    """The training-set size (images), a positive integer."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"scenario {name!r}: train_size must be a positive integer, "
                         f"got {value!r}")
    return int(value)


def _sort_key(parameters: Mapping) -> tuple:
    photons = parameters["photons"]
    return (OBJECT_ORDER.index(parameters["object"]), 0 if math.isnan(photons) else 1,
            0.0 if math.isnan(photons) else -photons, parameters["n"], parameters["m"],
            parameters["train_size"])


def summarize_sweep(tables: Mapping[str, pd.DataFrame],
                    scenarios: Mapping[str, Mapping]) -> pd.DataFrame:
    """One row per (scenario, method) with :data:`SWEEP_COLUMNS`.

    tables[scenario]: that scenario's Table 1 (table1.csv as a DataFrame);
    scenarios[scenario]: its synthesis parameters ``object`` ("real" or "complex"),
    ``photons`` (expected photons per image, None: noiseless), ``n``, ``m``,
    ``train_size`` (training images). Rows are ordered by object type (real first),
    photons descending with noiseless first, n, m, train_size ascending, then in the
    method order of the tables; the numbers are the tables' own
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
                            "n": int(given["n"]), "m": int(given["m"]),
                            "train_size": _train_size(name, given["train_size"])}
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
    summary = pd.concat(blocks, ignore_index=True).astype(
        {"photons": float, "n": int, "m": int, "train_size": int})
    return summary[list(SWEEP_COLUMNS)]


def photon_text(photons: float) -> str:
    """A photon budget as compact text: "noiseless" (NaN), "500", "1e5", "2.5e4"."""
    if pd.isna(photons):
        return "noiseless"
    exponent = math.floor(math.log10(photons))
    if exponent < 3:
        return f"{photons:g}"
    return f"{photons / 10 ** exponent:.3g}e{exponent}"


def size_text(train_size: int) -> str:
    """A training-set size as text: "1,500 training images"."""
    return f"{train_size:,} training images"


def _budget_text(photons: float) -> str:
    """A photon budget as a heading: "1e5 photons", "noiseless"."""
    return "noiseless" if pd.isna(photons) else f"{photon_text(photons)} photons"


def _scenarios(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per scenario (its parameters), in summary order."""
    return summary.drop_duplicates("scenario")[["scenario", *_PARAMETERS]]


def _cell(row: pd.Series) -> str:
    return (f"{row['mean']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}] · "
            f"{100 * row['success_rate']:.0f}%")


def sweep_markdown(summary: pd.DataFrame, *, success_threshold: float) -> str:
    """Markdown: per object type, one row per method (label) and one column per scenario,
    each cell ``mean [95% CI] · success rate``; ``summary`` as from :func:`summarize_sweep`.

    A column is headed by its photon budget or, where the object type's scenarios differ
    in train_size, by its training-set size (by both where both differ; a budget they
    share then follows the object type), the scenario's name added where headers coincide.
    """
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
        title = f"{kind.capitalize()} objects"
        headers = [_budget_text(photons) for photons in columns["photons"]]
        if columns["train_size"].nunique() > 1:
            sizes = [size_text(size) for size in columns["train_size"]]
            if len(set(headers)) > 1:
                headers = [f"{budget}, {size}" for budget, size in zip(headers, sizes)]
            else:
                title, headers = f"{title}, {headers[0]}", sizes
        headers = [f"{header} ({name})" if headers.count(header) > 1 else header
                   for header, name in zip(headers, columns["scenario"])]
        lines += [f"**{title}**", "",
                  "| Method | " + " | ".join(headers) + " |",
                  "| --- |" + " ---: |" * len(headers)]
        for method in block["method"].drop_duplicates():
            rows = block[block["method"] == method].set_index("scenario")
            cells = [_cell(rows.loc[name]) for name in columns["scenario"]]
            lines.append(f"| {rows['label'].iloc[0]} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def _x_variable(scenarios: pd.DataFrame) -> str:
    """The figure's x axis: "train_size" where the run's scenarios differ in train_size
    and share one photon budget (a learning curve), else "photons"."""
    learning = (scenarios["train_size"].nunique() > 1
                and scenarios["photons"].nunique(dropna=False) == 1)
    return "train_size" if learning else "photons"


def _panels(scenarios: pd.DataFrame, x: str) -> list[tuple[tuple, list[str]]]:
    """The figure's columns, each ((object, n, m, value of the sweep variable not on x),
    its scenarios): real first, then by n, m and that value; an x value that two
    scenarios of one column share is refused."""
    other = "train_size" if x == "photons" else "photons"
    ranked = scenarios.assign(rank=scenarios["object"].map(OBJECT_ORDER.index),
                              value=scenarios[other].fillna(-1.0))
    panels = []
    for _, panel in ranked.groupby(["rank", "n", "m", "value"]):
        key = tuple(panel[["object", "n", "m", other]].iloc[0])
        shared = panel[x].fillna(-1.0).duplicated(keep=False)
        if shared.any():
            kind, n, m, value = key
            what, value_text = (("photon budget", size_text(value)) if x == "photons"
                                else ("training-set size", _budget_text(value)))
            raise ValueError(f"scenarios {list(panel['scenario'][shared])} share a {what} for "
                             f"{kind} objects, n = {n}, m = {m}, {value_text}; the figure "
                             "cannot tell them apart")
        panels.append((key, list(panel["scenario"])))
    return panels


def _positions(block: pd.DataFrame, x: str) -> tuple[pd.Series, list[float], list[str]]:
    """Each row's x position, the ticks and their labels: training-set sizes, or photon
    budgets with the noiseless scenario :data:`NOISELESS_FACTOR` right of the largest
    finite budget."""
    if x == "train_size":
        sizes = sorted(block["train_size"].unique())
        return block["train_size"].astype(float), sizes, [f"{size:,}" for size in sizes]
    finite = sorted(block["photons"].dropna().unique())
    noiseless_x = finite[-1] * NOISELESS_FACTOR if finite else 1.0
    ticks, labels = finite, [photon_text(photons) for photons in finite]
    if block["photons"].isna().any():
        ticks, labels = [*ticks, noiseless_x], [*labels, "noiseless"]
    return block["photons"].fillna(noiseless_x), ticks, labels


def sweep_figure(summary: pd.DataFrame, *, success_threshold: float) -> plt.Figure:
    """Mean MSE (95% CI band) and success rate against the photon budget or, for a
    learning curve (scenarios that differ in train_size and share one photon budget),
    against the training-set size; log x.

    Two rows of panels, one column per object type, split further by (n, m) and by
    train_size where those vary (a run that varies both photons and train_size gets one
    column per training-set size, x the budget); one line per method, the calibration
    rows as :data:`CALIBRATION_STYLE` reference lines. The noiseless scenario of a photon
    axis is drawn :data:`NOISELESS_FACTOR` right of the largest finite budget, joined by
    a dotted line, at a tick labelled "noiseless". ``summary`` as from
    :func:`summarize_sweep`.
    """
    scenarios = _scenarios(summary)
    x_name = _x_variable(scenarios)
    panels = _panels(scenarios, x_name)
    several_grids = len({key[1:3] for key, _ in panels}) > 1
    show_other = x_name == "train_size" or len({key[3] for key, _ in panels}) > 1
    other_text = size_text if x_name == "photons" else _budget_text
    methods = list(summary["method"].drop_duplicates())
    rows_of_method = summary.drop_duplicates("method").set_index("method")
    labels, groups = rows_of_method["label"], rows_of_method["group"]
    colours = plt.get_cmap("tab20").colors
    styles = {method: {"color": colours[i % len(colours)],
                       "linestyle": _LINESTYLES[i % len(_LINESTYLES)],
                       "marker": _MARKERS[i % len(_MARKERS)]}
              for i, method in enumerate(m for m in methods if groups[m] != "calibration")}
    styles.update({method: CALIBRATION_STYLE for method in methods if method not in styles})
    figure, axes = plt.subplots(2, len(panels), squeeze=False, sharey="row",
                                figsize=(4.2 * len(panels), 6.4))
    for column, ((kind, n, m, other), names) in enumerate(panels):
        block = summary[summary["scenario"].isin(names)]
        positions, ticks, tick_labels = _positions(block, x_name)
        detached = block["photons"].isna() & (x_name == "photons")  # noiseless, set apart
        has_detached = bool(detached.any())
        block = block.assign(x=positions, detached=detached).sort_values("x")
        for method in methods:
            rows = block[block["method"] == method]
            measured, apart = rows[~rows["detached"]], rows[rows["detached"]]
            style, x, split = styles[method], rows["x"].to_numpy(), len(measured)
            for axis, values in ((axes[0, column], rows["mean"].to_numpy()),
                                 (axes[1, column], 100 * rows["success_rate"].to_numpy())):
                if split:
                    axis.plot(x[:split], values[:split], markersize=4, linewidth=1.2, **style)
                if has_detached:  # a style without markers (calibration) shows a dash here
                    axis.plot(x[split:], values[split:], markersize=4, linestyle="none",
                              color=style["color"],
                              marker=style["marker"] if style["marker"] != "None" else "_")
                if split and has_detached:
                    axis.plot(x[split - 1:], values[split - 1:], linestyle=":", linewidth=1.0,
                              color=style["color"])
            axes[0, column].fill_between(measured["x"], measured["ci_low"], measured["ci_high"],
                                         color=style["color"], alpha=0.08, linewidth=0)
            if has_detached:
                axes[0, column].errorbar(
                    apart["x"], apart["mean"],
                    yerr=[apart["mean"] - apart["ci_low"], apart["ci_high"] - apart["mean"]],
                    linestyle="none", color=style["color"], alpha=0.5, capsize=2)
        for axis in axes[:, column]:
            axis.set_xscale("log")
            axis.xaxis.set_minor_locator(NullLocator())
            axis.set_xticks(ticks, tick_labels)
            axis.set_xlim(min(ticks) / 2, max(ticks) * 2)
            if has_detached and len(ticks) > 1:
                axis.axvline(np.sqrt(ticks[-2] * ticks[-1]), color="0.75", linestyle=":",
                             linewidth=0.8)
            axis.grid(True, which="major", alpha=0.3)
        title = [f"{kind} objects", *[f"n = {n}, m = {m}"] * several_grids,
                 *[other_text(other)] * show_other]
        axes[0, column].set_title(", ".join(title), fontsize=9)
        axes[1, column].set_xlabel("expected photons per image" if x_name == "photons"
                                   else "training images")
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
