"""Geometry as data: validation, the frame mask, and its use by solvers and metrics."""

import numpy as np
import pytest
import torch

from prbench.geometry import Geometry
from prbench.metrics import symmetric_mse
from prbench.physics import forward
from prbench.solvers import SOLVERS, alm_lbfgs, hio
from synthetic_objects import blob_objects


@pytest.mark.parametrize("n, m, message", [
    (36, 60, r"m = 60 must be >= 2n - 1 = 71"),
    (36, 70, r"m = 70 must be >= 2n - 1 = 71"),
    (0, 72, "n must be >= 1"),
    (-3, 72, "n must be >= 1"),
    (36, 72.5, r"m must be an integer, got 72\.5$"),
    (36.0, 72, r"n must be an integer, got 36\.0$"),
    (36, 72.0, r"m must be an integer, got 72\.0$"),
    (True, 72, "n must be an integer, got True$"),
    (36, np.True_, "m must be an integer, got np.True_$"),
    ("36", 72, "n must be an integer, got '36'$"),
    (36, np.float64(72), r"m must be an integer, got np.float64\(72\.0\)$"),
])
def test_invalid_geometries_raise(n, m, message):
    with pytest.raises(ValueError, match=message) as raised:
        Geometry(n, m)
    assert f"n = {n!r}, m = {m!r}" in str(raised.value)


@pytest.mark.parametrize("n, m", [(np.int64(36), np.int64(72)), (np.int32(36), 72),
                                  (36, np.uint8(72))])
def test_numpy_integer_sizes_are_plain_ints(n, m):
    geometry = Geometry(n, m)
    assert geometry == Geometry(36, 72) and hash(geometry) == hash(Geometry(36, 72))
    assert type(geometry.n) is int and type(geometry.m) is int
    assert torch.equal(geometry.frame_mask(), Geometry(36, 72).frame_mask())


def test_valid_geometries_and_config():
    assert Geometry(36, 71).m == 71 and Geometry(1, 1).n == 1
    geometry = Geometry.from_config({"synthesis": {"n": 30, "m": 60, "test_size": 5}})
    assert geometry == Geometry(n=30, m=60)
    with pytest.raises(ValueError, match="2n - 1"):
        Geometry.from_config({"synthesis": {"n": 36, "m": 60}})
    with pytest.raises(AttributeError):
        geometry.n = 36  # frozen


@pytest.mark.parametrize("n, m", [(1, 1), (4, 9), (30, 60), (36, 72)])
def test_frame_mask_is_the_top_left_n_by_n_square(n, m):
    mask = Geometry(n, m).frame_mask()
    assert mask.shape == (m, m) and mask.dtype == torch.bool
    assert int(mask.sum()) == n * n
    assert mask[:n, :n].all()
    assert not mask[n:].any() and not mask[:, n:].any()


def test_shape_checks_name_the_array_and_the_expected_side():
    geometry = Geometry(30, 60)
    geometry.check_measurements(torch.zeros(2, 60, 60))
    geometry.check_measurements(np.zeros((60, 60)))
    geometry.check_objects(torch.zeros(2, 30, 30))
    with pytest.raises(ValueError, match=r"Y has shape \(2, 72, 72\).*\(60, 60\)"):
        geometry.check_measurements(torch.zeros(2, 72, 72))
    with pytest.raises(ValueError, match=r"y .*\(60, 60\)"):
        geometry.check_measurements(np.zeros((2, 60, 59)), "y")
    with pytest.raises(ValueError, match=r"x has shape \(2, 36, 36\).*\(30, 30\)"):
        geometry.check_objects(torch.zeros(2, 36, 36))
    with pytest.raises(ValueError, match=r"\(30, 30\)"):
        geometry.check_objects(torch.zeros(30))


@pytest.fixture(scope="module")
def small():
    """Geometry(30, 60) and measurements of 2 blob objects in its 30 x 30 frame."""
    geometry = Geometry(30, 60)
    x = blob_objects(2, seed=2, n=geometry.n)
    return geometry, x, forward(x, geometry.m)


def test_hio_keeps_the_geometry_frame(small):
    """HIO's default support is the geometry's frame, not a 36 x 36 one."""
    geometry, _, Y = small
    X, info = hio(Y, seed=0, geometry=geometry, iters=30, n_starts=2, er_iters=5)
    assert X.shape == (2, 60, 60)
    outside = ~geometry.frame_mask()
    assert X[:, outside].abs().max() == 0
    assert X[:, :30, :30].abs().max() > 0
    assert torch.equal(info.support, geometry.frame_mask().expand(2, 60, 60))


@pytest.mark.parametrize("name", ["hio", "raar", "alm", "hio_sw", "raar_sw"])
def test_solvers_reject_measurements_of_another_grid(small, name):
    geometry, _, Y = small
    with pytest.raises(ValueError, match=r"Y has shape \(2, 60, 60\).*\(72, 72\)"):
        SOLVERS[name](Y, geometry=Geometry(36, 72))


def test_empty_batches_raise_a_clear_error(small):
    geometry, x, _ = small
    empty = x[:0]
    with pytest.raises(ValueError, match=r"x is an empty batch \(B = 0\)"):
        forward(empty, geometry.m)
    with pytest.raises(ValueError, match=r"truth is an empty batch \(B = 0\)"):
        symmetric_mse(empty, empty, geometry)


def test_metrics_check_the_truth_against_the_geometry(small):
    geometry, x, _ = small
    assert symmetric_mse(x, x, geometry).max() < 1e-12
    with pytest.raises(ValueError, match=r"truth has shape \(2, 30, 30\).*\(36, 36\)"):
        symmetric_mse(x, x, Geometry(36, 72))
    with pytest.raises(ValueError, match="larger than the grid"):
        symmetric_mse(x, torch.zeros(2, 61, 61), geometry)


@pytest.mark.parametrize("value", [-1, -1e-9, float("nan"), "0.1", None])
def test_alm_rejects_a_bad_tol_naming_it(small, value):
    geometry, _, Y = small
    with pytest.raises(ValueError, match=r"^tol must be a number >= 0, got"):
        alm_lbfgs(Y, geometry=geometry, tol=value)
