"""Neural networks for learned phase-retrieval initialisation (paper, Sec. 2.1, 3)."""

from .dncnn import DnCNN, apply_denoiser
from .unet import UNet, normalize_measurements, to_complex

__all__ = ["DnCNN", "UNet", "apply_denoiser", "normalize_measurements", "to_complex"]
