"""The sweep summary of a multi-scenario run, on hand-made Table 1s."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from prbench import stages
from prbench.report import figures, sweep

#: The regime sweep's committed summary, written before scenarios had a train_size.
REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "results" / "sweep" / "sweep"

#: (method, label, group) of the hand-made tables, in table order (not alphabetical).
ROWS = [("hio", "HIO", "paper"), ("alm", "ALM", "paper"),
        ("hio_sw", "HIO shrink-wrap", "beyond")]

#: The calibration row, appended to ROWS where a test needs it.
CALIBRATION = ("mean_object", "Mean training object", "calibration")

#: Scenarios, deliberately not in sweep order; photons given as config would give them.
SCENARIOS = {
    "complex_1e3": {"object": "complex", "photons": 1000.0, "n": 36, "m": 72, "train_size": 6000},
    "real_1e3": {"object": "real", "photons": 1e3, "n": 36, "m": 72, "train_size": 6000},
    "real_noiseless": {"object": "real", "photons": None, "n": 36, "m": 72, "train_size": 6000},
    "complex_noiseless": {"object": "complex", "photons": None, "n": 36, "m": 72,
                          "train_size": 6000},
    "real_1e5": {"object": "real", "photons": 100000, "n": 36, "m": 72, "train_size": 6000},
}

#: A learning curve (config/learning.yaml), not in size order; table1 number = position.
LEARNING = {name: {"object": "real", "photons": None, "n": 36, "m": 72, "train_size": size}
            for name, size in [("train-24000", 24000), ("train-1500", 1500),
                               ("train-60000", 60000), ("train-6000", 6000)]}

#: The sweep order the summary must have: real first, noiseless first, photons descending.
SWEEP_ORDER = ["real_noiseless", "real_1e5", "real_1e3", "complex_noiseless", "complex_1e3"]

#: Numbers of one cell written out by hand (scenario real_1e5, method alm).
KNOWN = {"mean_mse": 0.23449, "ci_low": 0.20012, "ci_high": 0.27018, "median_mse": 0.19,
         "success_rate": 0.42}
KNOWN_CELL = "0.234 [0.200, 0.270] · 42%"


def table1(scenario_number, reverse=False, rows=ROWS):
    """A Table 1 with every column table1.csv has; irregular numbers, so that any
    recomputation or rounding would show: row j's mean_mse is
    0.1 (j + 1) + 0.01 scenario_number + 1/3000."""
    records = []
    for j, (method, label, group) in enumerate(rows):
        mean = 0.1 * (j + 1) + 0.01 * scenario_number + 1 / 3000
        records.append({"method": method, "label": label, "group": group,
                        "images": 10 + scenario_number, "mean_mse": mean,
                        "ci_low": mean - 0.0123456789, "ci_high": mean + 0.0234567891,
                        "median_mse": mean / 1.7, "success_rate": (j + scenario_number) / 17,
                        "paper_mse": 0.312 if group == "paper" else np.nan})
    frame = pd.DataFrame(records)
    return frame.iloc[::-1].reset_index(drop=True) if reverse else frame


@pytest.fixture()
def tables():
    made = {name: table1(number, reverse=name == "complex_1e3")
            for number, name in enumerate(SCENARIOS)}
    known = made["real_1e5"]["method"] == "alm"
    for column, value in KNOWN.items():
        made["real_1e5"].loc[known, column] = value
    return made


def expected_rows(tables):
    """The summary's rows built directly from the inputs, in the order the task defines."""
    rows = []
    for name in SWEEP_ORDER:
        given = SCENARIOS[name]
        for method, _, _ in ROWS:
            row = tables[name].set_index("method").loc[method]
            rows.append([name, given["object"],
                         math.nan if given["photons"] is None else float(given["photons"]),
                         given["n"], given["m"], 6000, method, row["label"], row["group"],
                         row["images"], row["mean_mse"], row["ci_low"], row["ci_high"],
                         row["median_mse"], row["success_rate"]])
    return rows


def rows_of(frame):
    return [[None if isinstance(v, float) and math.isnan(v) else v for v in row]
            for row in frame.itertuples(index=False, name=None)]


def test_summary_rows_are_the_tables_numbers_in_sweep_order(tables):
    summary = sweep.summarize_sweep(tables, SCENARIOS)
    assert list(summary.columns) == ["scenario", "object", "photons", "n", "m", "train_size",
                                     "method", "label", "group", "images", "mean", "ci_low",
                                     "ci_high", "median", "success_rate"]
    assert rows_of(summary) == rows_of(pd.DataFrame(expected_rows(tables)))


def test_stage_writes_exact_csv_markdown_and_figure(tables, tmp_path):
    paths = {}
    for name, frame in tables.items():
        paths[name] = tmp_path / name / "table1.csv"
        paths[name].parent.mkdir()
        frame["images"] = 12  # every scenario scores the run's test images
        frame.to_csv(paths[name], index=False)  # as make_table writes it
    scores = {}
    for number, name in enumerate(tables):  # per-image scores: hio_sw best, nothing learned
        scores[name] = tmp_path / name / "scores.csv"
        pd.DataFrame([{"method": method, "image": image, "label": label, "offset_row": 0,
                       "offset_col": 0, "flipped": False, "mse": (j + 1) / 10 + image / 100,
                       "seconds": 1.0, "residual": 0.1, "iterations": 5, "stopped": "budget",
                       "device": "cpu"}
                      for j, (method, label, _) in enumerate(ROWS)
                      for image in range(12)]).to_csv(scores[name], index=False)
    out = tmp_path / "sweep"
    stages.summarize_sweep(tables=paths, scores=scores, scenarios=SCENARIOS,
                           methods=[row[0] for row in ROWS], test_images=12,
                           success_threshold=0.05, bootstrap_resamples=100, seed=0,
                           csv=out / "sweep.csv", markdown=out / "sweep.md",
                           figure=[out / "sweep.png", out / "sweep.pdf"])
    written = pd.read_csv(out / "sweep.csv")
    assert rows_of(written) == rows_of(pd.DataFrame(expected_rows(tables)))
    markdown = (out / "sweep.md").read_text(encoding="utf-8")
    assert KNOWN_CELL in markdown
    for name in tables:  # the comparison, one row per scenario
        assert f"| {name} | — |" in markdown
    assert markdown.count("no learned or no training-free method") == len(tables)
    with Image.open(out / "sweep.png") as image:
        assert image.format == "PNG"
    assert (out / "sweep.pdf").read_bytes().startswith(b"%PDF-")
    assert sorted(p.name for p in out.iterdir()) == ["sweep.csv", "sweep.md", "sweep.pdf",
                                                     "sweep.png"]


def test_a_missing_table_is_named(tables):
    del tables["real_1e3"]
    with pytest.raises(ValueError, match="scenario 'real_1e3' has no table"):
        sweep.summarize_sweep(tables, SCENARIOS)


def test_a_table_without_parameters_is_named(tables):
    tables["extra"] = table1(9)
    with pytest.raises(ValueError, match=r"without parameters: \['extra'\]"):
        sweep.summarize_sweep(tables, SCENARIOS)


def test_a_missing_column_is_named(tables):
    tables["complex_noiseless"] = tables["complex_noiseless"].drop(columns="median_mse")
    with pytest.raises(ValueError,
                       match=r"scenario 'complex_noiseless' lacks columns \['median_mse'\]"):
        sweep.summarize_sweep(tables, SCENARIOS)


def test_different_methods_are_refused_naming_the_scenario_and_methods(tables):
    tables["real_1e3"] = tables["real_1e3"][tables["real_1e3"]["method"] != "alm"]
    with pytest.raises(ValueError, match=r"scenario 'real_1e3' lacks methods \['alm'\]"):
        sweep.summarize_sweep(tables, SCENARIOS)
    tables["real_1e3"] = table1(1).replace({"hio_sw": "dm"})
    with pytest.raises(ValueError, match=r"'real_1e3' lacks methods \['hio_sw'\] and has "
                                         r"methods \['dm'\]"):
        sweep.summarize_sweep(tables, SCENARIOS)


def test_incomplete_scenario_parameters_are_named(tables):
    scenarios = {**SCENARIOS, "real_1e5": {"object": "real", "n": 36, "m": 72,
                                           "train_size": 6000}}
    with pytest.raises(ValueError, match=r"'real_1e5' lacks synthesis parameters \['photons'\]"):
        sweep.summarize_sweep(tables, scenarios)
    scenarios = {**SCENARIOS, "real_1e5": {**SCENARIOS["real_1e5"], "photons": 0}}
    with pytest.raises(ValueError, match="'real_1e5': photons must be positive"):
        sweep.summarize_sweep(tables, scenarios)
    given = dict(SCENARIOS["real_1e5"])
    del given["train_size"]
    with pytest.raises(ValueError, match=r"'real_1e5' lacks synthesis parameters \['train_size'\]"):
        sweep.summarize_sweep(tables, {**SCENARIOS, "real_1e5": given})
    for size in (0, 1500.0, True, "1500"):
        scenarios = {**SCENARIOS, "real_1e5": {**SCENARIOS["real_1e5"], "train_size": size}}
        with pytest.raises(ValueError, match="'real_1e5': train_size must be a positive integer"):
            sweep.summarize_sweep(tables, scenarios)


@pytest.mark.parametrize("photons, text", [(math.nan, "noiseless"), (100000.0, "1e5"),
                                           (25000.0, "2.5e4"), (500.0, "500"), (1e3, "1e3")])
def test_photon_budgets_read_compactly(photons, text):
    assert sweep.photon_text(photons) == text


def test_markdown_has_a_table_per_object_type_with_known_cells(tables):
    text = sweep.sweep_markdown(sweep.summarize_sweep(tables, SCENARIOS),
                                success_threshold=0.05)
    assert "success: MSE < 0.05" in text
    assert "Frame n = 36, grid m = 72 in every scenario." in text
    real, complex_ = text.split("**Real objects**")[1].split("**Complex objects**")
    assert "| Method | noiseless | 1e5 photons | 1e3 photons |" in real
    assert "| Method | noiseless | 1e3 photons |" in complex_
    for block in (real, complex_):
        body = [line for line in block.splitlines() if line.startswith("| ")][2:]
        assert [line.split(" | ")[0] for line in body] == ["| HIO", "| ALM",
                                                           "| HIO shrink-wrap"]
    alm = next(line for line in real.splitlines() if line.startswith("| ALM |"))
    assert alm.split(" | ")[2] == KNOWN_CELL  # the real_1e5 column


def test_markdown_states_differing_grids_and_tells_equal_budgets_apart(tables):
    scenarios = {**SCENARIOS, "real_1e3": {**SCENARIOS["real_1e3"], "photons": 1e5, "n": 28,
                                           "m": 56}}
    text = sweep.sweep_markdown(sweep.summarize_sweep(tables, scenarios),
                                success_threshold=0.1)
    assert "success: MSE < 0.1" in text
    assert "real_1e3 (n = 28, m = 56)" in text and "real_1e5 (n = 36, m = 72)" in text
    # equal budgets: the smaller frame first
    assert "| 1e5 photons (real_1e3) | 1e5 photons (real_1e5) |" in text


def tick_labels(axis):
    return [label.get_text() for label in axis.get_xticklabels()]


def test_figure_panels_log_axis_and_noiseless_tick(tables):
    figure = sweep.sweep_figure(sweep.summarize_sweep(tables, SCENARIOS), success_threshold=0.05)
    assert len(figure.axes) == 4
    for axis in figure.axes:
        assert axis.get_xscale() == "log"
    real, complex_ = figure.axes[0], figure.axes[1]  # first row: mean MSE
    assert tick_labels(real) == ["1e3", "1e5", "noiseless"]
    np.testing.assert_allclose(real.get_xticks(), [1e3, 1e5, 1e5 * sweep.NOISELESS_FACTOR])
    assert tick_labels(complex_) == ["1e3", "noiseless"]
    assert [text.get_text() for text in figure.legends[0].get_texts()] == [
        "HIO", "ALM", "HIO shrink-wrap"]
    figures.save_figure(figure, [])


def test_figure_of_an_object_type_with_only_a_noiseless_scenario(tables):
    scenarios = {name: SCENARIOS[name] for name in
                 ("real_noiseless", "real_1e5", "complex_noiseless")}
    summary = sweep.summarize_sweep({name: tables[name] for name in scenarios}, scenarios)
    figure = sweep.sweep_figure(summary, success_threshold=0.05)
    assert len(figure.axes) == 4
    complex_mean = figure.axes[1]
    assert tick_labels(complex_mean) == ["noiseless"]
    lines = complex_mean.get_lines()
    assert {float(x) for line in lines for x in line.get_xdata()} == {complex_mean.get_xticks()[0]}
    assert set(tables["complex_noiseless"]["mean_mse"]) <= {
        float(y) for line in lines for y in line.get_ydata()}  # points (and their CI bars)
    success = sorted(float(y) for line in figure.axes[3].get_lines() for y in line.get_ydata())
    assert success == sorted(100 * tables["complex_noiseless"]["success_rate"])
    figures.save_figure(figure, [])


def test_figure_columns_split_by_grid_and_equal_budgets_are_refused(tables):
    scenarios = {**SCENARIOS, "real_1e3": {**SCENARIOS["real_1e3"], "n": 28, "m": 56}}
    figure = sweep.sweep_figure(sweep.summarize_sweep(tables, scenarios),
                                success_threshold=0.05)
    assert [axis.get_title() for axis in figure.axes[:3]] == [
        "real objects, n = 28, m = 56", "real objects, n = 36, m = 72",
        "complex objects, n = 36, m = 72"]
    assert len(figure.axes) == 6
    figures.save_figure(figure, [])
    scenarios = {**SCENARIOS, "real_1e3": {**SCENARIOS["real_1e3"], "photons": 1e5}}
    with pytest.raises(ValueError, match=r"\['real_1e3', 'real_1e5'\] share a photon budget"):
        sweep.sweep_figure(sweep.summarize_sweep(tables, scenarios), success_threshold=0.05)


def test_sixteen_methods_have_distinct_styles():
    rows = [(f"m{i}", f"Method {i}", "beyond") for i in range(16)]
    frame = pd.DataFrame([{"method": name, "label": label, "group": group, "images": 5,
                           "mean_mse": 0.1, "ci_low": 0.05, "ci_high": 0.2,
                           "median_mse": 0.1, "success_rate": 0.5}
                          for name, label, group in rows])
    scenarios = {"a": {"object": "real", "photons": None, "n": 36, "m": 72, "train_size": 60},
                 "b": {"object": "real", "photons": 1e4, "n": 36, "m": 72, "train_size": 60}}
    figure = sweep.sweep_figure(sweep.summarize_sweep({"a": frame, "b": frame}, scenarios),
                                success_threshold=0.05)
    handles = figure.legends[0].legend_handles
    assert len(handles) == 16
    styles = {(handle.get_color(), handle.get_linestyle(), handle.get_marker())
              for handle in handles}
    assert len(styles) == 16
    figures.save_figure(figure, [])


def test_saving_the_figure_twice_gives_identical_bytes(tables, tmp_path, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    summary = sweep.summarize_sweep(tables, SCENARIOS)
    runs = [tmp_path / "first", tmp_path / "second"]
    for run in runs:
        figures.save_figure(sweep.sweep_figure(summary, success_threshold=0.05),
                            [run / "s.png", run / "s.pdf"])
    for name in ("s.png", "s.pdf"):
        assert (runs[0] / name).read_bytes() == (runs[1] / name).read_bytes(), name
    assert b"CreationDate" not in (runs[0] / "s.pdf").read_bytes()



def test_regime_sweep_markdown_is_the_committed_reference():
    reference = pd.read_csv(REFERENCE / "sweep.csv")
    columns = {"mean": "mean_mse", "median": "median_mse"}
    tables, scenarios = {}, {}
    for name, rows in reference.groupby("scenario", sort=False):
        tables[name] = rows.rename(columns=columns)
        first = rows.iloc[0]
        scenarios[name] = {"object": first["object"], "photons": first["photons"],
                           "n": first["n"], "m": first["m"], "train_size": 4000}
    text = sweep.sweep_markdown(sweep.summarize_sweep(tables, scenarios), success_threshold=0.05)
    # The committed summary goes on with the best learned against the best training-free
    # method per scenario, made from the per-image scores (not committed).
    committed = (REFERENCE / "sweep.md").read_text(encoding="utf-8")
    assert committed.startswith(text + "\n**Best learned method against the best training-free")
    assert committed.count("\n| ") - text.count("\n| ") == 2 + len(scenarios)


@pytest.fixture()
def learning_tables():
    return {name: table1(number, rows=[*ROWS, CALIBRATION])
            for number, name in enumerate(LEARNING)}


def test_learning_curve_summary_is_ordered_by_training_set_size(learning_tables):
    summary = sweep.summarize_sweep(learning_tables, LEARNING)
    assert list(summary["scenario"].drop_duplicates()) == [
        "train-1500", "train-6000", "train-24000", "train-60000"]
    assert list(summary["train_size"]) == [1500] * 4 + [6000] * 4 + [24000] * 4 + [60000] * 4
    assert summary["train_size"].dtype == np.int64
    assert list(summary["method"][:4]) == ["hio", "alm", "hio_sw", "mean_object"]


def test_train_size_sorts_after_photons_and_grid(tables):
    scenarios = {**SCENARIOS, "real_1e3": {**SCENARIOS["real_1e3"], "photons": 1e5,
                                           "train_size": 1500},
                 "real_noiseless": {**SCENARIOS["real_noiseless"], "train_size": 24000}}
    summary = sweep.summarize_sweep(tables, scenarios)
    assert list(summary["scenario"].drop_duplicates()) == [
        "real_noiseless", "real_1e3", "real_1e5", "complex_noiseless", "complex_1e3"]


def test_learning_curve_markdown_heads_columns_by_training_set_size(learning_tables):
    text = sweep.sweep_markdown(sweep.summarize_sweep(learning_tables, LEARNING),
                                success_threshold=0.05)
    assert "**Real objects, noiseless**" in text and "Complex" not in text
    assert ("| Method | 1,500 training images | 6,000 training images | "
            "24,000 training images | 60,000 training images |") in text
    mean_object = next(line for line in text.splitlines()
                       if line.startswith("| Mean training object |"))
    # 1,500 images: table1 number 1, row 3: 0.41 + 1/3000, CI -0.0123..., +0.0235...
    assert mean_object.split(" | ")[1] == "0.410 [0.398, 0.434] · 24%"


def test_markdown_heads_columns_by_budget_and_size_where_both_vary(tables):
    scenarios = {**SCENARIOS, "real_1e3": {**SCENARIOS["real_1e3"], "photons": 1e5,
                                           "train_size": 1500},
                 "real_noiseless": {**SCENARIOS["real_noiseless"], "train_size": 1500}}
    text = sweep.sweep_markdown(sweep.summarize_sweep(tables, scenarios), success_threshold=0.05)
    assert ("**Real objects**\n\n| Method | noiseless, 1,500 training images | "
            "1e5 photons, 1,500 training images | 1e5 photons, 6,000 training images |") in text
    assert "**Complex objects**\n\n| Method | noiseless | 1e3 photons |" in text


def line_data(axis):
    """(x, y, colour, linestyle, marker) of every line of ``axis``."""
    return [(list(line.get_xdata()), list(line.get_ydata()), line.get_color(),
             line.get_linestyle(), line.get_marker()) for line in axis.get_lines()]


def test_learning_curve_figure_has_training_set_size_on_x(learning_tables):
    figure = sweep.sweep_figure(sweep.summarize_sweep(learning_tables, LEARNING),
                                success_threshold=0.05)
    assert len(figure.axes) == 2
    mean_axis, success_axis = figure.axes
    assert mean_axis.get_title() == "real objects, noiseless"
    assert success_axis.get_xlabel() == "training images"
    for axis in (mean_axis, success_axis):
        assert axis.get_xscale() == "log"
        assert tick_labels(axis) == ["1,500", "6,000", "24,000", "60,000"]
        np.testing.assert_allclose(axis.get_xticks(), [1500, 6000, 24000, 60000])
    lines = line_data(mean_axis)
    assert len(lines) == 4  # one per method, no noiseless point apart
    for x, *_ in lines:
        assert x == [1500, 6000, 24000, 60000]
    # mean_object (row 3) at 1,500 / 6,000 / 24,000 / 60,000: table1 numbers 1, 3, 0, 2
    calibration = [line for line in lines if line[2] == "black"]
    assert len(calibration) == 1
    _, y, _, linestyle, marker = calibration[0]
    np.testing.assert_allclose(y, np.array([0.41, 0.43, 0.40, 0.42]) + 1 / 3000)
    assert (linestyle, marker) == ("--", "None")
    assert all(line[3] != "--" or line[4] != "None" for line in lines if line[2] != "black")
    success = [line for line in line_data(success_axis) if line[2] == "black"]
    np.testing.assert_allclose(success[0][1], 100 * np.array([4, 6, 3, 5]) / 17)
    handle = figure.legends[0].legend_handles[3]
    assert handle.get_label() == "Mean training object"
    assert (handle.get_color(), handle.get_linestyle(), handle.get_marker()) == (
        "black", "--", "None")
    figures.save_figure(figure, [])


def test_photon_figure_draws_the_calibration_as_a_reference_line():
    tables = {name: table1(number, rows=[*ROWS, CALIBRATION])
              for number, name in enumerate(SCENARIOS)}
    figure = sweep.sweep_figure(sweep.summarize_sweep(tables, SCENARIOS), success_threshold=0.05)
    real = figure.axes[0]
    assert real.get_xlabel() == "" and figure.axes[2].get_xlabel() == "expected photons per image"
    black = [line for line in line_data(real) if line[2] == "black"]
    # mean_object (row 3) of real_1e3 (number 1), real_1e5 (number 4) and real_noiseless
    # (number 2, drawn at 1e5 * NOISELESS_FACTOR): the measured budgets, the noiseless point
    # as a dash, the dotted join, then the noiseless CI bar (its mean and two caps)
    noiseless = 0.42 + 1 / 3000
    expected = [([1e3, 1e5], [0.41 + 1 / 3000, 0.44 + 1 / 3000], "--", "None"),
                ([1e6], [noiseless], "None", "_"),
                ([1e5, 1e6], [0.44 + 1 / 3000, noiseless], ":", "None"),
                ([1e6], [noiseless], "None", "None"),
                ([1e6], [noiseless - 0.0123456789], "None", "_"),
                ([1e6], [noiseless + 0.0234567891], "None", "_")]
    assert len(black) == len(expected)
    for (x, y, _, linestyle, marker), (x_, y_, linestyle_, marker_) in zip(black, expected):
        np.testing.assert_allclose(x, x_)
        np.testing.assert_allclose(y, y_)
        assert (linestyle, marker) == (linestyle_, marker_)
    figures.save_figure(figure, [])


def test_figure_splits_columns_by_training_set_size_where_photons_vary_too(tables):
    scenarios = {**SCENARIOS, "real_1e3": {**SCENARIOS["real_1e3"], "photons": 1e5,
                                           "train_size": 1500},
                 "real_noiseless": {**SCENARIOS["real_noiseless"], "train_size": 1500}}
    figure = sweep.sweep_figure(sweep.summarize_sweep(tables, scenarios), success_threshold=0.05)
    assert len(figure.axes) == 6
    assert [axis.get_title() for axis in figure.axes[:3]] == [
        "real objects, 1,500 training images", "real objects, 6,000 training images",
        "complex objects, 6,000 training images"]
    assert tick_labels(figure.axes[0]) == ["1e5", "noiseless"]
    assert tick_labels(figure.axes[1]) == ["1e5"]
    assert figure.axes[3].get_xlabel() == "expected photons per image"
    figures.save_figure(figure, [])
