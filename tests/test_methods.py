"""The method registry and its executor: seeding, sharding, network-based methods and the
checks on what each method needs."""

import copy

import numpy as np
import pytest
import torch
import yaml

from prbench import config as config_module
from prbench import methods
from prbench.data import synth
from prbench.geometry import Geometry
from prbench.io import save_torch
from prbench.nets import UNet, normalize_measurements, to_complex
from prbench.physics import forward, pad, poisson_noise
from prbench.registry import METHODS, Method
from prbench.solvers import SOLVERS, alm_lbfgs, alm
from prbench.solvers import support as support_module
from synthetic_objects import blob_objects
from workflow_helpers import ROOT

G = Geometry(n=36, m=72)
HIO = {"iters": 15, "n_starts": 2, "er_iters": 3}
SUPPORT = {"sigma": 1.0, "threshold": 0.3}


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


@pytest.mark.parametrize("method, solver, params, group", [
    ("alm", alm, {"n_starts": 2, "iters": 15, "rho": 0.01}, "paper"),
    ("alm_lbfgs", alm_lbfgs, {"n_starts": 2, "outer_iters": 2, "inner_iters": 5}, "beyond")])
def test_alm_rows_run_their_solver_from_random_starts(method, solver, params, group):
    """The paper's "ALM" row is the Fourier-splitting ALM, "alm_lbfgs" the L-BFGS one: each
    runs its solver with the frame support and the per-image seeds."""
    y = measurements(2)
    result = methods.reconstruct(method, y, np.arange(2), params, seed=3, geometry=G,
                                 device="cpu")
    direct, info = solver(torch.from_numpy(y), seed=methods.image_seeds(3, method,
                                                                        np.arange(2)),
                          geometry=G, **params)
    np.testing.assert_array_equal(result.x_hat, direct.numpy())
    np.testing.assert_array_equal(result.iterations, info.iterations.numpy())
    assert METHODS[method].group == group and METHODS[method].needs() == {}


@pytest.fixture
def network(tmp_path):
    """A randomly initialised U-Net saved as a trained network's best.pt; (path, model)."""
    torch.manual_seed(0)
    model = UNet(widths=(4, 8), out_size=G.n).eval()
    path = tmp_path / "best.pt"
    save_torch({"model": model.state_dict(), "model_config": model.config,
                "model_class": "UNet"}, path)
    return path, model


def test_network_output_method_returns_the_network_output(network):
    path, model = network
    y = measurements(3)
    result = methods.reconstruct("passive_dnn", y, np.arange(3), {}, seed=0, geometry=G,
                                 device="cpu", network=path)
    with torch.no_grad():
        expected = to_complex(model(normalize_measurements(torch.from_numpy(y)))).numpy()
    assert result.x_hat.shape == (3, G.n, G.n)
    np.testing.assert_allclose(result.x_hat, expected, rtol=1e-5, atol=1e-6)
    # residual: || |F pad x| - sqrt Y ||^2 / ||sqrt Y||^2, by hand
    magnitude = np.abs(np.fft.fft2(np.pad(expected, ((0, 0), (0, G.m - G.n), (0, G.m - G.n)))))
    target = np.sqrt(y)
    by_hand = ((magnitude - target) ** 2).sum((1, 2)) / (target ** 2).sum((1, 2))
    np.testing.assert_allclose(result.residual, by_hand, rtol=1e-4)


def test_refined_method_starts_alm_from_the_output_inside_its_support(network):
    path, model = network
    y = measurements(2)
    params = {"n_starts": 1, "iters": 15, "rho": 0.01}
    result = methods.reconstruct("passive_refined", y, np.arange(2), params, seed=0,
                                 geometry=G, device="cpu", network=path,
                                 support={"sigma": 1.0, "threshold": 0.3})
    with torch.no_grad():
        output = to_complex(model(normalize_measurements(torch.from_numpy(y))))
    estimate = pad(output, G.m)
    support = support_module.from_estimate(estimate, sigma=1.0, threshold=0.3)
    direct, _ = alm(torch.from_numpy(y), support, estimate, seed=0, geometry=G,
                          **params)
    np.testing.assert_allclose(result.x_hat, direct.numpy(), rtol=1e-4, atol=1e-5)
    assert not np.abs(result.x_hat[:, ~support.numpy().any(0)]).any()


def test_network_started_shrinkwrap_starts_from_the_output_and_its_support(network):
    path, model = network
    y = measurements(2)
    params = {"iters": 12, "beta": 0.9, "n_starts": 2, "er_iters": 3, "threshold": 0.15,
              "update_every": 4}
    result = methods.reconstruct("passive_sw", y, np.arange(2), params, seed=0, geometry=G,
                                 device="cpu", network=path, support=SUPPORT)
    with torch.no_grad():
        output = to_complex(model(normalize_measurements(torch.from_numpy(y))))
    estimate = pad(output, G.m)
    support = support_module.from_estimate(estimate, **SUPPORT)
    seeds = methods.image_seeds(0, "passive_sw", np.arange(2))
    direct, info = SOLVERS["hio_sw"](torch.from_numpy(y), support, estimate, seed=seeds,
                                     geometry=G, **params)
    np.testing.assert_allclose(result.x_hat, direct.numpy(), rtol=1e-4, atol=1e-5)
    # The first start is the output itself: with no iteration its start's estimate is P_S of it.
    _, still = SOLVERS["hio_sw"](torch.from_numpy(y), support, estimate, seed=seeds,
                                 geometry=G, **{**params, "iters": 0, "er_iters": 0})
    by_hand = torch.where(support, estimate, 0).to(torch.complex64)
    residual = torch.tensor([((np.abs(np.fft.fft2(b.numpy())) - np.sqrt(target)) ** 2).sum()
                             / target.sum() for b, target in zip(by_hand, y)])
    torch.testing.assert_close(still.start_residuals[:, 0], residual.float(), rtol=1e-4,
                               atol=1e-7)


def test_mean_object_calibration_predicts_the_mean_training_object(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (20, 28, 28)).astype(np.uint8)
    train = synth.synthesize(images, np.zeros(20, np.int64), 20, seed=1, split="train",
                             geometry=G)
    train.save(tmp_path / "train.npz")
    y = measurements(3)
    result = methods.reconstruct("mean_object", y, np.arange(3), {}, seed=0, geometry=G,
                                 device="cpu", training_set=tmp_path / "train.npz")
    mean = train.x.astype(np.complex128).mean(axis=0)
    assert result.x_hat.shape == (3, G.n, G.n)
    for image in result.x_hat:
        np.testing.assert_allclose(image, mean, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="training split"):
        methods.reconstruct("mean_object", y, np.arange(3), {}, seed=0, geometry=G,
                            device="cpu")


def test_registry_is_torch_free_data_and_checks_its_entries():
    assert set(METHODS) >= {"hio", "alm", "passive_refined", "prdeep"}
    assert METHODS["passive_refined"].needs() == {"network": "models/passive/best.pt",
                                                  "support": "support/passive.json"}
    assert METHODS["naive_support_only"].needs() == {"network": "models/naive/best.pt",
                                                     "support": "support/naive.json"}
    assert METHODS["passive_dnn"].needs() == {"network": "models/passive/best.pt"}
    assert METHODS["prdeep"].needs() == {"denoiser": "models/denoiser/best.pt"}
    assert METHODS["hio"].needs() == {}
    assert METHODS["mean_object"].needs() == {"training_set": "data/train.npz"}
    with pytest.raises(ValueError, match="group"):
        Method("x", "X", "nowhere", "iterative", "hio")
    with pytest.raises(ValueError, match="kind"):
        Method("x", "X", "beyond", "solver", "hio")
    with pytest.raises(ValueError, match="needs a model"):
        Method("x", "X", "beyond", "network")
    with pytest.raises(ValueError, match="needs a solver"):
        Method("x", "X", "beyond", "refined", model="naive")
    with pytest.raises(ValueError, match="takes no model"):
        Method("x", "X", "beyond", "iterative", "hio", "naive")
    with pytest.raises(ValueError, match="takes no solver"):
        Method("x", "X", "calibration", "calibration", "hio")
    with pytest.raises(ValueError, match="start"):
        Method("x", "X", "beyond", "iterative", "hio", start="output")


def test_every_registered_solver_exists():
    """The registry is data: each method's solver key must name a function of prbench.solvers."""
    assert {method.solver for method in METHODS.values()} - {None} <= set(SOLVERS)


@pytest.mark.parametrize(
    "method, params, extra, message",
    [
        ("passive_refined", {}, {"support": SUPPORT}, "network's weights"),
        ("hio", HIO, {"network": "best.pt"}, "no network"),
        ("prdeep", {}, {}, "denoiser"),
        ("hio", HIO, {"support": SUPPORT}, "support parameters .* are not accepted"),
        ("passive_refined", {"n_starts": 1}, {"network": "best.pt"},
         "support parameters .* are required"),
        ("passive_refined", {"support": SUPPORT}, {"network": "best.pt", "support": SUPPORT},
         r"\['support'\] may not be set"),
        ("passive_dnn", {"iters": 3}, {"network": "best.pt"}, "takes no parameters"),
        ("hio", {**HIO, "bogus": 1}, {}, r"unknown parameter\(s\) \['bogus'\]; its solver "
                                        "'hio' takes .*'beta'"),
        ("passive_dnn", {}, {"network": "best.pt", "support_mask": np.ones((72, 72), bool)},
         "a support mask is for methods that need nothing trained"),
        ("magic", {}, {}, "unknown method"),
        ("hio", {**HIO, "frame": 30}, {}, "frame"),
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


TRAINING_FREE = sorted(name for name, spec in METHODS.items() if spec.kind == "iterative")


@pytest.mark.parametrize("method", TRAINING_FREE)
def test_training_free_methods_take_photon_limited_data_with_zeros(method):
    """At 300 expected photons most of the 72 x 72 counts are 0: every training-free
    method still returns finite, nonzero iterates (no division by a zero intensity, no
    support guard that assumes exact data)."""
    tiny = yaml.safe_load((ROOT / "config" / "test.yaml").read_text())
    clean = torch.from_numpy(measurements(3))
    y = poisson_noise(clean, 300.0, generator=torch.Generator().manual_seed(0)).numpy()
    assert (y == 0).mean() > 0.9
    params = tiny["reconstruction"]["methods"][method]
    result = methods.reconstruct(method, y, np.arange(3), params, seed=0, geometry=G,
                                 device="cpu")
    assert np.isfinite(result.x_hat).all()
    assert (np.abs(result.x_hat).reshape(3, -1).max(axis=1) > 0).all()
