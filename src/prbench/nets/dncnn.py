"""DnCNN residual denoiser (Zhang et al. 2017), the learned prior of prDeep
(Metzler et al. 2018; paper ref. [10]).

Architecture: conv3x3 + ReLU, (depth - 2) x (conv3x3 + BatchNorm + ReLU), conv3x3;
the network predicts the noise v of its input and returns ``input - v`` (residual
learning). Complex images are 2 channels (real, imaginary).

BatchNorm rather than GroupNorm, as in DnCNN and prDeep: in eval mode (the only
mode the solver uses) BatchNorm is a fixed per-channel affine map, so the denoiser
D is one fixed function applied to each image on its own. Its output does not depend
on the batch or on the image's own statistics, which batched == per-image
reconstruction needs, and so does RED's view of D as a fixed map. GroupNorm would
also be per-image, but it normalises each image by its own statistics; that is not
the DnCNN design and adds nothing here.

Scale convention (prDeep): the network sees images on [0, 1] (pixel / 255) and noise
levels sigma / 255; :func:`apply_denoiser` maps complex images on prDeep's 0..255
scale to and from that range.
"""

from __future__ import annotations

import torch
from torch import nn

from .unet import to_complex

__all__ = ["DnCNN", "apply_denoiser"]


class DnCNN(nn.Module):
    """DnCNN of ``depth`` conv layers (>= 2) of ``width`` channels.

    Input and output (B, channels, H, W) float; any H, W (zero-padded 3x3 convs).
    The constructor arguments are kept in ``self.config`` so that checkpoints can
    rebuild the model. The weights are stored channels-last, the layout in which
    :func:`apply_denoiser` feeds the network (faster convolutions on the CPU).
    """

    def __init__(self, channels: int = 2, depth: int = 17, width: int = 64) -> None:
        super().__init__()
        if channels < 1 or depth < 2 or width < 1:
            raise ValueError(f"need channels >= 1, depth >= 2, width >= 1; got "
                             f"{channels}, {depth}, {width}")
        self.config = {"channels": channels, "depth": depth, "width": width}
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
                       nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(width, channels, 3, padding=1))
        self.noise = nn.Sequential(*layers)
        self.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Denoised image ``x - noise(x)``."""
        return x - self.noise(x)


def apply_denoiser(model: nn.Module, x: torch.Tensor, scale: float = 255.0) -> torch.Tensor:
    """D(x) for complex images x (B, n, n) on the 0..``scale`` scale (prDeep: 0..255).

    Runs ``scale * model(x / scale)`` on (real, imaginary) channels, in channels-last
    layout (faster convolutions on CPU); returns (B, n, n) complex64 on x's device.
    Gradients flow if enabled; the caller sets eval/train mode.
    """
    channels = torch.view_as_real(x.to(torch.complex64) / scale).permute(0, 3, 1, 2)
    return to_complex(model(channels.contiguous(memory_format=torch.channels_last))) * scale
