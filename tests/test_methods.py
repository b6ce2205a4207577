"""The method registry: seeding, sharding and the checks on what each method needs."""

import copy

import numpy as np
import pytest
import torch
import yaml

from prbench import config as config_module
from prbench import methods
from prbench.geometry import Geometry
from prbench.physics import forward
from synthetic_objects import blob_objects
from test_workflow import ROOT

G = Geometry(n=36, m=72)
HIO = {"iters": 15, "n_starts": 2, "er_iters": 3}


def measurements(count=4):
    x = blob_objects(count, seed=3, n=G.n)
    return forward(x, G.m).numpy()


def test_shards_partition_the_test_set():
    parts = [methods.shard_indices(10, 3, shard) for shard in range(3)]
    np.testing.assert_array_equal(np.concatenate(parts), np.arange(10))
    assert [len(part) for part in parts] == [4, 3, 3]
    with pytest.raises(ValueError, match="outside"):
        methods.shard_indices(10, 3, 3)
    with pytest.raises(ValueError, match="empty"):
        methods.shard_indices(2, 3, 0)


def test_image_seeds_depend_on_image_and_method_only():
    whole = methods.image_seeds(0, "hio", np.arange(6))
    assert methods.image_seeds(0, "hio", np.arange(3, 6)) == whole[3:]
    assert len(set(whole)) == 6
    assert methods.image_seeds(0, "alm", np.arange(6)) != whole
    assert methods.image_seeds(1, "hio", np.arange(6)) != whole


def test_reconstruction_does_not_depend_on_the_sharding():
    y = measurements(4)
    whole = methods.reconstruct("hio", y, np.arange(4), HIO, seed=5, geometry=G, device="cpu")
    halves = [methods.reconstruct("hio", y[part], part, HIO, seed=5, geometry=G, device="cpu")
              for part in (np.arange(2), np.arange(2, 4))]
    np.testing.assert_array_equal(np.concatenate([h.x_hat for h in halves]), whole.x_hat)
    assert whole.x_hat.shape == (4, G.m, G.m) and whole.device == "cpu"


def test_reference_row_enforces_its_prior_and_refuses_to_override_it():
    y = measurements(2)
    result = methods.reconstruct("hio_realpos", y, np.arange(2), HIO, seed=0, geometry=G,
                                 device="cpu")
    assert np.abs(result.x_hat.imag).max() == 0 and result.x_hat.real.min() >= 0
    with pytest.raises(ValueError, match="fixes"):
        methods.reconstruct("hio_realpos", y, np.arange(2), {**HIO, "real_nonnegative": False},
                            seed=0, geometry=G, device="cpu")


def test_network_based_methods_use_the_output_and_its_support():
    x = blob_objects(2, seed=4, n=G.n)
    y = forward(x, G.m).numpy()
    params = {"support": {"sigma": 0.0, "threshold": 1e-6, "max_fraction": 0.9},
              "n_starts": 1, "outer_iters": 2, "inner_iters": 5}
    # Starting from the truth with its own support, ALM stays at the truth.
    result = methods.reconstruct("passive_refined", y, np.arange(2), params, seed=0,
                                 geometry=G, device="cpu", network_output=x.numpy())
    error = np.abs(result.x_hat[:, :G.n, :G.n] - x.numpy()).max()
    assert error < 1e-3 * np.abs(x.numpy()).max()


@pytest.mark.parametrize(
    "method, params, extra, message",
    [
        ("passive_refined", {"support": {}}, {}, "network's output"),
        ("hio", HIO, {"network_output": np.zeros((2, G.n, G.n), np.complex64)}, "no network"),
        ("prdeep", {}, {}, "denoiser"),
        ("hio", {**HIO, "support": {}}, {}, "not accepted"),
        ("passive_dnn", {}, {"network_output": np.zeros((2, G.n, G.n), np.complex64)},
         "nothing to solve"),
        ("magic", {}, {}, "unknown method"),
        ("hio", {**HIO, "frame": 30}, {}, "frame"),
        ("passive_refined", {"support": {}},
         {"network_output": np.zeros((2, 30, 30), np.complex64)}, "network_output"),
    ],
)
def test_missing_or_superfluous_inputs_are_named(method, params, extra, message):
    with pytest.raises(ValueError, match=message):
        methods.reconstruct(method, measurements(2), np.arange(2), params, seed=0,
                            geometry=G, device="cpu", **extra)


def test_measurements_must_match_the_geometry():
    with pytest.raises(ValueError, match=r"y has shape \(2, 72, 72\)"):
        methods.reconstruct("hio", measurements(2), np.arange(2), HIO, seed=0,
                            geometry=Geometry(30, 60), device="cpu")


def test_config_cross_checks_name_the_key():
    base = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config_module.check(base)
    cases = [
        (("report", "paired_reference"), "prdeep_x", "report.paired_reference"),
        (("reconstruction", "methods", "passive_refined"), {"n_starts": 1},
         "reconstruction.methods.passive_refined.support"),
        (("reconstruction", "methods", "passive_dnn"), {"iters": 3},
         "reconstruction.methods.passive_dnn"),
    ]
    for path, value, message in cases:
        changed = copy.deepcopy(base)
        node = changed
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        with pytest.raises(config_module.ConfigError, match=message):
            config_module.check(changed)
    without_model = copy.deepcopy(base)
    del without_model["training"]["models"]["naive"]
    with pytest.raises(config_module.ConfigError, match="training.models.naive"):
        config_module.check(without_model)
