"""Losses (paper Eqs. 2.1-2.2) and the U-Net initialisers' training through the one loop."""

import copy
import csv
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from snakemake.utils import validate

from prbench import stages
from prbench.data import synth
from prbench.data.synth import random_placement
from prbench.devices import select_device
from prbench.geometry import Geometry
from prbench.metrics import symmetric_mse
from prbench.nets import UNet, load_network, normalize_measurements, to_complex
from prbench.physics import conjugate_flip, forward, pad
from prbench.train import predict, train
from prbench.train.initialiser import HISTORY_COLUMNS, LR_SCHEDULES, output_frame
from prbench.train.loop import OneCycle
from prbench.train.losses import jacobian_frobenius_sq, naive_loss, objective, passive_loss

ROOT = Path(__file__).resolve().parents[1]


def _complex(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.complex(torch.randn(*shape, generator=g), torch.randn(*shape, generator=g))


# ---------------------------------------------------------------- passive / naive loss

def test_passive_loss_hand_computed():
    # m = 2: F [[1, 1], [0, 0]] = [[2, 0], [2, 0]];  F [[1, i], [0, 0]] has |.| = sqrt 2.
    y = torch.tensor([[[4.0, 1.0], [1.0, 0.0]]])  # sqrt Y = [[2, 1], [1, 0]], ||.||^2 = 6
    real = torch.tensor([[[1.0 + 0j, 1.0]]], dtype=torch.complex64)  # (1, 1, 2)
    assert passive_loss(y, real).item() == pytest.approx(2 / 6, rel=1e-6)
    mixed = torch.tensor([[[1.0 + 0j, 1j]]], dtype=torch.complex64)
    expected = ((math.sqrt(2) - 2) ** 2 + 2 * (math.sqrt(2) - 1) ** 2 + 2) / 6
    assert passive_loss(y, mixed).item() == pytest.approx(expected, rel=1e-6)
    both = passive_loss(y.expand(2, 2, 2), torch.cat([real, mixed]))
    assert both.item() == pytest.approx((2 / 6 + expected) / 2, rel=1e-6)


@pytest.mark.parametrize("h, m", [(4, 9), (6, 12), (7, 7)])  # (7, 7): the whole grid
def test_passive_loss_matches_a_matrix_dft(h, m):
    # Eq. (2.1) in float64 numpy with the DFT as a matrix, W[j, k] = exp(-2 pi i jk / m):
    # F pad(x) = W pad(x) W (W is symmetric); per-image ratios, then the batch mean.
    x = _complex(3, h, h, seed=h)
    y = forward(_complex(3, h, h, seed=h + 1), m)
    w = np.exp(-2j * np.pi * np.outer(np.arange(m), np.arange(m)) / m)
    padded = np.zeros((3, m, m), complex)
    padded[:, :h, :h] = x.numpy()
    spectrum = np.abs(w @ padded @ w)
    target = y.double().numpy()
    amplitude = (((spectrum - np.sqrt(target)) ** 2).sum(axis=(1, 2))
                 / target.sum(axis=(1, 2))).mean()
    intensity = (((spectrum ** 2 - target) ** 2).sum(axis=(1, 2))
                 / (target ** 2).sum(axis=(1, 2))).mean()
    assert passive_loss(y, x).item() == pytest.approx(amplitude, rel=1e-5)
    assert passive_loss(y, x, "amplitude").item() == pytest.approx(amplitude, rel=1e-5)
    assert passive_loss(y, x, "intensity").item() == pytest.approx(intensity, rel=1e-5)
    with pytest.raises(ValueError, match="fourier_loss"):
        passive_loss(y, x, "log")


def test_passive_loss_zero_at_truth_and_for_symmetric_copies():
    x = _complex(3, 36, 36)
    y = forward(x, 72)
    assert passive_loss(y, x).item() < 1e-10
    for copy in (x * torch.exp(torch.tensor(1.1j)), conjugate_flip(x)):
        assert passive_loss(y, copy.to(torch.complex64)).item() < 1e-10


@pytest.mark.parametrize("fourier_loss", ["amplitude", "intensity"])
def test_passive_loss_invariances(fourier_loss):
    y = forward(_complex(2, 36, 36, seed=1), 72)
    x = torch.zeros(2, 36, 36, dtype=torch.complex64)
    x[:, :20, :25] = _complex(2, 20, 25, seed=2)  # support leaves room to shift in the frame
    reference = passive_loss(y, x, fourier_loss).item()
    assert reference > 0.1
    grid = _complex(2, 72, 72, seed=3)  # an output on the whole grid ("grid" domain)
    grid_reference = passive_loss(y, grid, fourier_loss).item()
    variants = {
        "global phase": (x * torch.exp(torch.tensor(-2.3j)), reference),
        "conjugate flip": (conjugate_flip(x), reference),
        "shift inside the 36 frame": (torch.roll(x, shifts=(9, 11), dims=(-2, -1)), reference),
        # a circular shift of the padded object, wrapping around the 72 grid
        "circular shift in the 72 grid": (torch.roll(pad(x, 72), shifts=(60, 41),
                                                     dims=(-2, -1)), reference),
        "grid output, global phase": (grid * torch.exp(torch.tensor(0.7j)), grid_reference),
        "grid output, circular shift": (torch.roll(grid, shifts=(5, 70), dims=(-2, -1)),
                                        grid_reference),
        "grid output, conjugate flip": (conjugate_flip(grid), grid_reference),
    }
    for name, (variant, expected) in variants.items():
        assert passive_loss(y, variant.to(torch.complex64), fourier_loss).item() == \
            pytest.approx(expected, rel=1e-5), name
    # ... but the naive loss is not invariant (the paper's point, Sec. 2.1).
    assert naive_loss(x, conjugate_flip(x)).item() > 0.5


@pytest.mark.parametrize("fourier_loss", ["amplitude", "intensity"])
def test_passive_loss_float32_under_autocast(fourier_loss):
    y, x = forward(_complex(2, 36, 36, seed=3), 72), _complex(2, 36, 36, seed=4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inside = passive_loss(y, x, fourier_loss)
    assert inside.dtype == torch.float32 and torch.equal(inside, passive_loss(y, x, fourier_loss))


def test_naive_loss_hand_computed():
    truth = torch.ones(2, 2, 2, dtype=torch.complex64)
    pred = truth.clone()
    pred[0] = 0  # relative error 1
    pred[1, 0, 0] = 1 + 2j  # |2j|^2 / 4 = 1
    assert naive_loss(truth, pred).item() == pytest.approx(1.0)
    pred[1, 0, 0] = 2  # 1 / 4
    assert naive_loss(truth, pred).item() == pytest.approx((1 + 0.25) / 2)
    assert naive_loss(truth, truth).item() == 0


# ---------------------------------------------------------------- Jacobian estimate

def _exact_frobenius_sq(model_fn, inputs):
    """mean_b ||d model_fn(x_b) / d x_b||_F^2 from the full Jacobian, sample by sample."""
    per_sample = [torch.autograd.functional.jacobian(lambda v: model_fn(v[None])[0], x_b)
                  for x_b in inputs]
    return torch.stack([j.square().sum() for j in per_sample]).mean().item()


def test_jacobian_estimate_is_unbiased_mlp():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 4))
    inputs = torch.randn(3, 6)
    exact = _exact_frobenius_sq(model, inputs)
    estimate = jacobian_frobenius_sq(model, inputs, n_projections=2000).item()
    assert estimate == pytest.approx(exact, rel=0.04)
    # A single projection is one noisy draw of the full estimate (not, e.g., half of it).
    draws = torch.tensor([jacobian_frobenius_sq(model, inputs).item() for _ in range(300)])
    assert draws.std() > 0.05 * exact and draws.mean().item() == pytest.approx(exact, rel=0.1)


def test_jacobian_estimate_is_unbiased_conv_net():
    # Tiny U-Net (2 x 4 x 4 outputs from 8 x 8 inputs, GroupNorm in train mode). The
    # batch holds 700 copies of 3 inputs: samples must not interact, so the batch mean
    # averages 2100 x 2 independent projections per input.
    torch.manual_seed(0)
    model = UNet(widths=(4, 8), out_size=4)
    inputs = torch.randn(3, 1, 8, 8)
    exact = _exact_frobenius_sq(model, inputs)
    estimate = jacobian_frobenius_sq(model, inputs.repeat(700, 1, 1, 1), n_projections=2)
    assert estimate.item() == pytest.approx(exact, rel=0.03)


def test_jacobian_estimate_gradient_linear_model():
    # g(x) = W x: ||J||_F^2 = ||W||_F^2, d/dW = 2 W, for every input (50000 draws).
    torch.manual_seed(1)
    layer = torch.nn.Linear(5, 3, bias=False)
    estimate = jacobian_frobenius_sq(layer, torch.randn(25000, 5), n_projections=2)
    estimate.backward()
    weight = layer.weight.detach()
    assert estimate.item() == pytest.approx(weight.square().sum().item(), rel=0.02)
    torch.testing.assert_close(layer.weight.grad, 2 * weight, rtol=0,
                               atol=0.06 * weight.abs().max())


def test_objective_terms_and_skipped_jacobian():
    torch.manual_seed(2)
    model = UNet(widths=(4, 8), out_size=14)
    x = _complex(2, 14, 14, seed=5)
    y = forward(x, 28)
    plain = objective(model, x, y, kind="passive")
    assert plain.jacobian is None and plain.total is plain.data
    prediction = to_complex(model(normalize_measurements(y)))
    torch.testing.assert_close(plain.prediction, prediction)
    torch.testing.assert_close(plain.data, passive_loss(y, prediction))
    naive = objective(model, x, y, kind="naive")
    torch.testing.assert_close(naive.data, naive_loss(x, prediction))
    penalised = objective(model, x, y, kind="passive", jacobian_weight=0.5)
    assert penalised.jacobian.item() > 0
    torch.testing.assert_close(penalised.total, penalised.data + 0.5 * penalised.jacobian)
    for kind, weight in (("naive", 0.1), ("passive", -1.0), ("other", 0.0)):
        with pytest.raises(ValueError):
            objective(model, x, y, kind=kind, jacobian_weight=weight)


def test_objective_of_grid_networks_and_the_naive_refusals():
    torch.manual_seed(2)
    model = UNet(widths=(4, 8), out_size=7, output_domain="grid", input_transform="sqrt")
    x = _complex(2, 7, 7, seed=5)
    y = forward(x, 14)
    terms = objective(model, x, y, kind="passive", fourier_loss="intensity")
    prediction = to_complex(model(normalize_measurements(y, "sqrt")))
    assert terms.prediction.shape == (2, 14, 14)
    torch.testing.assert_close(terms.prediction, prediction)
    torch.testing.assert_close(terms.data, passive_loss(y, prediction, "intensity"))
    for model, fourier_loss in ((model, "amplitude"), (UNet(widths=(4, 8), out_size=7),
                                                       "intensity")):
        for kind in ("naive", "canonical", "invariant"):
            with pytest.raises(ValueError, match=f"{kind} objective"):
                objective(model, x, y, kind=kind, fourier_loss=fourier_loss)


def test_objective_estimates_the_jacobian_on_a_subset_of_the_batch():
    # A batch of 300 copies of images (a, b), then 300 of 3 other images: the estimate
    # on the first 600 (2 projections each) is that of the exact mean ||J||_F^2 of (a, b),
    # which differs from the other images' mean (and so from the whole batch's).
    torch.manual_seed(3)
    model = UNet(widths=(4, 8), out_size=6)
    x = _complex(5, 6, 6, seed=7)
    x[:2] = 0
    x[:2, 2:4, 1:3] = 1  # two flat 2 x 2 blocks: inputs unlike the random objects'
    batch = torch.cat([x[:2].repeat(300, 1, 1), x[2:].repeat(100, 1, 1)])
    y = forward(batch, 12)
    inputs = normalize_measurements(forward(x, 12))
    subset, others = (_exact_frobenius_sq(model, inputs[:2]),
                      _exact_frobenius_sq(model, inputs[2:]))
    assert abs(subset - others) > 0.2 * subset
    terms = objective(model, batch, y, kind="passive", jacobian_weight=0.5,
                      jacobian_samples=600, n_projections=2)
    assert terms.jacobian.item() == pytest.approx(subset, rel=0.05)
    torch.testing.assert_close(terms.total, terms.data + 0.5 * terms.jacobian)
    torch.testing.assert_close(terms.data, objective(model, batch, y, kind="passive").data)
    with pytest.raises(ValueError, match="jacobian_samples"):
        objective(model, batch, y, kind="passive", jacobian_weight=0.5, jacobian_samples=0)


# ---------------------------------------------------------------- device, loop

def test_select_device():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert select_device().type == expected
    assert select_device("cpu") == torch.device("cpu")


def _tiny_sets(seed=0):
    """10 x 10 images in a 14 x 14 frame, measured on a 28 x 28 grid."""
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(80, 10, 10, generator=g)
    x, _, _ = random_placement(images, Geometry(14, 28), generator=g)
    return images[:64], (x[:64], forward(x[:64], 28)), (x[64:], forward(x[64:], 28))


def _model(seed=0, **network):
    torch.manual_seed(seed)
    return UNet(widths=(4, 8), out_size=14, **network)


def _val_loss(model, val, kind):
    with torch.no_grad():
        return objective(model, *val, kind=kind).data.item()


@pytest.mark.parametrize("kind, weight", [("naive", 0.0), ("passive", 0.0), ("passive", 1e-3),
                                          ("canonical", 0.0), ("invariant", 0.0)])
def test_training_lowers_the_loss(tmp_path, kind, weight):
    _, train_set, val_set = _tiny_sets()
    model = _model()
    before = _val_loss(model, val_set, kind)
    summary = train(model, train_set, val_set, objective=kind, jacobian_weight=weight,
                    epochs=4, batch_size=16, lr=1e-2, seed=0, out_dir=tmp_path,
                    device="cpu", progress=False)
    losses = [row["val_loss"] for row in summary["history"]]
    assert min(losses) < 0.8 * before
    assert summary["finished"] and summary["global_step"] == 16 and summary["device"] == "cpu"
    assert summary["best_val_loss"] == min(losses)
    assert summary["best_epoch"] == 1 + losses.index(min(losses))
    with open(summary["history_csv"]) as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == HISTORY_COLUMNS and [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    assert math.isnan(float(rows[0]["train_jacobian"])) == (weight == 0)
    assert 0 <= float(rows[-1]["val_symmetric_mse"]) <= 1
    # One-cycle over T = 16 steps: after step t the rate lies on a half cosine from lr = 1e-2
    # (at the warm-up's end, step 0.05 T - 1) down to lr / 25 / 1e4 (at step T - 1).
    peak, low = 0.05 * 16 - 1, 1e-2 / 2.5e5
    expected = [low + (1e-2 - low) * (1 + math.cos(math.pi * (t - peak) / (15 - peak))) / 2
                for t in (4, 8, 12, 16)]
    assert [row["lr"] for row in summary["history"]] == pytest.approx(expected, rel=1e-9)
    best = load_network(summary["best"], produced_by="train_test")
    assert _val_loss(best, val_set, kind) == pytest.approx(min(losses), rel=1e-5)


def test_bf16_autocast_on_the_cpu(tmp_path):
    # amp=True trains under bfloat16 autocast on the CPU too: the U-Net's convolutions
    # run in bf16 (recorded), the loss stays finite and falls.
    _, train_set, val_set = _tiny_sets()
    model = _model()
    before = _val_loss(model, val_set, "passive")
    seen = []
    hook = model.head.register_forward_hook(lambda module, args, out: seen.append(out.dtype))
    summary = train(model, train_set, val_set, objective="passive", epochs=2, batch_size=16,
                    lr=1e-2, seed=0, out_dir=tmp_path, device="cpu", progress=False, amp=True)
    hook.remove()
    assert summary["amp_dtype"] == "bfloat16" and torch.bfloat16 in seen
    assert min(row["val_loss"] for row in summary["history"]) < 0.9 * before


#: The paper's design options (Eq. 2.1 on intensities, Appendix A.1's m x m output) and
#: the other input transform and schedule: (network, training) settings.
DESIGN = ({"input_transform": "sqrt", "output_domain": "grid"},
          {"fourier_loss": "intensity", "lr_schedule": "cosine"})


@pytest.mark.parametrize("on_the_fly, design", [(False, False), (True, False), (False, True)])
def test_resume_continues_exactly(tmp_path, on_the_fly, design):
    images, train_set, val_set = _tiny_sets()
    data = {"train_set": None, "on_the_fly": images} if on_the_fly else {"train_set": train_set}
    network, training = DESIGN if design else ({}, {})
    settings = dict(objective="passive", jacobian_weight=1e-3, epochs=3, batch_size=16,
                    lr=3e-3, seed=7, device="cpu", progress=False, **data, **training)

    straight = _model(**network)
    train(straight, val_set=val_set, out_dir=tmp_path / "a", **settings)

    first = train(_model(**network), val_set=val_set, out_dir=tmp_path / "b", time_limit_s=0,
                  **settings)
    assert first["epochs_completed"] == 1 and not first["finished"]
    torch.manual_seed(123)  # disturb the global RNG: the checkpoint must restore it
    resumed = _model(seed=99, **network)  # other initial weights: the checkpoint replaces them
    summary = train(resumed, val_set=val_set, out_dir=tmp_path / "b", **settings)
    assert summary["finished"] and summary["global_step"] == 3 * 4

    for (name, a), (_, b) in zip(straight.state_dict().items(), resumed.state_dict().items()):
        assert torch.equal(a, b), name
    with open(tmp_path / "a" / "history.csv") as ha, open(tmp_path / "b" / "history.csv") as hb:
        for row_a, row_b in zip(csv.DictReader(ha), csv.DictReader(hb), strict=True):
            for key in ("epoch", "train_loss", "train_jacobian", "val_loss", "lr"):
                assert row_a[key] == row_b[key], key

    assert not (tmp_path / "b" / "last.pt").exists()  # finished: checkpoint dropped


@pytest.mark.parametrize("change", ["settings", "data", "network", "fourier_loss",
                                    "lr_schedule", "input_transform", "output_domain"])
def test_checkpoint_of_other_inputs_is_not_resumed(tmp_path, change, caplog):
    """A checkpoint resumes only for the same data, settings and network (fingerprint)."""
    _, train_set, val_set = _tiny_sets()
    settings = dict(objective="passive", epochs=2, batch_size=16, lr=3e-3, seed=7,
                    device="cpu", progress=False)
    first = train(_model(), train_set, val_set, out_dir=tmp_path, time_limit_s=0, **settings)
    assert first["epochs_trained"] == 1 and not first["finished"]
    assert not (tmp_path / "best.pt").exists() and not (tmp_path / "history.csv").exists()
    model = _model()
    if change == "settings":
        settings["lr"] = 1e-3
    elif change == "data":
        train_set = (train_set[0].conj(), train_set[1])
    elif change == "network":
        torch.manual_seed(0)
        model = UNet(widths=(4, 8, 16), out_size=14)
    elif change in ("input_transform", "output_domain"):
        model = _model(**{change: DESIGN[0][change]})
    else:
        settings[change] = DESIGN[1][change]
    with caplog.at_level("INFO", logger="prbench.train"):
        again = train(model, train_set, val_set, out_dir=tmp_path, **settings)
    assert again["resumed_from"] == 0 and again["epochs_trained"] == 2 and again["finished"]
    expected = {"settings": "settings.lr", "data": "data.train",
                "network": "network.config.widths", "fourier_loss": "settings.fourier_loss",
                "lr_schedule": "settings.schedule.final_div_factor",
                "input_transform": "network.config.input_transform",
                "output_domain": "network.config.output_domain"}[change]
    assert "training from scratch" in caplog.text and expected in caplog.text


def test_rerun_of_a_finished_training_trains_anew(tmp_path):
    """Snakemake deletes a job's outputs before a rerun (--forcerun, changed inputs): a
    finished training has no checkpoint left, so the rerun trains every epoch again (and,
    seeded, reproduces the same weights bit for bit)."""
    _, train_set, val_set = _tiny_sets()
    settings = dict(objective="naive", epochs=3, batch_size=16, lr=1e-2, seed=3,
                    device="cpu", progress=False)
    summary = train(_model(), train_set, val_set, out_dir=tmp_path, **settings)
    best_before = torch.load(tmp_path / "best.pt", weights_only=True)
    history_before = (tmp_path / "history.csv").read_text()
    for name in ("best.pt", "history.csv"):
        (tmp_path / name).unlink()
    again = train(_model(), train_set, val_set, out_dir=tmp_path, **settings)
    assert again["epochs_trained"] == 3 and again["resumed_from"] == 0
    assert (tmp_path / "history.csv").read_text().splitlines()[0] == \
        history_before.splitlines()[0]
    best_after = torch.load(tmp_path / "best.pt", weights_only=True)
    assert best_after["epoch"] == summary["best_epoch"]
    assert best_after["fingerprint"]["settings"]["epochs"] == 3
    assert best_after["model_class"] == "UNet"
    assert best_after["model_config"] == {"in_channels": 1, "out_channels": 2, "widths": [4, 8],
                                          "out_size": 14, "input_layout": "corner",
                                          "input_transform": "log1p", "output_domain": "frame"}
    for name, tensor in best_before["model"].items():
        assert torch.equal(tensor, best_after["model"][name]), name
    reloaded = load_network(tmp_path / "best.pt", produced_by="train_test")
    assert _val_loss(reloaded, val_set, "naive") == pytest.approx(summary["best_val_loss"],
                                                                  rel=1e-5)


def test_train_argument_checks(tmp_path):
    images, train_set, val_set = _tiny_sets()
    with pytest.raises(ValueError, match="exactly one"):
        train(_model(), train_set, val_set, on_the_fly=images, out_dir=tmp_path)
    with pytest.raises(ValueError, match="objective"):
        train(_model(), train_set, val_set, objective="supervised", out_dir=tmp_path)
    with pytest.raises(ValueError, match="fourier_loss"):
        train(_model(), train_set, val_set, fourier_loss="log", out_dir=tmp_path)
    with pytest.raises(ValueError, match="lr_schedule"):
        train(_model(), train_set, val_set, lr_schedule="step", out_dir=tmp_path)


@pytest.mark.parametrize("name, floor", [("onecycle", 1e-2 / 2.5e5), ("cosine", 0.0),
                                         ("constant", 1e-2)])
def test_lr_schedules_follow_their_closed_forms(name, floor):
    # T = 20 steps, warm-up over 25%: after step t <= 4 the rate lies on a half cosine from
    # lr / 25 up to lr = 1e-2; then on a half cosine from lr down to the floor at t = T - 1.
    total, peak, lr = 20, 0.25 * 20 - 1, 1e-2
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    scheduler = OneCycle(0.25, LR_SCHEDULES[name]).build(optimizer, lr, total)
    rates = [scheduler.get_last_lr()[0]]
    for _ in range(total):
        optimizer.step()
        scheduler.step()
        rates.append(scheduler.get_last_lr()[0])
    expected = [lr / 25 + (lr - lr / 25) * (1 - math.cos(math.pi * t / peak)) / 2 if t <= peak
                else floor + (lr - floor) * (1 + math.cos(math.pi * (t - peak)
                                                          / (total - 1 - peak))) / 2
                for t in range(total + 1)]
    assert rates == pytest.approx(expected, rel=1e-12, abs=1e-18)


def test_grid_network_is_validated_and_predicted_on_its_read_out_frame(tmp_path):
    # The history's validation symmetric MSE of the kept epoch is that of predict()'s
    # frames (the brightest 14 x 14 window of the 28 x 28 output) of the reloaded network.
    _, train_set, val_set = _tiny_sets()
    summary = train(_model(**DESIGN[0]), train_set, val_set, objective="passive",
                    epochs=2, batch_size=16, lr=1e-2, seed=0, out_dir=tmp_path,
                    device="cpu", progress=False, metric_images=10, **DESIGN[1])
    best = load_network(summary["best"], produced_by="train_test")
    assert best.config["output_domain"] == "grid" and best.config["input_transform"] == "sqrt"
    frames = predict(best, val_set[1][:10], batch_size=4, device="cpu")
    assert frames.shape == (10, 14, 14)
    kept = summary["history"][summary["best_epoch"] - 1]
    assert kept["val_symmetric_mse"] == pytest.approx(
        symmetric_mse(val_set[0][:10], frames, Geometry(14, 28)).mean().item(), rel=1e-5)
    assert kept["val_loss"] == pytest.approx(
        passive_loss(val_set[1], to_complex(best(best.network_input(val_set[1]))).detach(),
                     "intensity").item(), rel=1e-5)


def test_the_new_settings_at_their_defaults_train_as_without_them(tmp_path):
    # A training without the design settings and one with them given at their defaults
    # give identical weights and histories, and a checkpoint of the one resumes the other.
    _, train_set, val_set = _tiny_sets()
    common = dict(objective="passive", epochs=2, batch_size=16, lr=1e-2, seed=0,
                  device="cpu", progress=False)
    defaults = dict(fourier_loss="amplitude", lr_schedule="onecycle")
    implicit = _model()
    train(implicit, train_set, val_set, out_dir=tmp_path / "a", **common)
    first = train(_model(), train_set, val_set, out_dir=tmp_path / "b", time_limit_s=0,
                  **common)
    assert first["epochs_completed"] == 1
    explicit = _model(input_transform="log1p", output_domain="frame")
    summary = train(explicit, train_set, val_set, out_dir=tmp_path / "b", **common, **defaults)
    assert summary["resumed_from"] == 1
    for (name, a), (_, b) in zip(implicit.state_dict().items(), explicit.state_dict().items()):
        assert torch.equal(a, b), name
    timing = ("seconds", "images_per_s")
    histories = [csv.DictReader((tmp_path / run / "history.csv").read_text().splitlines())
                 for run in "ab"]
    for a, b in zip(*histories, strict=True):
        assert {k: v for k, v in a.items() if k not in timing} == \
            {k: v for k, v in b.items() if k not in timing}


def test_the_stage_trains_a_config_without_the_new_keys_as_with_their_defaults(tmp_path):
    # train_unet with the config's settings validated by the schema (which gives the new
    # keys no default: a run made before they existed keeps its parameters) and with the
    # new keys written out at their documented defaults: identical weights.
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (40, 28, 28)).astype(np.uint8)
    synth.synthesize(images, np.zeros(40, np.int64), 20, seed=1, split="train",
                     geometry=Geometry(36, 72)).save(tmp_path / "train.npz")
    config = yaml.safe_load((ROOT / "config" / "test.yaml").read_text())
    config["training"]["models"]["passive"] = {"widths": [4, 8], "epochs": 1, "batch_size": 8}
    written = copy.deepcopy(config)
    written["training"]["models"]["passive"].update(
        fourier_loss="amplitude", input_transform="log1p", output_domain="frame",
        lr_schedule="onecycle")
    weights = []
    for run, settings in (("absent", config), ("written", written)):
        validate(settings, str(ROOT / "workflow" / "schemas" / "config.schema.yaml"))
        folder = tmp_path / run
        stages.train_unet(model="passive", train_set=tmp_path / "train.npz",
                          fashion=tmp_path / "unused.npz",
                          settings=settings["training"]["models"]["passive"],
                          validation_fraction=0.25, seed=0, device="cpu",
                          best=folder / "best.pt", history=folder / "history.csv",
                          curves=folder / "curves.png")
        weights.append(torch.load(folder / "best.pt", weights_only=True)["model"])
    added = {"fourier_loss", "input_transform", "output_domain", "lr_schedule"}
    assert not added & set(config["training"]["models"]["passive"])
    for name, tensor in weights[0].items():
        assert torch.equal(tensor, weights[1][name]), name


def test_predict_matches_the_network():
    model = _model()
    _, (x, y), _ = _tiny_sets()
    expected = to_complex(model(normalize_measurements(y[:5]))).detach()
    result = predict(model, y[:5], batch_size=2, device="cpu")
    assert result.dtype == torch.complex64 and result.shape == (5, 14, 14)
    torch.testing.assert_close(result, expected, rtol=1e-5, atol=1e-6)
    assert model.training


def test_output_frame_is_the_brightest_window_of_a_grid_output():
    # Every circular 6 x 6 window of the 12 x 12 output, by rolling: the frame read out has
    # the largest energy; a frame network's output is its own frame.
    grid = UNet(widths=(4, 8), out_size=6, output_domain="grid")
    output = _complex(2, 12, 12, seed=9)
    frame = output_frame(grid, output)
    energies = torch.stack([torch.roll(output, (-i, -j), (-2, -1))[:, :6, :6].abs().square()
                            .sum(dim=(-2, -1)) for i in range(12) for j in range(12)], dim=1)
    assert frame.shape == (2, 6, 6)
    assert torch.equal(frame.abs().square().sum(dim=(-2, -1)), energies.amax(dim=1))
    frame_output = _complex(2, 6, 6, seed=9)
    assert output_frame(UNet(widths=(4, 8), out_size=6), frame_output) is frame_output


def test_progress_lines_on_stderr(tmp_path, capsys):
    _, train_set, val_set = _tiny_sets()
    train(_model(), train_set, val_set, epochs=2, batch_size=32, device="cpu",
          out_dir=tmp_path)
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert captured.out == "" and [line.split()[:2] for line in lines] == \
        [["epoch", "1/2"], ["epoch", "2/2"]]
    assert "img/s" in lines[-1]
