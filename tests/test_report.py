"""Scoring, Table 1 statistics and figures on small hand-made inputs."""

import re
import time

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from prbench.data import synth
from prbench.geometry import Geometry
from prbench.io import CorruptFileError, save_npz
from prbench.metrics import symmetric_mse
from prbench.physics import conjugate_flip, forward, pad
from prbench.report import figures, table
from prbench.report.diagnostics import network_diagnostics
from prbench.report.scores import read_scores, score_method
from prbench.shards import load_shards, save_shard
from prbench.stages.report import validation_calibration


G = Geometry(n=36, m=72)


def make_test_set(count=6, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(1, 256, (count, 28, 28)).astype(np.uint8)
    return synth.synthesize(images, rng.integers(0, 10, count), count, seed=seed, split="test",
                            geometry=G)


def write_shards(tmp_path, x_hat, splits):
    paths = []
    for number, indices in enumerate(splits):
        path = tmp_path / f"shard{number}.npz"
        save_shard(path, x_hat=x_hat[indices], index=np.asarray(indices),
                   seconds=0.5 * len(indices), residual=np.zeros(len(indices)),
                   iterations=np.full(len(indices), 7), stop_reason=np.full(len(indices), "budget"),
                   device="cpu", provenance={"test": 1})
        paths.append(path)
    return paths


def test_scores_are_zero_for_symmetric_copies_and_one_for_nothing(tmp_path):
    test = make_test_set()
    truth = torch.from_numpy(test.x)
    x_hat = torch.roll(pad(conjugate_flip(truth), G.m), (10, 3), (-2, -1)) * 2j
    x_hat[4] = 0
    x_hat[4, 40, 40] = 1.0  # a single pixel: best fit is the brightest truth pixel
    paths = write_shards(tmp_path, x_hat.numpy(), [[3, 4, 5], [0, 1, 2]])
    shards = load_shards(paths, [[3, 4, 5], [0, 1, 2]])
    np.testing.assert_array_equal(shards["index"], np.arange(6))
    np.testing.assert_array_equal(shards["seconds"], np.full(6, 0.5))
    assert list(shards["device"]) == ["cpu"] * 6
    scores, aligned = score_method("hio", test, shards, G)
    assert list(scores["image"]) == list(range(6))
    assert scores.loc[scores.image != 4, "mse"].max() < 1e-10
    energy = np.abs(test.x[4]) ** 2
    assert scores.loc[4, "mse"] == pytest.approx(1 - energy.max() / energy.sum(), rel=1e-9)
    np.testing.assert_allclose(aligned[0], test.x[0], atol=1e-5)
    assert (scores["label"].to_numpy() == test.labels).all()
    assert (scores["flipped"].to_numpy() == test.flips).all()


def test_scoring_in_chunks_equals_one_alignment_of_all_images(tmp_path, monkeypatch):
    """score_method aligns ALIGN_CHUNK images at a time (bounded memory); with a chunk of 4
    for 11 images (chunks 4, 4, 3) it must give what one align() of all 11 gives."""
    from prbench.metrics import align
    from prbench.report import scores as scores_module

    test = make_test_set(count=11, seed=3)
    rng = np.random.default_rng(5)
    x_hat = (rng.standard_normal((11, G.m, G.m))
             + 1j * rng.standard_normal((11, G.m, G.m))).astype(np.complex64)
    x_hat[:, :G.n, :G.n] += 4 * test.x[:, ::-1, ::-1]  # partly recognisable objects
    shards = load_shards(write_shards(tmp_path, x_hat, [list(range(11))]), [np.arange(11)])
    whole = align(torch.from_numpy(test.x), torch.from_numpy(x_hat), G)
    monkeypatch.setattr(scores_module, "ALIGN_CHUNK", 4)
    scores, aligned = score_method("hio", test, shards, G)
    np.testing.assert_allclose(scores["mse"].to_numpy(), whole.mse.numpy(), rtol=1e-12)
    np.testing.assert_allclose(aligned, whole.aligned.to(torch.complex64).numpy(), rtol=1e-6,
                               atol=1e-7)
    assert 0.01 < scores["mse"].min() and scores["mse"].max() < 0.99  # not all trivial


def test_shards_other_than_planned_or_with_nan_are_rejected_by_name(tmp_path):
    test = make_test_set()
    x_hat = pad(torch.from_numpy(test.x), G.m).numpy()
    with pytest.raises(ValueError, match="overlap"):
        load_shards(write_shards(tmp_path, x_hat, [[0, 1, 2], [2, 3]]), [[0, 1, 2], [2, 3]])
    paths = write_shards(tmp_path, x_hat, [[0, 1, 2], [3]])  # image 4 missing from shard 1
    with pytest.raises(CorruptFileError, match=re.escape(f"{paths[1]} is unusable (test images "
                                                         "[3]... (1), the plan gives it [3, 4]")):
        load_shards(paths, [[0, 1, 2], [3, 4]])
    x_hat[3, 0, 0] = np.nan
    paths = write_shards(tmp_path, x_hat, [[0, 1], [2, 3]])
    with pytest.raises(CorruptFileError, match=re.escape(f"{paths[1]} is unusable (NaN")):
        load_shards(paths, [[0, 1], [2, 3]])


def test_unreadable_or_incomplete_shards_name_the_file_and_the_rule(tmp_path):
    test = make_test_set()
    x_hat = pad(torch.from_numpy(test.x), G.m).numpy()
    paths = write_shards(tmp_path, x_hat, [[0, 1, 2], [3, 4, 5]])
    paths[1].write_bytes(paths[1].read_bytes()[:1000])
    with pytest.raises(CorruptFileError, match=re.escape(f"{paths[1]} is unusable")) as raised:
        load_shards(paths, [[0, 1, 2], [3, 4, 5]])
    assert f"rule `reconstruct`; to regenerate it and everything that depends on it, run: " \
           f"snakemake --forcerun {paths[1]}" in str(raised.value)
    save_npz(paths[1], x_hat=x_hat[3:], index=np.arange(3, 6), residual=np.zeros(3),
             iterations=np.full(3, 7), device=np.array("cpu"))
    with pytest.raises(CorruptFileError, match="missing array 'seconds'"):
        load_shards(paths, [[0, 1, 2], [3, 4, 5]])


def fake_scores(rng):
    rows = []
    for name, centre in (("hio", 0.4), ("alm", 0.3), ("hio_sw", 0.1), ("hio_realpos", 0.02)):
        values = np.clip(rng.normal(centre, 0.05, 200), 0, 1)
        rows.append(pd.DataFrame({"method": name, "mse": values}))
    return pd.concat(rows, ignore_index=True)


def test_summary_statistics_match_direct_computation():
    scores = fake_scores(np.random.default_rng(1))
    summary = table.summarize(scores, success_threshold=0.05, seed=0, resamples=4000)
    # Paper order within groups, then the groups in order.
    assert list(summary["method"]) == ["alm", "hio", "hio_sw", "hio_realpos"]
    for row in summary.itertuples():
        values = scores.loc[scores.method == row.method, "mse"].to_numpy()
        assert row.mean_mse == pytest.approx(values.mean())
        assert row.median_mse == pytest.approx(np.median(values))
        assert row.success_rate == pytest.approx((values < 0.05).mean())
        # The bootstrap CI of the mean is about mean +- 1.96 standard errors.
        half_width = 1.96 * values.std(ddof=1) / np.sqrt(len(values))
        assert row.ci_low == pytest.approx(values.mean() - half_width, abs=0.25 * half_width)
        assert row.ci_high == pytest.approx(values.mean() + half_width, abs=0.25 * half_width)
    assert summary.set_index("method").loc["alm", "paper_mse"] == 0.312
    assert np.isnan(summary.set_index("method").loc["hio_sw", "paper_mse"])


def test_a_rows_interval_does_not_depend_on_the_other_rows():
    scores = fake_scores(np.random.default_rng(3))
    whole = table.summarize(scores, success_threshold=0.05, seed=0, resamples=500)
    alone = table.summarize(scores[scores.method == "hio_realpos"], success_threshold=0.05,
                            seed=0, resamples=500)
    pd.testing.assert_series_equal(whole.set_index("method").loc["hio_realpos"],
                                   alone.set_index("method").loc["hio_realpos"])
    shifted = table.summarize(scores, success_threshold=0.05, seed=1, resamples=500)
    assert (shifted["ci_low"] != whole["ci_low"]).any()  # the seed does reach the bootstrap


def test_rendered_tables_hold_every_row_in_its_block():
    summary = table.summarize(fake_scores(np.random.default_rng(2)), success_threshold=0.05,
                              seed=0, resamples=200)
    markdown = table.to_markdown(summary, success_threshold=0.05)
    blocks = markdown.split("**")[1::2]
    assert blocks == [table.GROUP_TITLES[g] for g in ("paper", "beyond", "reference")]
    assert markdown.count("| ALM | ") == 1 and "0.312" in markdown
    latex = table.to_latex(summary, success_threshold=0.05)
    assert latex.count(r"\\") == 1 + 4 + 3  # header, rows, group titles
    assert r"\%" in latex and "_" not in latex.replace(r"\_", "")


def test_paired_differences_keep_pairs_and_match_direct_computation():
    rng = np.random.default_rng(4)
    base = rng.uniform(0.2, 0.6, 300)
    scores = pd.concat([
        pd.DataFrame({"method": "passive_refined", "image": np.arange(300), "mse": base}),
        # hio: the same images, 0.05 worse each with small noise: a sure, paired difference
        pd.DataFrame({"method": "hio", "image": np.arange(300),
                      "mse": base + 0.05 + rng.normal(0, 0.01, 300)}),
    ], ignore_index=True)
    paired = table.paired_differences(scores, "passive_refined", seed=0, resamples=2000)
    row = paired.set_index("method").loc["hio"]
    assert row.mean_difference == pytest.approx(0.05, abs=0.002)
    # Pairing removes the images' own spread (std 0.115): the CI is about +-0.0012 wide.
    assert row.ci_high - row.ci_low < 0.004 and row.ci_low > 0.045
    assert row.better_share == 0.0
    text = table.paired_markdown(paired, "passive_refined")
    assert f"| HIO | {row.mean_difference:+.3f} | [{row.ci_low:+.3f}, {row.ci_high:+.3f}] |" in text
    with pytest.raises(ValueError, match="no scores"):
        table.paired_differences(scores, "alm", seed=0)


def test_best_learned_against_best_training_free_picks_by_mean_and_pairs_images():
    rng = np.random.default_rng(5)
    base = rng.uniform(0.1, 0.5, 200)

    def rows(method, mse):
        return pd.DataFrame({"method": method, "image": np.arange(200), "mse": mse})

    scores = pd.concat([
        rows("hio_sw", base), rows("hio", base + 0.2),  # training-free: hio_sw is best
        rows("hio_realpos", base - 0.05),  # reference: lower, but never the training-free best
        rows("mean_object", base - 0.09),  # calibration: neither side
        rows("naive_sw", base - 0.03 + rng.normal(0, 0.01, 200)),  # learned: the best
        rows("prdeep", base + 0.1), rows("passive_dnn", base + 0.3)], ignore_index=True)
    result = table.learned_against_training_free(scores, seed=0, resamples=2000)
    assert (result["learned"], result["training_free"]) == ("naive_sw", "hio_sw")
    difference = (scores[scores.method == "naive_sw"].mse.to_numpy() - base)
    assert result["mean_difference"] == pytest.approx(difference.mean(), abs=1e-12)
    assert result["learned_mean"] == pytest.approx(base.mean() + difference.mean())
    assert result["ci_low"] < difference.mean() < result["ci_high"] < 0
    assert result["better_share"] == pytest.approx((difference < 0).mean())
    text = table.learned_markdown({"noiseless": result, "other": None})
    assert ("| noiseless | Naive start, shrink-wrap | " in text and "| learned better |" in text
            and "no learned or no training-free method" in text)
    # The learned side uses a network or a denoiser: without them there is no comparison.
    assert table.learned_against_training_free(
        scores[~scores.method.isin(["naive_sw", "prdeep", "passive_dnn"])], seed=0) is None


def test_unregistered_method_is_rejected():
    scores = pd.DataFrame({"method": ["magic"], "mse": [0.0]})
    with pytest.raises(ValueError, match="unregistered"):
        table.summarize(scores, success_threshold=0.05, seed=0)


def test_figures_are_written(tmp_path):
    test = make_test_set(4)
    aligned = {"hio": test.x * 0.5, "alm": test.x}
    mse = {"hio": np.full(4, 0.25), "alm": np.zeros(4)}
    paths = [tmp_path / "f4.png", tmp_path / "f4.pdf"]
    figures.save_figure(figures.figure4(test.x, aligned, mse, np.array([0, 2])), paths)
    assert all(path.stat().st_size > 1000 for path in paths)
    scores = fake_scores(np.random.default_rng(3))
    figures.save_figure(figures.mse_distribution(scores, ["alm", "hio"], table.PAPER_TABLE1),
                        [tmp_path / "d.png"])
    history = pd.DataFrame({"epoch": [1, 2], "train_loss": [1.0, 0.5], "val_loss": [1.1, 0.6]})
    figures.save_figure(figures.training_curves({"passive": history}), [tmp_path / "t.png"])
    assert (tmp_path / "d.png").stat().st_size > 1000 and (tmp_path / "t.png").is_file()


def test_training_curves_draw_each_u_nets_validation_mse_against_the_mean_object():
    history = pd.DataFrame({"epoch": [1, 2], "train_loss": [1.0, 0.5], "val_loss": [1.1, 0.6]})
    unet = history.assign(val_symmetric_mse=[0.4, 0.3])
    figure = figures.training_curves({"passive": unet, "denoiser": history}, calibration=0.35)
    passive, denoiser = figure.axes[2:]
    validation, level = passive.get_lines()
    assert list(validation.get_ydata()) == [0.4, 0.3]
    assert list(level.get_ydata()) == [0.35, 0.35] and level.get_linestyle() == "--"
    assert not denoiser.axison
    assert len(figures.training_curves({"passive": unet}).axes) == 1


def is_valid_pdf(data):
    """A PDF header and trailer whose startxref points at the cross-reference table."""
    match = re.search(rb"startxref\s+(\d+)\s+%%EOF\s*$", data)
    return (data.startswith(b"%PDF-") and match is not None
            and data[int(match.group(1)):].startswith(b"xref"))


def test_saving_a_figure_twice_gives_identical_valid_files(tmp_path, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)  # would pin the PDF date
    test = make_test_set(3)
    aligned, mse = {"hio": test.x * 0.5}, {"hio": np.full(3, 0.25)}
    runs = [tmp_path / "first", tmp_path / "second"]
    for number, run in enumerate(runs):
        if number:
            time.sleep(1.1)  # the PDF creation date has one-second resolution
        figures.save_figure(figures.figure4(test.x, aligned, mse, np.array([0, 2])),
                            [run / "f4.png", run / "f4.pdf"])
    for name in ("f4.png", "f4.pdf"):
        assert (runs[0] / name).read_bytes() == (runs[1] / name).read_bytes(), name
    pdf = (runs[0] / "f4.pdf").read_bytes()
    assert is_valid_pdf(pdf) and b"CreationDate" not in pdf
    with Image.open(runs[0] / "f4.png") as image:
        assert image.format == "PNG"
        pixels = np.asarray(image.convert("L"))
    assert min(pixels.shape) > 100 and pixels.min() < 50 and pixels.max() > 200


def test_network_diagnostics_marks_the_kept_epoch():
    history = pd.DataFrame({"epoch": [1, 2, 3], "val_loss": [0.5, 0.3, 0.4],
                            "val_symmetric_mse": [0.41, 0.32, 0.35],
                            "val_border_fraction": [0.2, 0.05, 0.1],
                            "images_per_s": [100.0, 110.0, 120.0]})
    text = network_diagnostics({"passive U-Net": history}, truth_border=0.0112,
                               calibration=0.35)
    assert "1.12% of the energy" in text and "(kept: epoch 2" in text
    assert "mean training object scores a validation MSE of 0.3500" in text
    rows = [line for line in text.splitlines() if line.startswith("| ")][2:]
    assert rows == ["| 1 | 0.5000 | 0.4100 | +0.0600 | 20.00% | 100 |",
                    "| 2 (kept) | 0.3000 | 0.3200 | -0.0300 | 5.00% | 110 |",
                    "| 3 | 0.4000 | 0.3500 | +0.0000 | 10.00% | 120 |"]
    with pytest.raises(ValueError, match="lacks columns"):
        network_diagnostics({"denoiser": history.drop(columns="val_border_fraction")}, 0.01,
                            calibration=0.35)


def test_the_calibration_level_is_the_training_parts_mean_object_on_validation_images(
        tmp_path):
    """Six identical training objects A and two validation objects, A shifted (error 0
    against the mean object A) and another image B: the level is half B's error against A,
    which a mean taken over the validation objects too would not give."""
    rng = np.random.default_rng(0)
    image, other = rng.random((2, 28, 28))
    x = np.zeros((8, 36, 36), np.complex64)
    x[:6, :28, :28] = image
    x[6, 5:33, 3:31] = image
    x[7, 8:, 8:] = other
    y = forward(torch.from_numpy(x), 72).numpy()
    count = len(x)
    synth.SynthesizedSet(x=x, y=y, offsets=np.zeros((count, 2), np.int64),
                         flips=np.zeros(count, bool), labels=np.zeros(count, np.int64),
                         base_index=np.arange(count), meta={
                             "split": "train", "seed": 0, "n": 36, "m": 72,
                             "object_kind": "real", "phase_smoothing_px": 4.0,
                             "phase_std_rad": 1.0}).save(tmp_path / "train.npz")
    truths, level = validation_calibration(tmp_path / "train.npz", validation_fraction=0.25)
    np.testing.assert_array_equal(truths.numpy(), x[6:])
    mean_object = torch.from_numpy(x[:1])
    expected = symmetric_mse(torch.from_numpy(x[7:]), mean_object, Geometry(36, 72)).item() / 2
    assert expected > 0.01 and level == pytest.approx(expected, abs=1e-9)


def scores_frame(methods=("hio", "alm"), images=4):
    """Per-image scores with every column, as the score rule writes them."""
    return pd.DataFrame([{"method": method, "image": image, "label": 1, "offset_row": 2,
                          "offset_col": 3, "flipped": False, "mse": 0.1 * (image + 1),
                          "seconds": 0.5, "residual": 0.01, "iterations": 10, "stopped": "budget",
                          "device": "cpu"}
                         for method in methods for image in range(images)])


@pytest.mark.parametrize("damage, problem", [
    (lambda f: f.drop(index=[2, 3]), "method hio: 2 rows for the 4 planned test images: 2 "
                                     "missing (first [2, 3])"),
    (lambda f: f.iloc[[0, 0, 1, 2, 3, 4, 5, 6, 7]], "method hio: 5 rows for the 4 planned test "
                                                   "images: 0 missing (first []), 1 repeated"),
    (lambda f: f.assign(image=f["image"] + 1), "1 missing (first [0]), 0 repeated, 1 outside"),
    (lambda f: f[f["method"] == "hio"], "scores of methods ['hio'], the run planned"),
    (lambda f: f.assign(mse=np.where(f.index == 5, np.nan, f["mse"])),
     "column 'mse' holds nan in row 7 (1 bad values)"),
    (lambda f: f.assign(mse=f["mse"] * 9), "column 'mse' holds 1.8 in row 3"),
    (lambda f: f.assign(seconds=-1.0), "column 'seconds' holds -1.0"),
    (lambda f: f.drop(columns="residual"), "'iterations', 'stopped', 'device'], expected ['method'"),
    (lambda f: f.assign(stopped="tired"), "stop reasons ['tired'], not one of ['budget'"),
    (lambda f: f.iloc[:0], "a header without rows"),
])
def test_scores_that_are_not_the_planned_ones_are_refused_by_name(tmp_path, damage, problem):
    path = tmp_path / "scores.csv"
    scores_frame().to_csv(path, index=False)
    assert len(read_scores(path, methods=["alm", "hio"], images=4, produced_by="table")) == 8
    damage(scores_frame()).to_csv(path, index=False)
    with pytest.raises(CorruptFileError, match=f"{re.escape(str(path))} is unusable \\(.*"
                                               f"{re.escape(problem)}.*rule `table`.*"
                                               f"--forcerun {re.escape(str(path))}"):
        read_scores(path, methods=["alm", "hio"], images=4, produced_by="table")


def test_a_network_output_without_a_residual_is_accepted(tmp_path):
    path = tmp_path / "scores.csv"
    scores_frame(methods=("naive_dnn",)).assign(residual=np.nan).to_csv(path, index=False)
    assert read_scores(path, methods=["naive_dnn"], images=4, produced_by="score")[
        "residual"].isna().all()


@pytest.mark.parametrize("damage, problem", [
    (lambda t: t.iloc[:1], "rows of methods ['alm'], the run planned one each of"),
    (lambda t: t.assign(images=3), "image counts [3, 3], the run planned 4"),
    (lambda t: t.assign(mean_mse=np.nan), "column 'mean_mse' holds nan"),
    (lambda t: t.assign(ci_low=t["mean_mse"] + 0.01, ci_high=t["mean_mse"] + 0.02),
     "lies outside its confidence interval"),
    (lambda t: t.assign(success_rate=1.5), "column 'success_rate' holds 1.5"),
])
def test_a_table_that_is_not_the_planned_one_is_refused_by_name(tmp_path, damage, problem):
    summary = table.summarize(scores_frame(), success_threshold=0.25, seed=0, resamples=200)
    path = tmp_path / "table1.csv"
    summary.to_csv(path, index=False)
    assert table.read_table(path, methods=["hio", "alm"], images=4)["method"].tolist() == [
        "alm", "hio"]
    damage(summary).to_csv(path, index=False)
    with pytest.raises(CorruptFileError, match=f"table1.csv is unusable \\(.*{re.escape(problem)}"):
        table.read_table(path, methods=["hio", "alm"], images=4)


def test_a_network_row_may_move_within_half_its_ci_and_a_training_free_row_not_at_all():
    from prbench.report.reference import KERNEL_PATH_MOVE, compare_tables, depends_on_training

    assert depends_on_training("passive_refined") and depends_on_training("prdeep")
    assert not depends_on_training("hio_sw") and not depends_on_training("mean_object")
    reference = pd.DataFrame({"method": ["hio_sw", "passive_refined", "mean_object"],
                              "images": 100, "mean_mse": [0.05, 0.15, 0.38],
                              "ci_low": [0.03, 0.12, 0.35], "ci_high": [0.08, 0.18, 0.41]})
    moved = reference.assign(mean_mse=[0.05, 0.18, 0.38])  # +0.03 = half of 0.06
    compared = compare_tables(moved, reference).set_index("method")
    assert compared["within"].all()
    assert compared.loc["passive_refined", "tolerance"] == pytest.approx(0.03)
    assert compared.loc["passive_refined", "moved"] == pytest.approx(0.03)
    assert not compare_tables(moved.assign(mean_mse=[0.05, 0.1801, 0.38]),
                              reference).set_index("method").loc["passive_refined", "within"]
    off = compare_tables(moved.assign(ci_low=[0.0301, 0.12, 0.35]), reference)
    assert off["within"].tolist() == [False, True, True]  # any change of a training-free row
    with pytest.raises(ValueError, match="the run's table has methods"):
        compare_tables(moved.iloc[:2], reference)
    # A narrow CI (many test images): the kernel-path move measured is the floor.
    narrow = reference.assign(ci_low=[0.03, 0.149, 0.35], ci_high=[0.08, 0.151, 0.41])
    nudged = narrow.assign(mean_mse=[0.05, 0.15 + 0.99 * KERNEL_PATH_MOVE, 0.38])
    compared = compare_tables(nudged, narrow).set_index("method")
    assert compared.loc["passive_refined", "tolerance"] == KERNEL_PATH_MOVE
    assert compared["within"].all()
    assert not compare_tables(nudged.assign(mean_mse=[0.05, 0.15 + 1.01 * KERNEL_PATH_MOVE, 0.38]),
                              narrow).set_index("method").loc["passive_refined", "within"]
