"""U-Net backbone g_W: normalised measurement Y (m x m) -> object X (n x n, complex).

Paper, Sec. 3: "We use U-Net [29] as our backbone DNN". Ronneberger et al. (2015)
design: at each level a double 3x3 conv (conv -> norm -> ReLU, twice), 2x2 max-pool
down, 2x2 stride-2 transposed conv up, concatenation skip connections.

Choices made here (the paper does not specify them):

* Normalisation is GroupNorm (groups of 4 channels where the width allows),
  not BatchNorm: every sample's output depends on that sample only, so the
  per-sample Jacobian penalty (paper, Eq. 2.2) is exact for each sample, and
  train/eval behaviour is identical and independent of the batch size.
* Output size: the decoder ends at the input resolution (m x m, width
  ``widths[0]``); its features are reduced to ``out_size x out_size`` (n x n) by
  adaptive average pooling (for m = 2n, e.g. 72 -> 36, exactly a 2x2 mean, i.e.
  one output pixel per 2x2 block), then a 1x1 conv maps them to
  ``out_channels`` (real, imaginary). Pooling *before* the 1x1 conv keeps every
  output pixel a learned function of all channels of its block.
* Input layout: convolutions are translation-equivariant, so the U-Net ties
  output pixel (i, j) to the input's Fourier pixels near (i m/n, j m/n). With
  the DFT's own layout (``input_layout="corner"``: zero frequency at [0, 0])
  the strongest inputs, the lowest frequencies, sit at the grid's corners and
  edges, which map onto the border of the output frame; the passive network
  (whose loss is shift-invariant) learned to put 13% of its energy into the
  frame's 2-pixel border ring there (benchmarks/results/passive_training.md).
  ``input_layout="centered"`` fftshifts the input first (zero frequency at
  [m/2, m/2]), aligning the low frequencies with the frame's centre: the ring then
  holds 1.6% (true objects: 1.4%), but the validation error does not fall (network
  output 0.378 vs 0.369, refined 0.248 vs 0.237 on 48 images;
  benchmarks/results/input_layout.md), so "corner" stays the default.
* Input transform (:func:`normalize_measurements`): ``"log1p"`` (the default) or
  ``"sqrt"`` of Y / mean(Y), standardised per image.
* Output domain: ``"frame"`` (the default) outputs the n x n object frame as above;
  ``"grid"`` outputs the whole m x m grid (no pooling), the reconstruction in
  C^{m x m} of the paper's Appendix A.1, whose passive loss is exactly invariant to
  circular shifts; :func:`prbench.train.initialiser.output_frame` reads its n x n
  frame out (the circular window of largest energy).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["INPUT_LAYOUTS", "INPUT_TRANSFORMS", "OUTPUT_DOMAINS", "UNet",
           "normalize_measurements", "to_complex"]

_GROUP_CHANNELS = 4
#: Where the network sees the zero frequency: at [0, 0] (DFT order) or the centre.
INPUT_LAYOUTS = ("corner", "centered")
#: How the network input is made from the intensities (:func:`normalize_measurements`).
INPUT_TRANSFORMS = ("log1p", "sqrt")
#: What the network outputs: the n x n object frame or the whole m x m grid.
OUTPUT_DOMAINS = ("frame", "grid")
_TRANSFORMS = {"log1p": torch.log1p, "sqrt": torch.sqrt}


def normalize_measurements(y: torch.Tensor, transform: str = "log1p") -> torch.Tensor:
    """Network input from intensities: (B, m, m) -> (B, 1, m, m) float32.

    ``z = log1p(Y / mean(Y))`` (``transform="log1p"``) or ``z = sqrt(Y / mean(Y))``
    (``"sqrt"``: the Fourier magnitudes), then standardised per image to zero mean and
    unit standard deviation. Why log1p: Y spans ~8 decades (the DC term |sum X|^2
    against near-zeros of the far-field), which a log compresses to O(1) values while
    keeping the relative structure of the weak high frequencies; ``log1p`` is
    finite at exact zeros (linear below ~mean(Y)). Dividing by mean(Y) =
    ||X||^2 (Parseval, unnormalised DFT) removes the object's total-energy scale,
    so the input is invariant to X -> c X; the final standardisation conditions the
    first convolution. Computed in float32.
    """
    if transform not in _TRANSFORMS:
        raise ValueError(f"transform must be one of {INPUT_TRANSFORMS}, got {transform!r}")
    y = y.float()
    z = _TRANSFORMS[transform](
        y / y.mean(dim=(-2, -1), keepdim=True).clamp_min(torch.finfo(y.dtype).tiny))
    mean = z.mean(dim=(-2, -1), keepdim=True)
    std = z.std(dim=(-2, -1), keepdim=True).clamp_min(1e-6)
    return ((z - mean) / std).unsqueeze(1)


def to_complex(out: torch.Tensor) -> torch.Tensor:
    """(B, 2, n, n) real/imag channels -> (B, n, n) complex64 (float32 parts)."""
    if out.ndim != 4 or out.shape[1] != 2:
        raise ValueError(f"expected a (B, 2, n, n) tensor, got shape {tuple(out.shape)}")
    return torch.complex(out[:, 0].float(), out[:, 1].float())


def _norm(channels: int) -> nn.GroupNorm:
    groups = channels // _GROUP_CHANNELS if channels % _GROUP_CHANNELS == 0 else 1
    return nn.GroupNorm(groups, channels)


class _DoubleConv(nn.Sequential):
    """(conv3x3 -> GroupNorm -> ReLU) x 2; spatial size preserved."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            _norm(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            _norm(out_channels),
            nn.ReLU(inplace=True),
        )


class _Up(nn.Module):
    """2x2 stride-2 transposed conv, zero-pad to the skip's size, concat, double conv."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, out_channels, 2, stride=2)
        self.conv = _DoubleConv(2 * out_channels, out_channels)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = self.up(x)
        # Max-pooling floors odd sizes (e.g. 9 -> 4); pad back (bottom/right).
        dh, dw = skip.shape[-2] - x.shape[-2], skip.shape[-1] - x.shape[-1]
        x = F.pad(x, (0, dw, 0, dh))
        return self.conv(torch.cat([skip, x], dim=1))


class UNet(nn.Module):
    """U-Net of depth ``len(widths)`` (``len(widths) - 1`` poolings).

    Input (B, in_channels, H, W), H, W >= out_size and >= 2^(depth-1) (the m x m
    normalised measurements, :meth:`network_input`). Output
    (B, out_channels, out_size, out_size), or (B, out_channels, H, W) with
    ``output_domain="grid"``: channels 0, 1 are the real and imaginary parts of the
    object (see :func:`to_complex`); out_size is required (the object frame side n, no
    default). ``input_layout``, ``input_transform``, ``output_domain``: see the module
    docstring (:data:`INPUT_LAYOUTS`, :data:`INPUT_TRANSFORMS`, :data:`OUTPUT_DOMAINS`).
    The constructor arguments are kept in ``self.config`` so checkpoints can rebuild
    the model.
    """

    #: Constructor arguments added after U-Nets were first saved, with the value that a
    #: network saved without them was trained with (:func:`prbench.nets.load_network`).
    ADDED_ARGUMENTS = {"input_transform": "log1p", "output_domain": "frame"}

    def __init__(self, in_channels: int = 1, out_channels: int = 2,
                 widths: tuple[int, ...] = (8, 16, 32, 64), *, out_size: int,
                 input_layout: str = "corner", input_transform: str = "log1p",
                 output_domain: str = "frame") -> None:
        super().__init__()
        widths = tuple(int(w) for w in widths)
        if not widths or min(widths) < 1:
            raise ValueError(f"widths must be a non-empty sequence of positive ints, got {widths}")
        if isinstance(out_size, bool) or not isinstance(out_size, int) or out_size < 1:
            raise ValueError(f"out_size must be a positive int (the frame side n), "
                             f"got {out_size!r}")
        for name, value, allowed in (("input_layout", input_layout, INPUT_LAYOUTS),
                                     ("input_transform", input_transform, INPUT_TRANSFORMS),
                                     ("output_domain", output_domain, OUTPUT_DOMAINS)):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        self.config = {"in_channels": in_channels, "out_channels": out_channels,
                       "widths": list(widths), "out_size": out_size,
                       "input_layout": input_layout, "input_transform": input_transform,
                       "output_domain": output_domain}
        self.out_size = out_size
        self.input_layout = input_layout
        self.input_transform = input_transform
        self.output_domain = output_domain
        self.down = nn.ModuleList(
            _DoubleConv(c_in, c_out) for c_in, c_out in zip((in_channels,) + widths[:-1], widths)
        )
        self.up = nn.ModuleList(
            _Up(c_in, c_out) for c_in, c_out in zip(widths[:0:-1], widths[-2::-1])
        )
        self.head = nn.Conv2d(widths[0], out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.input_layout == "centered":
            x = torch.fft.fftshift(x, dim=(-2, -1))
        skips = []
        for level, block in enumerate(self.down):
            if level:
                x = F.max_pool2d(x, 2)
            x = block(x)
            skips.append(x)
        for block, skip in zip(self.up, reversed(skips[:-1])):
            x = block(x, skip)
        if self.output_domain == "frame":
            x = F.adaptive_avg_pool2d(x, self.out_size)
        return self.head(x)

    def network_input(self, y: torch.Tensor) -> torch.Tensor:
        """This network's input from intensities y (B, m, m): (B, 1, m, m) float32
        (:func:`normalize_measurements` with its ``input_transform``)."""
        return normalize_measurements(y, self.input_transform)
