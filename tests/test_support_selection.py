"""Support selection on the validation split: the grid scored with the method's own
reconstruction, the choice, the selection file and its checks, and the stage."""

import json

import numpy as np
import pytest
import torch

from prbench import methods, stages, support_selection
from prbench.data import synth
from prbench.geometry import Geometry
from prbench.io import CorruptFileError, save_torch
from prbench.metrics import symmetric_mse
from prbench.nets import UNet
from prbench.physics import forward, pad
from prbench.registry import METHODS, Method
from prbench.solvers import alm
from synthetic_objects import blob_objects

G = Geometry(n=36, m=72)
SPLIT = {"n_starts": 1, "iters": 100, "rho": 0.01}
HAZE = 0.05


def test_grid_order_is_every_threshold_for_each_sigma_in_turn():
    assert support_selection.grid([2, 0.5], [0.1, 0.3]) == [
        {"sigma": 2.0, "threshold": 0.1}, {"sigma": 2.0, "threshold": 0.3},
        {"sigma": 0.5, "threshold": 0.1}, {"sigma": 0.5, "threshold": 0.3}]
    with pytest.raises(ValueError, match="at least one sigma and one threshold"):
        support_selection.grid([1.0], [])


def test_selection_picks_the_threshold_above_the_haze(monkeypatch):
    """A "network" whose output is the true object plus a uniform haze of 0.05 over the whole
    frame; every object pixel is >= 0.5 of the maximum. With sigma = 0, a threshold above
    the haze (0.3, 0.4) keeps exactly the object's support, from which the
    Fourier-splitting ALM recovers the object from random starts; a threshold below it
    (0.02) keeps the whole 36 x 36 frame, from which it does not. Ties go to the first."""
    monkeypatch.setitem(METHODS, "toy_support_only",
                        Method("toy_support_only", "Toy", "beyond", "refined", "alm", "passive"))
    blobs = blob_objects(4, n=G.n, seed=1)
    x = torch.where(blobs > 0, 0.5 + 0.5 * blobs / blobs.flatten(1).amax(1)[:, None, None],
                    torch.zeros(()))
    y = forward(x, G.m).numpy()
    output = (x + HAZE).to(torch.complex64)
    indices = np.arange(10, 14)
    thresholds = [0.02, 0.3, 0.4]
    selection = support_selection.select(
        "toy_support_only", x.numpy(), y, indices, SPLIT, output, sigmas=[0.0],
        thresholds=thresholds, seed=7, geometry=G, device="cpu")

    curve = selection.curve
    assert list(curve.columns) == ["sigma", "threshold", "mean_mse", "median_mse", "images"]
    assert curve[["sigma", "threshold"]].values.tolist() == [[0.0, t] for t in thresholds]
    assert (curve["images"] == 4).all()
    modulus = pad(output, G.m).abs()
    peak = modulus.flatten(1).amax(1)[:, None, None]
    frame = pad(torch.ones(4, G.n, G.n, dtype=torch.bool), G.m)
    for row, threshold in zip(curve.itertuples(), thresholds):
        mask = modulus >= threshold * peak  # sigma = 0: the modulus itself
        assert torch.equal(mask, frame if threshold < HAZE / (1 + HAZE) else pad(x > 0, G.m))
        x_hat, _ = alm(torch.from_numpy(y), mask, None, geometry=G, **SPLIT,
                             seed=methods.image_seeds(7, "toy_support_only", indices))
        mse = symmetric_mse(x, x_hat, G).numpy()
        assert row.mean_mse == pytest.approx(mse.mean(), rel=1e-9, abs=1e-15)
        assert row.median_mse == pytest.approx(np.median(mse), rel=1e-9, abs=1e-15)
    assert curve["mean_mse"].iloc[0] > 0.05  # the frame: not recovered
    assert (curve["mean_mse"].iloc[1:] < 1e-6).all()  # the exact support: recovered
    assert curve["mean_mse"].iloc[1] == curve["mean_mse"].iloc[2]  # the same support
    assert selection.choice == {"sigma": 0.0, "threshold": 0.3}
    assert selection.method == "toy_support_only"


def test_only_a_method_with_a_network_and_a_solver_is_refined():
    y = forward(blob_objects(1, n=G.n), G.m).numpy()
    with pytest.raises(ValueError, match="no network output and solver"):
        methods.refine("hio", y, np.arange(1), {}, torch.zeros(1, G.n, G.n),
                       {"sigma": 1.0, "threshold": 0.3}, seed=0, geometry=G, device="cpu")


ALM = {"n_starts": 1, "iters": 10, "rho": 0.01}
SELECTION = {"images": 3, "sigma": [0.5, 1.0], "threshold": [0.1, 0.3]}


@pytest.fixture(scope="module")
def selected(tmp_path_factory):
    """A synthesized train split of 20 images (validation: the last 5), a random U-Net as
    the passive network, and the stage's selection of its support; the paths."""
    folder = tmp_path_factory.mktemp("selection")
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (40, 28, 28)).astype(np.uint8)
    for split, size in (("train", 20), ("test", 4)):
        synth.synthesize(images, np.zeros(40, np.int64), size, seed=1, split=split,
                         geometry=G).save(folder / f"{split}.npz")
    torch.manual_seed(0)
    model = UNet(widths=(4, 8), out_size=G.n).eval()
    save_torch({"model": model.state_dict(), "model_config": model.config,
                "model_class": "UNet"}, folder / "best.pt")
    stages.select_support(model="passive", train_set=folder / "train.npz",
                          network=folder / "best.pt", output=folder / "passive.json",
                          curve=folder / "passive_curve.csv", settings=ALM,
                          selection=SELECTION, validation_fraction=0.25, seed=3, device="cpu",
                          repository=folder)
    return folder


def test_stage_scores_the_first_validation_images_with_the_refined_method(selected):
    data = synth.load(selected / "train.npz")
    indices = np.arange(15, 18)  # the validation part is images 15..19; the first 3 of it
    record = support_selection.load_selection(selected / "passive.json", model="passive")
    curve = support_selection.load_curve(selected / "passive_curve.csv", record=record)
    assert curve[["sigma", "threshold"]].values.tolist() == [[0.5, 0.1], [0.5, 0.3],
                                                             [1.0, 0.1], [1.0, 0.3]]
    for row in curve.itertuples():
        result = methods.reconstruct(
            "passive_refined", data.y[indices], indices, ALM, seed=3, geometry=G, device="cpu",
            network=selected / "best.pt", support={"sigma": row.sigma, "threshold": row.threshold})
        mse = symmetric_mse(torch.from_numpy(data.x[indices]), torch.from_numpy(result.x_hat),
                            G).numpy()
        assert row.mean_mse == pytest.approx(mse.mean(), rel=1e-6)
        assert row.median_mse == pytest.approx(np.median(mse), rel=1e-6)
        assert row.images == 3
    record = json.loads((selected / "passive.json").read_text())
    best = curve.iloc[int(np.argmin(curve["mean_mse"].to_numpy()))]
    assert record["choice"] == {"sigma": best.sigma, "threshold": best.threshold}
    assert record["model"] == "passive" and record["method"] == "passive_refined"
    assert record["grid"] == {"sigma": [0.5, 1.0], "threshold": [0.1, 0.3]}
    assert record["validation_images"] == 3 and "lowest mean" in record["criterion"]
    assert record["provenance"]["config"]["params"] == ALM
    assert record["provenance"]["seed"] == 3 and record["provenance"]["device"] == "cpu"
    assert support_selection.load_selection(selected / "passive.json",
                                            model="passive")["choice"] == record["choice"]


def test_reconstruction_uses_and_records_the_selected_support(selected, tmp_path):
    choice = json.loads((selected / "passive.json").read_text())["choice"]
    output = tmp_path / "shard0.npz"
    stages.reconstruct_shard(method="passive_support_only", test=selected / "test.npz",
                             output=output, shard=0, shards=1, settings=ALM, seed=3,
                             device="cpu", repository=tmp_path, network=selected / "best.pt",
                             support=selected / "passive.json")
    with np.load(output) as shard:
        recorded = json.loads(str(shard["provenance"]))["config"]
        x_hat = shard["x_hat"]
    assert recorded["support"] == choice
    test = synth.load(selected / "test.npz")
    expected = methods.reconstruct("passive_support_only", test.y, np.arange(4), ALM, seed=3,
                                   geometry=G, device="cpu", network=selected / "best.pt",
                                   support=choice)
    np.testing.assert_array_equal(x_hat, expected.x_hat)


def test_selection_table_marks_the_chosen_point(selected, tmp_path):
    stages.support_table(selections={"passive": selected / "passive.json"},
                         curves={"passive": selected / "passive_curve.csv"},
                         markdown=tmp_path / "support_selection.md")
    text = (tmp_path / "support_selection.md").read_text()
    choice = json.loads((selected / "passive.json").read_text())["choice"]
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == 5 and "Passive Refined" in text and "3 validation images" in text
    marked = [row.split("|")[1:3] for row in rows if "✓" in row]
    assert [[float(cell) for cell in cells] for cells in marked] == [
        [choice["sigma"], choice["threshold"]]]


def test_more_images_than_the_validation_part_is_refused(selected, tmp_path):
    with pytest.raises(ValueError, match="support_selection.images = 6 exceeds the 5"):
        stages.select_support(model="passive", train_set=selected / "train.npz",
                              network=selected / "best.pt", output=tmp_path / "s.json",
                              curve=tmp_path / "c.csv", settings=ALM,
                              selection={**SELECTION, "images": 6}, validation_fraction=0.25,
                              seed=3, device="cpu", repository=tmp_path)


@pytest.mark.parametrize("change, problem", [
    (lambda text: text[: len(text) // 2], "JSONDecodeError"),
    (lambda text: text.replace('"passive"', '"naive"'), "expected model 'passive'"),
    (lambda text: json.dumps({**json.loads(text), "choice": {"sigma": 1.0, "threshold": 1.5}}),
     "threshold in \\(0, 1\\)"),
    (lambda text: json.dumps({**json.loads(text), "choice": {"sigma": "1"}}),
     "not numbers 'sigma' and 'threshold'"),
])
def test_a_corrupt_or_mismatched_selection_file_is_named(selected, tmp_path, change, problem):
    path = tmp_path / "passive.json"
    path.write_text(change((selected / "passive.json").read_text()))
    with pytest.raises(CorruptFileError, match=f"passive.json is unusable.*{problem}.*"
                                               f"select_support.*--forcerun {path}"):
        support_selection.load_selection(path, model="passive")
