"""Neural networks for learned phase-retrieval initialisation (paper, Sec. 2.1, 3)."""

from .dncnn import DnCNN, apply_denoiser
from .loading import NETWORKS, load_network
from .unet import UNet, normalize_measurements, to_complex

__all__ = ["DnCNN", "NETWORKS", "UNet", "apply_denoiser", "load_network",
           "normalize_measurements", "to_complex"]
