"""DnCNN denoiser and its blind training (prDeep's prior)."""

import csv
import math

import pytest
import torch
from torch import nn

from prbench.nets import DnCNN, apply_denoiser, load_network
from prbench.train.denoiser import (HISTORY_COLUMNS, _draw_sigmas, add_noise, denoiser_gain,
                                    train_denoiser)
from synthetic_objects import smooth_objects

SCHEDULE = (50, 40, 20, 10)


def test_dncnn_structure_and_residual():
    model = DnCNN(channels=2, depth=4, width=8)
    assert model.config == {"channels": 2, "depth": 4, "width": 8}
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(convs) == 4 and len(norms) == 2
    x = torch.randn(3, 2, 11, 13)
    torch.testing.assert_close(model(x), x - model.noise(x))
    with torch.no_grad():  # zero noise estimate -> identity
        convs[-1].weight.zero_()
        convs[-1].bias.zero_()
    torch.testing.assert_close(model(x), x)
    for bad in ({"depth": 1}, {"width": 0}, {"channels": 0}):
        with pytest.raises(ValueError):
            DnCNN(**bad)


def test_eval_mode_is_per_image():
    torch.manual_seed(0)
    model = DnCNN(depth=5, width=8)
    model(torch.randn(8, 2, 12, 12))  # move the BatchNorm running statistics
    model.eval()
    batch = torch.randn(4, 2, 12, 12)
    torch.testing.assert_close(model(batch)[1:2], model(batch[1:2]), rtol=1e-5, atol=1e-6)


def test_apply_denoiser_scale_and_channels():
    # A 1x1 conv swapping the channels: D(x) = scale * swap(x / scale) = Im x + i Re x.
    swap = nn.Conv2d(2, 2, 1, bias=False)
    with torch.no_grad():
        swap.weight.copy_(torch.tensor([[0.0, 1.0], [1.0, 0.0]])[:, :, None, None])
    x = torch.randn(2, 5, 5, dtype=torch.complex64) * 100
    out = apply_denoiser(swap, x, scale=255.0)
    assert out.dtype == torch.complex64 and out.shape == x.shape
    torch.testing.assert_close(out, torch.complex(x.imag, x.real), rtol=1e-5, atol=1e-4)
    # Bias 0.5 on [0, 1] is 0.5 * scale on the image scale.
    shift = nn.Conv2d(2, 2, 1)
    with torch.no_grad():
        shift.weight.copy_(torch.eye(2)[:, :, None, None])
        shift.bias.fill_(0.5)
    torch.testing.assert_close(apply_denoiser(shift, x, scale=10.0), x + 5 + 5j,
                               rtol=1e-5, atol=1e-4)


def test_noise_model_and_sigma_draws():
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(4, 100, 100, dtype=torch.complex64)
    noisy = add_noise(x, torch.tensor([1.0, 5.0, 20.0, 0.0]), g)
    std = torch.view_as_real(noisy).flatten(1, 2).std(dim=1)  # (4, 2): real, imaginary
    expected = torch.tensor([1.0, 5.0, 20.0, 0.0])[:, None].expand(4, 2)
    torch.testing.assert_close(std, expected, rtol=0.03, atol=1e-6)
    # Uniform on the union [0, 10) u [20, 40): a third of the mass in the first range.
    ranges = torch.tensor([[0.0, 10.0], [20.0, 40.0]], dtype=torch.float64)
    sigmas = _draw_sigmas(ranges, 30000, g)
    assert ((sigmas >= 0) & (sigmas < 40)).all() and not ((sigmas >= 10) & (sigmas < 20)).any()
    assert abs((sigmas < 10).float().mean().item() - 1 / 3) < 0.015
    assert abs(sigmas[sigmas >= 20].mean().item() - 30) < 0.2


def test_gain_of_identity_is_one():
    model = DnCNN(depth=3, width=4)
    with torch.no_grad():
        model.noise[-1].weight.zero_()
        model.noise[-1].bias.zero_()
    assert denoiser_gain(model, smooth_objects(4, 0), 20.0) == pytest.approx(1.0, rel=1e-5)


def test_training_lowers_mse_at_every_schedule_sigma(tmp_path):
    torch.manual_seed(0)
    model = DnCNN(depth=5, width=16)
    summary = train_denoiser(model, smooth_objects(3000, 1), smooth_objects(100, 2),
                             sigma_ranges=[(0, 55)], epochs=4, batch_size=32, lr=5e-3, seed=0,
                             device="cpu", out_dir=tmp_path)
    test = smooth_objects(200, 3)
    gains = {s: denoiser_gain(model, test, s, seed=1) for s in SCHEDULE}
    # Measured after this training (about 12 s on 2 idle cores): 10.1, 10.5, 8.3, 4.3
    # for sigma 50, 40, 20, 10.
    assert all(gain > 2.5 for gain in gains.values()), gains
    assert gains[50] > 5.0 and gains[20] > 4.0, gains
    assert summary["epochs"] == 4 and 1 <= summary["best_epoch"] <= 4
    with open(tmp_path / "history.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == HISTORY_COLUMNS and len(rows) == 4
    assert float(rows[-1]["val_gain"]) > 2.0
    assert min(float(r["val_loss"]) for r in rows) == pytest.approx(summary["best_val_loss"])
    best = load_network(summary["best"], produced_by="train_denoiser")
    assert not best.training and best.config == model.config
    assert not (tmp_path / "last.pt").exists()  # a finished training drops its checkpoint
    if summary["best_epoch"] == 4:  # best == last weights: the reloaded net is the trained one
        assert denoiser_gain(best, test, 50, seed=1) == pytest.approx(gains[50], rel=1e-4)


def test_interrupted_training_resumes_exactly_and_only_for_the_same_fingerprint(tmp_path):
    def weights(model):
        return torch.cat([p.flatten() for p in model.state_dict().values()
                          if p.is_floating_point()])

    def model(seed=0):
        torch.manual_seed(seed)
        return DnCNN(depth=3, width=4)

    objects, val = smooth_objects(64, 1), smooth_objects(16, 2)
    settings = dict(epochs=3, batch_size=16, seed=5, device="cpu")
    straight = model()
    whole = train_denoiser(straight, objects, val, out_dir=tmp_path / "a", **settings)
    # Cosine decay per step from lr = 1e-3 over 3 x 4 steps: lr (1 + cos(pi t / 12)) / 2.
    assert [row["lr"] for row in whole["history"]] == pytest.approx([7.5e-4, 2.5e-4, 0.0],
                                                                    abs=1e-12)
    first = train_denoiser(model(), objects, val, out_dir=tmp_path / "b", time_limit_s=0,
                           **settings)
    assert first["epochs_trained"] == 1 and not first["finished"]
    assert not (tmp_path / "b" / "best.pt").exists()  # no final outputs before the end
    resumed = model(seed=9)
    summary = train_denoiser(resumed, objects, val, out_dir=tmp_path / "b", **settings)
    assert summary["resumed_from"] == 1 and summary["epochs_trained"] == 2
    torch.testing.assert_close(weights(resumed), weights(straight), rtol=0, atol=0)
    assert (tmp_path / "a" / "history.csv").read_text().splitlines()[0] == \
        (tmp_path / "b" / "history.csv").read_text().splitlines()[0]

    # An interrupted checkpoint of other data is not resumed: training starts over.
    train_denoiser(model(), objects, val, out_dir=tmp_path / "c", time_limit_s=0, **settings)
    other = train_denoiser(model(), objects.conj(), val, out_dir=tmp_path / "c", **settings)
    assert other["resumed_from"] == 0 and other["epochs_trained"] == 3


def test_training_is_seeded(tmp_path):
    def run(out):
        torch.manual_seed(0)
        model = DnCNN(depth=3, width=4)
        train_denoiser(model, smooth_objects(64, 1), smooth_objects(16, 2), epochs=1,
                       batch_size=16, seed=5, device="cpu", out_dir=out)
        return torch.cat([p.flatten() for p in model.state_dict().values()
                          if p.is_floating_point()])

    torch.testing.assert_close(run(tmp_path / "a"), run(tmp_path / "b"), rtol=0, atol=0)


def test_training_rejects_bad_inputs(tmp_path):
    model = DnCNN(depth=3, width=4)
    objects = smooth_objects(8, 0)
    bad_calls = [
        ({"objects": objects.real}, {}),  # real tensor
        ({"objects": objects[0]}, {}),  # not a batch
        ({"val_objects": objects[:0]}, {}),  # empty
        ({}, {"sigma_ranges": [(10, 5)]}),
        ({}, {"sigma_ranges": []}),
        ({}, {"epochs": 0}),
        ({}, {"lr": -1.0}),
    ]
    for data, options in bad_calls:
        args = {"objects": objects, "val_objects": objects, **data}
        with pytest.raises(ValueError):
            train_denoiser(model, args["objects"], args["val_objects"], out_dir=tmp_path,
                           device="cpu", **options)
    nan = objects.clone()
    nan[0, 0, 0] = math.nan
    with pytest.raises(ValueError, match="NaN"):
        denoiser_gain(model, nan, 10.0)
