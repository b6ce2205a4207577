"""Table 1 of the paper, regenerated from per-image scores (Markdown, CSV, LaTeX).

One row per method: mean symmetry-adjusted relative MSE with a 95% percentile
bootstrap confidence interval of the mean, the median, the success rate (share of
images with MSE below a threshold) and the paper's value where it reported one.
Rows follow the paper's order; methods the paper did not compare follow in a
second block, and reference rows that use prior knowledge the paper's methods do
not use come last, labelled as such.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..io import CorruptFileError, check_ranges, read_csv
from ..metrics import MSE_SLACK
from ..registry import GROUP_TITLES, METHODS, PAPER_ORDER, PAPER_TABLE1
from .reference import depends_on_training

__all__ = ["TABLE_COLUMNS", "learned_against_training_free", "learned_markdown", "ordered",
           "paired_differences", "paired_markdown", "read_table", "summarize", "to_latex",
           "to_markdown"]

#: Columns of Table 1's CSV (:func:`summarize`), in order.
TABLE_COLUMNS = ("method", "label", "group", "images", "mean_mse", "ci_low", "ci_high",
                 "median_mse", "success_rate", "paper_mse")


def _bootstrap_ci(values: np.ndarray, seed: int, method: str, resamples: int,
                  level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of ``values``, resampled with a generator keyed
    by (seed, method name): a row's interval does not depend on which other rows exist."""
    rng = np.random.default_rng([seed, zlib.crc32(method.encode())])
    means = rng.choice(values, size=(resamples, len(values)), replace=True).mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def ordered(names) -> list[str]:
    """Registered method names in table order: by group, the paper's rows in its order."""
    unknown = sorted(set(names) - set(METHODS))
    if unknown:
        raise ValueError(f"unregistered methods {unknown}; registered: {sorted(METHODS)}")
    groups = list(GROUP_TITLES)
    registry = list(METHODS)

    def key(name: str) -> tuple[int, int, int]:
        paper_rank = PAPER_ORDER.index(name) if name in PAPER_ORDER else len(PAPER_ORDER)
        return groups.index(METHODS[name].group), paper_rank, registry.index(name)

    return sorted(names, key=key)


def summarize(scores: pd.DataFrame, *, success_threshold: float, seed: int,
              resamples: int = 2000) -> pd.DataFrame:
    """One row per method with mean, 95% bootstrap CI, median, success rate, paper value.

    scores: per-image rows with columns ``method`` and ``mse`` (see
    :data:`prbench.report.scores.SCORE_COLUMNS`).
    """
    rows = []
    for name in ordered(scores["method"].unique()):
        values = scores.loc[scores["method"] == name, "mse"].to_numpy(dtype=float)
        low, high = _bootstrap_ci(values, seed, name, resamples)
        rows.append({
            "method": name, "label": METHODS[name].label, "group": METHODS[name].group,
            "images": len(values), "mean_mse": values.mean(), "ci_low": low, "ci_high": high,
            "median_mse": float(np.median(values)),
            "success_rate": float((values < success_threshold).mean()),
            "paper_mse": PAPER_TABLE1.get(name, np.nan),
        })
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def read_table(path: str | os.PathLike, *, methods: Sequence[str], images: int) -> pd.DataFrame:
    """Table 1's CSV written by rule ``table`` (:data:`TABLE_COLUMNS`), checked against the
    run's plan: one row for each of ``methods`` and no other, each over ``images`` test
    images, mean, CI bounds, median and success rate finite numbers in [0, 1] with
    ci_low <= mean <= ci_high. Any problem raises :class:`prbench.io.CorruptFileError`."""
    frame = read_csv(path, columns=TABLE_COLUMNS, produced_by="table")
    found = frame["method"].astype(str).tolist()
    problem = None
    if sorted(found) != sorted(methods):
        problem = f"rows of methods {found}, the run planned one each of {list(methods)}"
    elif not (pd.to_numeric(frame["images"], errors="coerce") == images).all():
        problem = (f"image counts {frame['images'].tolist()}, the run planned {images} test "
                   "images per method")
    if problem:
        raise CorruptFileError.for_file(path, problem, produced_by="table")
    check_ranges(path, frame, {column: (0.0, 1.0 + MSE_SLACK) for column in
                               ("mean_mse", "ci_low", "ci_high", "median_mse", "success_rate")},
                 produced_by="table")
    slack = 1e-9  # rounding: a resampled mean of equal values may differ from it in the last bit
    outside = frame.loc[~frame["mean_mse"].between(frame["ci_low"] - slack,
                                                   frame["ci_high"] + slack), "method"]
    if len(outside):
        raise CorruptFileError.for_file(path, f"the mean of {outside.tolist()} lies outside "
                                        "its confidence interval", produced_by="table")
    return frame


def paired_differences(scores: pd.DataFrame, reference: str, *, seed: int,
                       resamples: int = 2000) -> pd.DataFrame:
    """Per-image paired comparison of every method with ``reference``.

    For each method: the mean over images of MSE(method) - MSE(reference) with a 95%
    percentile bootstrap CI (images resampled, pairs kept), and the share of images
    where the method's error is lower. Negative differences favour the method.
    Only images scored by both enter.
    """
    table = scores.pivot(index="image", columns="method", values="mse")
    if reference not in table:
        raise ValueError(f"reference method {reference!r} has no scores")
    rows = []
    for name in ordered([name for name in table.columns if name != reference]):
        pair = table[[name, reference]].dropna()
        difference = (pair[name] - pair[reference]).to_numpy()
        low, high = _bootstrap_ci(difference, seed, f"{name} - {reference}", resamples)
        rows.append({"method": name, "label": METHODS[name].label, "images": len(difference),
                     "mean_difference": difference.mean(), "ci_low": low, "ci_high": high,
                     "better_share": float((difference < 0).mean())})
    return pd.DataFrame(rows)


def paired_markdown(paired: pd.DataFrame, reference: str) -> str:
    """Markdown table of :func:`paired_differences`."""
    lines = [f"**Paired per-image comparison with {METHODS[reference].label}** "
             "(MSE difference; negative: better than it)", "",
             f"| Method | Mean difference | 95% CI | Images where better than "
             f"{METHODS[reference].label} |", "| --- | ---: | ---: | ---: |"]
    lines += [f"| {row.label} | {row.mean_difference:+.3f} | [{row.ci_low:+.3f}, "
              f"{row.ci_high:+.3f}] | {100 * row.better_share:.0f}% of {row.images} |"
              for row in paired.itertuples()]
    return "\n".join(lines) + "\n"


def _is_training_free(name: str) -> bool:
    """Whether the method needs nothing trained and is neither a reference row (prior
    knowledge the others lack) nor the calibration."""
    return not METHODS[name].needs() and METHODS[name].group in ("paper", "beyond")


def learned_against_training_free(scores: pd.DataFrame, *, seed: int,
                                  resamples: int = 2000) -> dict | None:
    """The best learned method against the best training-free one, image by image.

    scores: per-image rows (method, image, mse). Learned: a method that uses a trained
    network or denoiser; training-free: one that needs nothing trained (reference and
    calibration rows excluded). Each side's best is its lowest mean MSE on these images.
    Returns their names and means and :func:`paired_differences`' row of the learned one
    against the training-free one (mean_difference < 0: learning wins), or None when a
    side has no method.
    """
    means = scores.groupby("method")["mse"].mean()
    learned = [name for name in means.index if depends_on_training(name)]
    free = [name for name in means.index if _is_training_free(name)]
    if not learned or not free:
        return None
    best_learned, best_free = min(learned, key=means.get), min(free, key=means.get)
    pair = scores[scores["method"].isin([best_learned, best_free])]
    row = paired_differences(pair, best_free, seed=seed, resamples=resamples).iloc[0]
    return {"learned": best_learned, "training_free": best_free,
            "learned_mean": float(means[best_learned]),
            "training_free_mean": float(means[best_free]),
            **{key: row[key] for key in ("images", "mean_difference", "ci_low", "ci_high",
                                         "better_share")}}


def learned_markdown(comparisons: dict[str, dict | None]) -> str:
    """Markdown of :func:`learned_against_training_free` results, one row per key (a
    scenario's name; an empty key: one scenario, no scenario column)."""
    named = any(comparisons)
    lines = ["**Best learned method against the best training-free method** (each the "
             "lowest mean MSE of its kind on these test images; learned: uses a trained "
             "network or denoiser; training-free: needs nothing trained, reference and "
             "calibration rows excluded; difference: learned minus training-free, paired "
             "per image, 95% bootstrap CI)", ""]
    header = ["Learned", "Mean MSE", "Training-free", "Mean MSE", "Difference", "95% CI",
              "Learned better on", "Verdict"]
    align = ["---", "---:", "---", "---:", "---:", "---:", "---:", "---"]
    if named:
        header, align = ["Scenario", *header], ["---", *align]
    lines += ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    for scenario, row in comparisons.items():
        cells = [scenario] if named else []
        if row is None:
            cells += ["—"] * 7 + ["no learned or no training-free method"]
        else:
            verdict = ("learned better" if row["ci_high"] < 0 else
                       "training-free better" if row["ci_low"] > 0 else "undecided")
            cells += [METHODS[row["learned"]].label, f"{row['learned_mean']:.3f}",
                      METHODS[row["training_free"]].label, f"{row['training_free_mean']:.3f}",
                      f"{row['mean_difference']:+.3f}",
                      f"[{row['ci_low']:+.3f}, {row['ci_high']:+.3f}]",
                      f"{100 * row['better_share']:.0f}% of {row['images']}", verdict]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _cells(row: pd.Series) -> list[str]:
    paper = "—" if np.isnan(row.paper_mse) else f"{row.paper_mse:.3f}"
    return [row.label, f"{row.mean_mse:.3f}", f"[{row.ci_low:.3f}, {row.ci_high:.3f}]",
            f"{row.median_mse:.3f}", f"{100 * row.success_rate:.0f}%", paper, str(row.images)]


def _headers(threshold: float) -> list[str]:
    return ["Method", "Mean MSE", "95% CI", "Median", f"Success (MSE < {threshold:g})",
            "Paper", "Images"]


def to_markdown(summary: pd.DataFrame, *, success_threshold: float) -> str:
    """Markdown tables, one block per method group."""
    headers = _headers(success_threshold)
    lines = []
    for group, title in GROUP_TITLES.items():
        block = summary[summary["group"] == group]
        if block.empty:
            continue
        lines += [f"**{title}**", "", "| " + " | ".join(headers) + " |",
                  "|" + "|".join([" --- "] + [" ---: "] * (len(headers) - 1)) + "|"]
        lines += ["| " + " | ".join(_cells(row)) + " |"
                  for row in block.itertuples()]
        lines.append("")
    return "\n".join(lines)


def _latex_escape(text: str) -> str:
    for char, escaped in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"),
                          ("_", r"\_"), ("#", r"\#"), (">=", r"$\geq$"), ("—", "--")):
        text = text.replace(char, escaped)
    return text


def to_latex(summary: pd.DataFrame, *, success_threshold: float) -> str:
    """A booktabs LaTeX tabular with one mid-rule-separated block per method group."""
    headers = _headers(success_threshold)
    lines = [r"\begin{tabular}{l" + "r" * (len(headers) - 1) + "}", r"\toprule",
             " & ".join(_latex_escape(h) for h in headers) + r" \\"]
    for group, title in GROUP_TITLES.items():
        block = summary[summary["group"] == group]
        if block.empty:
            continue
        lines += [r"\midrule",
                  rf"\multicolumn{{{len(headers)}}}{{l}}{{\emph{{{_latex_escape(title)}}}}} \\"]
        lines += [" & ".join(_latex_escape(c) for c in _cells(row)) + r" \\"
                  for row in block.itertuples()]
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines)
