"""The ``prbench`` command (prbench.cli): methods, reconstruct, score, and bad input.

The objects are made here with NumPy (a disc, a triangle and an L-shaped bar: not
Fashion-MNIST), their intensities with ``np.fft.fft2``: independent of prbench.physics.
"""

import hashlib
import os
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from prbench.cli import main, parse_param
from prbench.registry import METHODS

N, M = 16, 32  # object frame and grid (m >= 2n - 1)


def shape_object(n=N):
    """(n, n) float64, >= 0: a disc, a triangle and an L-shaped bar of different heights
    in the top-left 11 x 11 pixels (an irregular, non-centrosymmetric support)."""
    yy, xx = np.mgrid[:n, :n].astype(float)
    x = 1.0 * ((yy - 4) ** 2 + (xx - 4) ** 2 <= 9)
    x += 0.5 * ((yy >= 2) & (xx >= 6) & (yy + xx <= 14) & (xx < 11))
    x[8:11, 1:7] += 0.7
    x[6:11, 1:3] += 0.3
    return x


def sample_objects():
    """(3, N, N): the object, its transpose shifted by (2, 3), twice its vertical flip."""
    x = shape_object()
    return np.stack([x, np.roll(x.T, (2, 3), axis=(0, 1)), 2 * x[::-1]])


def intensities(x, m=M):
    """|DFT_m(x)|^2 of (..., n, n) objects zero-padded to m x m: (..., m, m) float64."""
    return np.abs(np.fft.fft2(x, s=(m, m))) ** 2


def call(argv, capsys):
    """(exit status, stdout, stderr) of ``prbench argv`` run in this process."""
    status = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Paths of truth.npy (3, N, N) and y.npy (3, M, M), and a folder for outputs."""
    folder = tmp_path_factory.mktemp("cli")
    x = sample_objects()
    np.save(folder / "truth.npy", x)
    np.save(folder / "y.npy", intensities(x))
    return folder


@pytest.fixture(scope="module")
def recovered(files):
    """OUT of ``prbench reconstruct hio_sw y.npy --n 16`` (the solver's defaults)."""
    out = files / "hio_sw.npz"
    assert main(["reconstruct", "hio_sw", str(files / "y.npy"), "--n", str(N),
                 "--out", str(out)]) == 0
    return out


def load(out):
    with np.load(out) as stored:
        return {key: stored[key] for key in stored.files}


def test_hio_sw_recovers_an_object_and_scores_it(files, recovered, capsys):
    result = load(recovered)
    assert result["x_hat"].shape == (3, M, M) and result["x_hat"].dtype == np.complex64
    y = np.load(files / "y.npy")
    # Its Fourier intensities are the measured ones (independent of the score).
    fitted = intensities(result["x_hat"].astype(np.complex128))
    assert np.linalg.norm(fitted - y) / np.linalg.norm(y) < 1e-3
    status, out, err = call(["score", files / "truth.npy", recovered, "--json"], capsys)
    assert status == 0, err
    scores = json.loads(out)
    assert (scores["n"], scores["m"], len(scores["mse"])) == (N, M, 3)
    assert max(scores["mse"]) < 1e-3 and scores["mean"] < 1e-3
    status, out, _ = call(["score", files / "truth.npy", recovered], capsys)
    lines = out.splitlines()
    assert status == 0 and [line.split()[0] for line in lines[2:5]] == ["0", "1", "2"]
    assert [float(line.split()[1]) for line in lines[2:5]] == pytest.approx(scores["mse"])
    assert lines[5].startswith("mean   0.000  (3 images")


def test_provenance_and_progress(files, recovered, capsys):
    record = json.loads(str(load(recovered)["provenance"]))
    assert (record["method"], record["seed"], record["n"], record["m"]) == ("hio_sw", 0, N, M)
    assert record["params"] == {} and record["run"] is None
    assert record["input_sha256"] == hashlib.sha256((files / "y.npy").read_bytes()).hexdigest()
    status, _, err = call(["reconstruct", "hio_sw", files / "y.npy", "--n", N, "--out",
                           files / "chunked.npz", "--chunk", 2, "--param", "iters=5",
                           "--param", "er_iters=1", "--param", "n_starts=1"], capsys)
    assert status == 0
    assert "reconstructed 2/3 images" in err and "reconstructed 3/3 images" in err


def test_centered_intensities_give_the_same_reconstruction(files, recovered, capsys):
    centered = files / "y_centered.npy"
    np.save(centered, np.fft.fftshift(np.load(files / "y.npy"), axes=(-2, -1)))
    out = files / "centered.npz"
    status, _, err = call(["reconstruct", "hio_sw", centered, "--n", N, "--centered",
                           "--out", out], capsys)
    assert status == 0, err
    np.testing.assert_array_equal(load(out)["x_hat"], load(recovered)["x_hat"])


def test_results_do_not_depend_on_the_chunk_size(files, recovered, capsys):
    out = files / "one_by_one.npz"
    status, _, err = call(["reconstruct", "hio_sw", files / "y.npy", "--n", N, "--chunk", 1,
                           "--out", out], capsys)
    assert status == 0, err
    np.testing.assert_allclose(load(out)["x_hat"], load(recovered)["x_hat"], rtol=0, atol=1e-6)


def test_params_reach_the_solver(files, capsys):
    out = files / "short.npz"
    status, _, err = call(["reconstruct", "hio_sw", files / "y.npy", "--n", N, "--out", out,
                           "--param", "iters=40", "--param", "er_iters=7",
                           "--param", "n_starts=1", "--param", "threshold=2e-1"], capsys)
    assert status == 0, err
    result = load(out)
    assert (result["iterations"] == 47).all()
    assert json.loads(str(result["provenance"]))["params"] == {
        "iters": 40, "er_iters": 7, "n_starts": 1, "threshold": 0.2}


def test_parse_param():
    assert parse_param("iters=200") == ("iters", 200)
    assert parse_param("rho=1e-3") == ("rho", 0.001)
    assert parse_param("sigmas=[1, 2.5]") == ("sigmas", [1, 2.5])
    assert parse_param("initial_support=frame") == ("initial_support", "frame")


def fake_run(folder, *, n=N, m=M, methods=None, train=None):
    """A scenario folder holding provenance.json (config: synthesis n, m; the methods'
    settings) and, if ``train`` ((k, n, n) objects) is given, data/train.npz."""
    folder.mkdir()
    config = {"run": "cli", "scenario": "noiseless", "scenarios": {"noiseless": {}},
              "synthesis": {"n": n, "m": m}, "reconstruction": {"methods": methods or {}}}
    (folder / "provenance.json").write_text(json.dumps({"config": config}))
    if train is not None:
        from prbench.data.synth import SynthesizedSet

        k = len(train)
        SynthesizedSet(x=train.astype(np.complex64), y=intensities(train, m).astype(np.float32),
                       offsets=np.zeros((k, 2), np.int64), flips=np.zeros(k, bool),
                       labels=np.zeros(k, np.int64), base_index=np.arange(k),
                       meta={"n": n, "m": m, "object_kind": "real"}
                       ).save(folder / "data" / "train.npz")
    return folder


def test_run_settings_and_overrides(files, tmp_path, capsys):
    run = fake_run(tmp_path / "run", methods={"hio_sw": {"iters": 30, "er_iters": 5,
                                                         "n_starts": 1}})
    out = tmp_path / "out.npz"
    status, _, err = call(["reconstruct", "hio_sw", files / "y.npy", "--n", N, "--out", out,
                           "--run", run, "--param", "er_iters=3"], capsys)
    assert status == 0, err
    result = load(out)
    assert (result["iterations"] == 33).all()
    record = json.loads(str(result["provenance"]))
    assert record["params"] == {"iters": 30, "er_iters": 3, "n_starts": 1}
    assert record["run"] == str(run.resolve())


def test_mean_object_from_a_run_is_padded_to_the_grid(files, tmp_path, capsys):
    train = sample_objects()[:2]
    run = fake_run(tmp_path / "run", train=train)
    out = tmp_path / "mean.npz"
    status, _, err = call(["reconstruct", "mean_object", files / "y.npy", "--n", N,
                           "--out", out, "--run", run], capsys)
    assert status == 0, err
    x_hat = load(out)["x_hat"]
    assert x_hat.shape == (3, M, M)
    expected = np.zeros((M, M))
    expected[:N, :N] = train.mean(axis=0)
    np.testing.assert_allclose(x_hat, np.broadcast_to(expected, (3, M, M)), atol=1e-6)


def test_support_mask_lets_hio_recover(files, tmp_path, capsys):
    x = shape_object()
    y = tmp_path / "y.npy"
    np.save(y, intensities(x))  # one (m, m) image
    np.save(truth := tmp_path / "truth.npy", x)
    np.save(mask := tmp_path / "mask.npy", x > 0)  # the (n, n) frame's true support
    scores = {}
    for label, extra in (("frame", []), ("mask", ["--support", mask])):
        out = tmp_path / f"{label}.npz"
        status, _, err = call(["reconstruct", "hio", y, "--n", N, "--out", out, *extra], capsys)
        assert status == 0, err
        status, text, err = call(["score", truth, out, "--json"], capsys)
        scores[label] = json.loads(text)["mean"]
    assert scores["mask"] < 1e-3 < 0.05 < scores["frame"]  # HIO in the n x n frame stagnates


def test_methods_lists_every_method_once_in_a_subprocess():
    script = shutil.which("prbench", path=str(Path(sys.executable).parent)) or shutil.which(
        "prbench")
    assert script, "the prbench console script is not installed (pip install -e .)"
    result = subprocess.run([script, "methods"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["method", "label", "group", "needs"]
    assert [row.split()[0] for row in rows] == list(METHODS)
    by_name = {row.split()[0]: row for row in rows}
    for name, method in METHODS.items():  # columns aligned: each label starts below "label"
        assert by_name[name].index(method.label) == header.index("label")
        assert by_name[name][header.index("group"):].startswith(method.group)
    assert by_name["hio_sw"].endswith("  nothing")
    assert by_name["naive_refined"].endswith("  network naive + support")
    assert by_name["naive_dnn"].endswith("  network naive")
    assert by_name["prdeep"].endswith("  denoiser")
    assert by_name["mean_object"].endswith("  training set")


PLUGIN = '''
"""A plugin for tests/test_cli.py: one method whose solver is ifft2(scale sqrt(Y))."""
import torch

from prbench.registry import Method, register


def cli_zero_phase(Y, support=None, init=None, *, seed, geometry, scale=1.0):
    return torch.fft.ifft2(scale * Y.sqrt().to(torch.complex64)), None


register(Method("cli_zero_phase", "Zero phase (CLI test)", "plugin", "iterative",
                "cli_zero_phase"), cli_zero_phase)
'''


def test_a_plugin_method_is_listed_and_runs(files, tmp_path):
    (tmp_path / "cli_test_plugin.py").write_text(PLUGIN)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))}
    script = shutil.which("prbench", path=str(Path(sys.executable).parent)) or "prbench"
    listing = subprocess.run([script, "methods", "--plugin", "cli_test_plugin"], env=env,
                             capture_output=True, text=True, timeout=120)
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.splitlines()[-1].split()[0] == "cli_zero_phase"
    assert listing.stdout.splitlines()[-1].split()[-1] == "nothing"
    out = tmp_path / "plugin.npz"
    run = subprocess.run([script, "reconstruct", "cli_zero_phase", files / "y.npy", "--n",
                          str(N), "--out", out, "--plugin", "cli_test_plugin", "--param",
                          "scale=2"], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    result = load(out)
    expected = np.fft.ifft2(2 * np.sqrt(np.load(files / "y.npy")))
    np.testing.assert_allclose(result["x_hat"], expected, rtol=0, atol=1e-3)
    plugins = json.loads(str(result["provenance"]))["plugins"]
    assert plugins["cli_test_plugin"]["methods"] == ["cli_zero_phase"]


def test_unknown_plugin_is_an_error(capsys):
    status, _, err = call(["methods", "--plugin", "no_such_prbench_plugin"], capsys)
    assert status == 2 and err.startswith("prbench: error:")
    assert "no_such_prbench_plugin" in err


# ------------------------------------------------------------------------ bad input

def _bad_inputs(folder):
    """{case: (argv after 'reconstruct', words the message must hold)}; writes the files."""
    y = intensities(sample_objects())
    np.save(folder / "rect.npy", y[:, :, :-1])
    negative, nan, inf = y.copy(), y.copy(), y.copy()
    negative[1, 3, 4] = -1.0
    nan[0, 0, 0] = np.nan
    inf[2, 5, 5] = np.inf
    for name, array in (("negative", negative), ("nan", nan), ("inf", inf), ("good", y)):
        np.save(folder / f"{name}.npy", array)
    np.save(folder / "mask_shape.npy", np.ones((10, 10), bool))
    np.save(folder / "mask_empty.npy", np.zeros((N, N), bool))
    np.save(folder / "mask_values.npy", np.full((M, M), 0.5))
    fake_run(folder / "empty_run")
    fake_run(folder / "other_run", n=36, m=72)
    fake_run(folder / "train_run", train=sample_objects()[:1])
    good = folder / "good.npy"
    return {
        "not square": (["hio_sw", folder / "rect.npy"], ["square", "(3, 32, 31)"]),
        "m < 2n - 1": (["hio_sw", good, "--n", 17], ["2n - 1 = 33", "m = 32"]),
        "negative": (["hio_sw", folder / "negative.npy"], ["1 negative intensities"]),
        "nan": (["hio_sw", folder / "nan.npy"], ["non-finite"]),
        "inf": (["hio_sw", folder / "inf.npy"], ["non-finite"]),
        "--m disagrees": (["hio_sw", good, "--m", 30], ["--m 30", "32 x 32"]),
        "support shape": (["hio", good, "--support", folder / "mask_shape.npy"],
                          ["--support", "(10, 10)", "(32, 32)", "(16, 16)"]),
        "support empty": (["hio", good, "--support", folder / "mask_empty.npy"],
                          ["--support", "empty"]),
        "support values": (["hio", good, "--support", folder / "mask_values.npy"],
                           ["--support", "0/1"]),
        "unknown method": (["hio_swx", good], ["unknown method 'hio_swx'", "hio_sw", "alm"]),
        "unknown parameter": (["hio_sw", good, "--param", "nonsense=1"],
                              ["unknown parameter", "nonsense", "hio_sw"]),
        "unknown parameter, closed signature": (["hio", good, "--param", "nonsense=1"],
                                                ["unknown parameter", "nonsense", "'hio'"]),
        "parameter of a network method": (["mean_object", good, "--run",
                                           folder / "train_run", "--param", "iters=3"],
                                          ["takes no parameters", "iters"]),
        "fixed parameter": (["hio_realpos", good, "--param", "real_nonnegative=false"],
                            ["real_nonnegative"]),
        "malformed parameter": (["hio_sw", good, "--param", "iters"], ["KEY=VALUE"]),
        "network without --run": (["naive_dnn", good], ["naive_dnn", "network naive", "--run"]),
        "refined without --run": (["passive_refined", good],
                                  ["network passive + support", "--run"]),
        "denoiser without --run": (["prdeep", good], ["denoiser", "--run"]),
        "training set without --run": (["mean_object", good], ["training set", "--run"]),
        "run lacks network": (["naive_dnn", good, "--run", folder / "empty_run"],
                              ["lacks models/naive/best.pt", "network"]),
        "run lacks training set": (["mean_object", good, "--run", folder / "empty_run"],
                                   ["lacks data/train.npz"]),
        "run of another geometry": (["hio_sw", good, "--run", folder / "other_run"],
                                    ["n = 36, m = 72"]),
        "run without provenance": (["hio_sw", good, "--run", folder],
                                   ["provenance.json"]),
        "no such input": (["hio_sw", folder / "missing.npy"], ["cannot read INPUT"]),
    }


BAD_CASES = [
    "not square", "m < 2n - 1", "negative", "nan", "inf", "--m disagrees", "support shape",
    "support empty", "support values", "unknown method", "unknown parameter",
    "unknown parameter, closed signature", "parameter of a network method",
    "fixed parameter", "malformed parameter", "network without --run",
    "refined without --run", "denoiser without --run", "training set without --run",
    "run lacks network", "run lacks training set", "run of another geometry",
    "run without provenance", "no such input"]


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory):
    return _bad_inputs(tmp_path_factory.mktemp("bad"))


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_is_one_line_and_writes_nothing(case, bad_inputs, tmp_path, capsys):
    argv, words = bad_inputs[case]
    out = tmp_path / "out.npz"
    extra = [] if "--n" in argv else ["--n", N]
    status, stdout, err = call(["reconstruct", *argv, *extra, "--out", out], capsys)
    assert status == 2
    assert err.startswith("prbench: error: ") and err.count("\n") == 1, err
    for word in words:
        assert word in err, (word, err)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_bad_cases_are_all_tested(bad_inputs):
    assert sorted(bad_inputs) == sorted(BAD_CASES)


def test_score_refuses_different_image_counts(files, tmp_path, capsys):
    recon = tmp_path / "two.npz"
    np.savez(recon, x_hat=np.ones((2, M, M), np.complex64))
    status, out, err = call(["score", files / "truth.npy", recon], capsys)
    assert status == 2 and out == ""
    assert err.startswith("prbench: error: ") and "3 images" in err and "2" in err


def test_score_of_a_larger_truth_frame(files, tmp_path, capsys):
    truth = np.zeros((3, 20, 20))
    truth[:, :N, :N] = np.load(files / "truth.npy")
    np.save(path := tmp_path / "truth20.npy", truth)
    recon = tmp_path / "exact.npz"
    np.savez(recon, x_hat=np.pad(truth[:, :N, :N], ((0, 0), (0, M - N), (0, M - N))))
    status, out, err = call(["score", path, recon, "--n", N, "--json"], capsys)
    assert status == 0, err
    assert max(json.loads(out)["mse"]) < 1e-12
    truth[0, 18, 18] = 1.0
    np.save(path, truth)
    status, _, err = call(["score", path, recon, "--n", N], capsys)
    assert status == 2 and "outside its top-left 16 x 16 frame" in err


def test_help_exits_zero(capsys):
    for command in ([], ["reconstruct"], ["score"], ["methods"]):
        assert main([*command, "--help"]) == 0
    assert "reconstruct" in capsys.readouterr().out


def test_docs_command_is_the_docs_module(tmp_path, capsys):
    """`prbench docs` passes its arguments to prbench.report.docs: --check finds a stale
    block (exit 1) and a plain run rewrites it from the file it names."""
    (tmp_path / "numbers.md").write_text("| a | b |\n| --- | --- |\n| 1 | 2 |\n")
    page = tmp_path / "README.md"
    page.write_text("<!-- generated: numbers.md -->\nold\n<!-- end generated -->\n")
    assert main(["docs", "--check", "--root", str(tmp_path), str(page)]) == 1
    assert main(["docs", "--root", str(tmp_path), str(page)]) == 0
    assert "| 1 | 2 |" in page.read_text()
    assert main(["docs", "--check", "--root", str(tmp_path), str(page)]) == 0
