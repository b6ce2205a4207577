"""prbench.data.validation: the validation images of a run, as the workflow holds them out
(the last training.validation_fraction of data/train.npz), checked against hand-built
splits whose hold-out is known and against the workflow's own synthesis stage."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from prbench import stages
from prbench.data import fashion_mnist, synth
from prbench.data.validation import hold_out, scenario_of, training_split, validation_set
from prbench.geometry import Geometry

ROOT = Path(__file__).resolve().parents[1]
G = Geometry(n=8, m=16)
CHOOSERS = sorted((ROOT / "benchmarks").glob("choose_*.py"))


def numbered_split(count, photons=None, n=G.n, m=G.m):
    """A train split whose image i is the constant i (objects) and i + 0.5 (measurements)."""
    value = np.arange(count, dtype=np.float32)[:, None, None]
    meta = {"split": "train", "seed": 0, "n": n, "m": m, "object_kind": "real",
            "phase_smoothing_px": 4.0, "phase_std_rad": 1.0}
    if photons is not None:
        meta["photons"] = photons
    return synth.SynthesizedSet(
        x=np.broadcast_to(value, (count, n, n)).astype(np.complex64),
        y=np.broadcast_to(value + 0.5, (count, m, m)).astype(np.float32),
        offsets=np.zeros((count, 2), np.int64), flips=np.zeros(count, bool),
        labels=np.zeros(count, np.int64), base_index=np.arange(count), meta=meta)


def config_for(train_size, fraction=0.25, n=G.n, m=G.m, **synthesis):
    """A workflow config with scenarios `clean` and `noisy` (1000 photons per image)."""
    return {"seed": 0, "training": {"validation_fraction": fraction},
            "synthesis": {"n": n, "m": m, "train_size": train_size, "test_size": 4,
                          "object": "real", "phase_smoothing_px": 4.0, "phase_std_rad": 1.0,
                          "photons": None, **synthesis},
            "scenarios": {"clean": {}, "noisy": {"photons": 1000}}}


@pytest.mark.parametrize("fraction, count, expected", [
    (0.25, None, [15, 16, 17, 18, 19]),  # the last quarter of 20
    (0.25, 2, [15, 16]),                 # its first two
    (0.1, None, [18, 19]),               # the last tenth
    (0.01, None, [19]),                  # at least one
])
def test_the_hold_out_is_the_last_fraction(fraction, count, expected):
    held = hold_out(numbered_split(20), fraction, count)
    assert held.indices.tolist() == expected
    assert held.x[:, 0, 0].real.tolist() == expected  # image i holds the value i
    assert held.y[:, 0, 0].tolist() == [i + 0.5 for i in expected]
    assert held.training_size == expected[0] == 20 - held.held_out
    assert held.geometry == G and held.photons is None


def test_more_images_than_the_hold_out_are_refused():
    with pytest.raises(ValueError, match="6 validation images asked for.*has 5"):
        hold_out(numbered_split(20), 0.25, 6)


def test_the_scenario_is_named_by_the_run_folder_or_the_first():
    config = config_for(20)
    assert scenario_of(config) == "clean"
    assert scenario_of(config, run="results/x/noisy") == "noisy"
    assert scenario_of(config, run="results/x/other") == "clean"
    assert scenario_of(config, "noisy", run="results/x/clean") == "noisy"
    with pytest.raises(ValueError, match="unknown scenario"):
        scenario_of(config, "loud")


def test_a_run_s_noisy_split_is_read_not_synthesized(tmp_path):
    """No Fashion-MNIST source is given: the images can only come from the run's file."""
    run = tmp_path / "results" / "r" / "noisy"
    numbered_split(20, photons=1000.0).save(run / "data" / "train.npz")
    held = validation_set(config_for(20), count=3, run=run)
    assert held.indices.tolist() == [15, 16, 17]
    assert held.y[:, 0, 0].tolist() == [15.5, 16.5, 17.5]
    assert held.photons == 1000.0 and held.origin == str(run / "data" / "train.npz")
    # the same file is not the noiseless scenario's, nor a split of another size
    with pytest.raises(ValueError, match=r"photons 1000.0 \(the config: None\)"):
        validation_set(config_for(20), run=run, scenario="clean")
    with pytest.raises(ValueError, match=r"images 20 \(the config: 24\)"):
        validation_set(config_for(24), run=run)
    with pytest.raises(ValueError, match="no Fashion-MNIST source"):
        validation_set(config_for(20), run=tmp_path / "elsewhere" / "noisy")


@pytest.fixture
def fashion(tmp_path):
    """A small decoded Fashion-MNIST: 40 training and 10 test images of 28 x 28."""
    rng = np.random.default_rng(0)
    path = tmp_path / "fashion.npz"
    fashion_mnist.FashionMNIST(
        train_images=rng.integers(0, 256, (40, 28, 28), dtype=np.uint8),
        train_labels=rng.integers(0, 10, 40), test_images=rng.integers(0, 256, (10, 28, 28),
                                                                       dtype=np.uint8),
        test_labels=rng.integers(0, 10, 10), source="fabricated").save(path)
    return path


def test_without_the_run_s_file_the_workflow_s_synthesis_is_repeated(tmp_path, fashion):
    """The workflow's synthesis stage writes the noisy scenario's split; the helper's own
    synthesis (no file) gives the same noisy validation images, and the file gives them too."""
    config = config_for(20, n=30, m=60)
    run = tmp_path / "results" / "r" / "noisy"
    stages.synthesize_split(fashion=fashion, output=run / "data" / "train.npz", split="train",
                            size=20, seed=0, n=30, m=60, object_kind="real",
                            phase_smoothing_px=4.0, phase_std_rad=1.0, photons=1000,
                            repository=None)
    written = synth.load(run / "data" / "train.npz")
    synthesized = validation_set(config, run=tmp_path / "empty" / "noisy", fashion=fashion)
    read = validation_set(config, run=run)
    for held in (synthesized, read):
        assert held.indices.tolist() == [15, 16, 17, 18, 19]
        np.testing.assert_array_equal(held.x, written.x[15:])
        np.testing.assert_array_equal(held.y, written.y[15:])
        assert held.photons == 1000
    assert "synthesized" in synthesized.origin
    clean = validation_set(config, scenario="clean", fashion=fashion)
    np.testing.assert_array_equal(clean.x, written.x[15:])  # the same objects,
    assert not np.array_equal(clean.y, written.y[15:])  # measured without noise
    data, _ = training_split(config, scenario="clean", fashion=fashion)
    assert data.meta.get("photons") is None and len(data.x) == 20


def chooser(script, monkeypatch):
    """A benchmarks/choose_*.py script as a module (benchmarks/ on the path for its glue)."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location(f"chooser_{script.stem}", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("script", CHOOSERS, ids=lambda path: path.stem)
def test_every_chooser_names_its_run_and_scenario(script, monkeypatch, capsys):
    """Each chooser imports, and its options name the run and scenario its validation
    images come from (its --help, which stops before any work)."""
    module = chooser(script, monkeypatch)
    monkeypatch.setattr(sys, "argv", [script.name, "--help"])
    with pytest.raises(SystemExit) as stopped:
        module.main()
    assert stopped.value.code == 0
    options = capsys.readouterr().out
    assert "--run" in options and "--scenario" in options and "--config" in options


def test_a_chooser_s_options_give_the_run_s_validation_images(tmp_path, monkeypatch):
    """The choosers' glue (benchmarks/common.py) hands --run, --scenario and --count to the
    library: the images are the run's file's hold-out."""
    run = tmp_path / "results" / "r" / "noisy"
    numbered_split(20, photons=1000.0).save(run / "data" / "train.npz")
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(config_for(20)))
    module = chooser(ROOT / "benchmarks" / "choose_dm_beta.py", monkeypatch)
    import common

    args = common.chooser_parser("test", count=30).parse_args(
        ["--config", str(config), "--run", str(run), "--count", "2"])
    held = common.validation_images(args, yaml.safe_load(config.read_text()))
    assert held.indices.tolist() == [15, 16] and held.photons == 1000.0
    assert common.describe(held, config).startswith(
        f"Validation images 15-16 (2 images) of {run / 'data' / 'train.npz'}, config "
        "config.yaml")
    assert module.setup is common.setup
