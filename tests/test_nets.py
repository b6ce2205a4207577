"""U-Net backbone, measurement normalisation, output conversion and loading trained networks."""

import pytest
import torch

from prbench.io import CorruptFileError
from prbench.nets import DnCNN, UNet, load_network, normalize_measurements, to_complex
from prbench.physics import forward


@pytest.mark.parametrize("widths", [(4,), (4, 8), (8, 16, 32), (8, 16, 32, 64), (4, 4, 8, 8, 8)])
@pytest.mark.parametrize("batch", [1, 3])
def test_unet_output_shape(widths, batch):
    # depth 5 pools 72 -> 36 -> 18 -> 9 -> 4: the odd size is padded back on the way up.
    model = UNet(widths=widths, out_size=36)
    out = model(torch.randn(batch, 1, 72, 72))
    assert out.shape == (batch, 2, 36, 36)
    assert len(model.down) == len(widths) and len(model.up) == len(widths) - 1
    assert model.config == {"in_channels": 1, "out_channels": 2, "widths": list(widths),
                            "out_size": 36, "input_layout": "corner",
                            "input_transform": "log1p", "output_domain": "frame"}


def test_unet_other_sizes_and_channels():
    model = UNet(in_channels=3, out_channels=5, widths=(4, 8), out_size=10)
    assert model(torch.randn(2, 3, 20, 20)).shape == (2, 5, 10, 10)
    assert UNet(widths=(4, 8), out_size=30)(torch.randn(1, 1, 60, 60)).shape == (1, 2, 30, 30)
    with pytest.raises(ValueError):
        UNet(widths=(), out_size=36)
    with pytest.raises(TypeError, match="out_size"):
        UNet(widths=(4, 8))  # the frame side n has no default
    with pytest.raises(ValueError, match="out_size"):
        UNet(widths=(4, 8), out_size=0)


def test_unet_samples_are_independent():
    # GroupNorm: one sample's output does not depend on the rest of the batch,
    # in training mode too (needed for the per-sample Jacobian penalty).
    torch.manual_seed(0)
    model = UNet(widths=(4, 8), out_size=36).train()
    batch = torch.randn(4, 1, 72, 72)
    other = torch.cat([batch[:1], torch.randn(3, 1, 72, 72)])
    torch.testing.assert_close(model(batch)[0], model(other)[0], rtol=1e-5, atol=1e-6)


def test_normalize_measurements():
    torch.manual_seed(0)
    x = torch.randn(3, 36, 36, dtype=torch.complex64)
    y = forward(x, 72)
    z = normalize_measurements(y)
    assert z.shape == (3, 1, 72, 72) and z.dtype == torch.float32
    torch.testing.assert_close(z.mean(dim=(-2, -1)), torch.zeros(3, 1), atol=1e-5, rtol=0)
    torch.testing.assert_close(z.std(dim=(-2, -1)), torch.ones(3, 1), atol=1e-5, rtol=0)
    # Invariant to the object's scale X -> c X, i.e. Y -> |c|^2 Y.
    torch.testing.assert_close(normalize_measurements(1e4 * y), z, atol=1e-4, rtol=0)
    # Independent formula for one image.
    ref = torch.log1p(y[1] / y[1].mean())
    torch.testing.assert_close(z[1, 0], (ref - ref.mean()) / ref.std(), atol=1e-5, rtol=0)
    # Exact zeros in Y stay finite.
    y[0, :10] = 0
    assert torch.isfinite(normalize_measurements(y)).all()


def test_normalize_measurements_sqrt():
    y = forward(torch.randn(2, 6, 6, dtype=torch.complex64), 12)
    z = normalize_measurements(y, "sqrt")
    ref = (y[0] / y[0].mean()).sqrt()  # the Fourier magnitudes over their rms
    torch.testing.assert_close(z[0, 0], (ref - ref.mean()) / ref.std(), atol=1e-5, rtol=0)
    torch.testing.assert_close(normalize_measurements(1e4 * y, "sqrt"), z, atol=1e-4, rtol=0)
    model = UNet(widths=(4, 8), out_size=6, input_transform="sqrt")
    assert torch.equal(model.network_input(y), z)
    assert torch.equal(UNet(widths=(4, 8), out_size=6).network_input(y),
                       normalize_measurements(y))
    with pytest.raises(ValueError, match="transform"):
        normalize_measurements(y, "log")
    with pytest.raises(ValueError, match="input_transform"):
        UNet(widths=(4, 8), out_size=6, input_transform="log")


def test_grid_output_domain():
    # "grid": the same weights without the pooling to the frame; the output covers the
    # input grid.
    torch.manual_seed(0)
    frame = UNet(widths=(4, 8), out_size=6)
    grid = UNet(widths=(4, 8), out_size=6, output_domain="grid")
    grid.load_state_dict(frame.state_dict())
    inputs = torch.randn(2, 1, 12, 12)
    out = grid(inputs)
    assert out.shape == (2, 2, 12, 12) and grid.config["output_domain"] == "grid"
    # The 1x1 head commutes with 2x2 averaging: pooling the grid output gives the frame's.
    torch.testing.assert_close(torch.nn.functional.avg_pool2d(out, 2), frame(inputs))
    with pytest.raises(ValueError, match="output_domain"):
        UNet(widths=(4, 8), out_size=6, output_domain="full")


def test_to_complex():
    out = torch.arange(2 * 2 * 3 * 3, dtype=torch.float32).reshape(2, 2, 3, 3)
    x = to_complex(out)
    assert x.dtype == torch.complex64 and x.shape == (2, 3, 3)
    assert torch.equal(x.real, out[:, 0]) and torch.equal(x.imag, out[:, 1])
    assert to_complex(out.to(torch.bfloat16)).dtype == torch.complex64
    with pytest.raises(ValueError):
        to_complex(torch.zeros(2, 3, 3, 3))


def _stored(network):
    """The entries of a ``best.pt`` (prbench.train.checkpoint.write_final_outputs)."""
    return {"model": network.state_dict(), "model_class": type(network).__name__,
            "model_config": network.config}


@pytest.mark.parametrize("build", [lambda: UNet(widths=(4, 8), out_size=6),
                                   lambda: DnCNN(depth=3, width=4)])
def test_load_network_rebuilds_the_stored_network(tmp_path, build):
    torch.manual_seed(0)
    network = build()
    torch.save(_stored(network), tmp_path / "best.pt")
    torch.manual_seed(1)  # other initial weights: the stored ones must replace them
    loaded = load_network(tmp_path / "best.pt", produced_by="train_x")
    assert type(loaded) is type(network) and loaded.config == network.config
    assert not loaded.training
    for name, tensor in network.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
    inputs = torch.randn(2, network.config.get("in_channels", 2), 12, 12)
    torch.testing.assert_close(loaded(inputs), network.eval()(inputs))


def test_dncnn_weights_are_channels_last():
    weight = DnCNN(depth=3, width=4).noise[0].weight
    assert weight.is_contiguous(memory_format=torch.channels_last)


def test_load_network_reports_unusable_files(tmp_path):
    network = UNet(widths=(4, 8), out_size=6)
    (tmp_path / "truncated.pt").write_bytes(b"PK\x03\x04 not a checkpoint")
    torch.save({**_stored(network), "model_class": "ResNet"}, tmp_path / "unknown.pt")
    torch.save({**_stored(network), "model_config": {**network.config, "widths": [4, 16]}},
               tmp_path / "mismatch.pt")
    # Saved before input_layout existed: refused (not one of UNet.ADDED_ARGUMENTS).
    older = {key: value for key, value in network.config.items() if key != "input_layout"}
    torch.save({**_stored(network), "model_config": older}, tmp_path / "older.pt")
    for name, problem in (("truncated", "is unusable"), ("unknown", "model_class"),
                          ("mismatch", "do not rebuild a UNet"),
                          ("older", "records .* but a UNet of this version takes")):
        with pytest.raises(CorruptFileError, match=problem) as raised:
            load_network(tmp_path / f"{name}.pt", produced_by="train_passive")
        assert "rule `train_passive`" in str(raised.value)
        assert f"snakemake --forcerun {tmp_path / name}.pt" in str(raised.value)


def test_centered_input_layout_is_the_corner_network_on_half_rolled_input():
    # input_layout="centered" = the same weights applied to the input rolled by m/2 in
    # both axes (zero frequency moved from [0, 0] to [m/2, m/2]).
    torch.manual_seed(0)
    corner = UNet(widths=(4, 8), out_size=8, input_layout="corner")
    centered = UNet(widths=(4, 8), out_size=8, input_layout="centered")
    centered.load_state_dict(corner.state_dict())
    inputs = torch.randn(3, 1, 16, 16)
    torch.testing.assert_close(centered(inputs), corner(torch.roll(inputs, (8, 8), (-2, -1))))
    assert not torch.allclose(centered(inputs), corner(inputs))
    assert centered.config["input_layout"] == "centered"
    with pytest.raises(ValueError, match="input_layout"):
        UNet(widths=(4, 8), out_size=8, input_layout="shifted")


def test_load_network_reads_older_unets_as_log1p_frame_networks(tmp_path):
    # A best.pt saved before input_transform and output_domain existed was trained with
    # the log1p input and the frame output: it loads as such and predicts as before.
    torch.manual_seed(0)
    network = UNet(widths=(4, 8), out_size=6).eval()
    older = {key: value for key, value in network.config.items()
             if key not in ("input_transform", "output_domain")}
    torch.save({**_stored(network), "model_config": older}, tmp_path / "best.pt")
    loaded = load_network(tmp_path / "best.pt", produced_by="train_passive")
    assert loaded.config == network.config
    assert (loaded.input_transform, loaded.output_domain) == ("log1p", "frame")
    y = forward(torch.randn(2, 6, 6, dtype=torch.complex64), 12)
    torch.testing.assert_close(to_complex(loaded(loaded.network_input(y))),
                               to_complex(network(normalize_measurements(y))))
    # ... while the stored values of a newer network are kept.
    grid = UNet(widths=(4, 8), out_size=6, input_transform="sqrt", output_domain="grid")
    torch.save(_stored(grid), tmp_path / "grid.pt")
    assert load_network(tmp_path / "grid.pt", produced_by="train_passive").config == grid.config
