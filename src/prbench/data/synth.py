"""Dataset synthesis exactly as in the paper (Sec. 3, "Data").

Each 28 x 28 image (scaled to [0, 1]) is placed in an n x n zero frame at an
offset drawn uniformly from {0, ..., n - 28}^2, conjugate-flipped
``X -> conj(X[::-1, ::-1])`` with probability 1/2 (:func:`place`; the same
draws from a torch generator: :func:`random_placement`), and measured as
``Y = |F(pad(X, m))|^2`` (:func:`prbench.physics.forward`); (n, m) is the run's
:class:`prbench.geometry.Geometry` (the paper: n = 36, m = 72).

Objects are real by default (the paper's Fashion-MNIST); ``object_kind="complex"``
multiplies each image by a smooth random phase field ``exp(i phi)``, phi being
Gaussian-smoothed white noise rescaled to a given standard deviation (radians),
so that studies can use genuinely complex objects.

scipy is imported lazily (by the phase fields), so that the jobs that only read a set
(:func:`load`) start without it.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..geometry import Geometry, check_geometry
from ..io import CorruptFileError, load_npz, save_npz
from ..physics import check_photons, conjugate_flip, forward, poisson_noise

__all__ = ["OBJECT_KINDS", "SynthesizedSet", "load", "place", "random_placement", "split_rng",
           "synthesize", "validation_size"]

OBJECT_KINDS = ("real", "complex")
_FORWARD_CHUNK = 2048


@dataclass(frozen=True)
class SynthesizedSet:
    """One synthesized split.

    x: (N, n, n) complex64 objects; y: (N, m, m) float32 intensities;
    offsets: (N, 2) int64 top-left corner of the 28 x 28 image in the frame
    *before* the flip; flips: (N,) bool; labels: (N,) int64 class;
    base_index: (N,) int64 index into the source split; meta: JSON-able dict.
    """

    x: np.ndarray
    y: np.ndarray
    offsets: np.ndarray
    flips: np.ndarray
    labels: np.ndarray
    base_index: np.ndarray
    meta: dict[str, Any]

    @property
    def geometry(self) -> Geometry:
        """The (n, m) this set was synthesized with (checked against x, y by :func:`load`)."""
        return Geometry(int(self.meta["n"]), int(self.meta["m"]))

    @property
    def complex_objects(self) -> bool:
        """Whether the objects are complex: the ``object_kind`` recorded by :func:`synthesize`
        (real objects are stored as complex64 too)."""
        return self.meta["object_kind"] == "complex"

    def save(self, path: str | Path) -> None:
        """Atomically write all arrays and ``meta`` (as JSON) to an ``.npz`` file."""
        save_npz(path, x=self.x, y=self.y, offsets=self.offsets, flips=self.flips,
                 labels=self.labels, base_index=self.base_index,
                 meta=np.array(json.dumps(self.meta, default=str)))


def load(path: str | Path) -> SynthesizedSet:
    """Read a file written by :meth:`SynthesizedSet.save`, checking shapes and values.

    Any problem (unreadable file, missing array, shapes that disagree with the
    recorded geometry, invalid measurements) raises
    :class:`prbench.io.CorruptFileError` naming the file and the ``synthesize`` rule.
    """
    keys = ("x", "y", "offsets", "flips", "labels", "base_index", "meta")
    stored = load_npz(path, keys=keys, produced_by="synthesize")
    try:
        data = SynthesizedSet(**{key: stored[key] for key in keys[:-1]},
                              meta=json.loads(str(stored["meta"])))
        geometry = data.geometry
    except (ValueError, KeyError, TypeError) as error:
        raise CorruptFileError.for_file(path, f"no valid metadata: {error}",
                                        produced_by="synthesize") from error
    count = data.x.shape[0]
    problem = None
    if data.x.shape != (count, geometry.n, geometry.n) or data.y.shape != (count, geometry.m,
                                                                         geometry.m):
        problem = (f"x {data.x.shape} and y {data.y.shape} are not (N, n, n) and (N, m, m) "
                   f"stacks of its recorded {geometry}")
    elif not (np.isfinite(data.y).all() and (data.y >= 0).all()):
        problem = "measurements y contain negative, NaN or infinite values"
    if problem:
        raise CorruptFileError.for_file(path, problem, produced_by="synthesize")
    return data


def validation_size(count: int, fraction: float) -> int:
    """Images held out for validation: the last ``round(fraction * count)`` (at least 1)
    of a synthesized training set (already in random order), for every network trained."""
    if not 0 < fraction < 1 or count < 2:
        raise ValueError(f"cannot hold out a fraction {fraction} of {count} images")
    return min(count - 1, max(1, round(fraction * count)))


def split_rng(seed: int, split: str) -> np.random.Generator:
    """Independent, reproducible random stream for one split (e.g. 'train', 'test')."""
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(split.encode())]))


def _smooth_phase(count: int, n: int, smoothing_px: float, std_rad: float,
                  rng: np.random.Generator) -> np.ndarray:
    """(count, n, n) smooth random phase fields with per-field std ``std_rad``."""
    from scipy.ndimage import gaussian_filter

    noise = rng.standard_normal((count, n, n))
    field = gaussian_filter(noise, sigma=(0.0, smoothing_px, smoothing_px), mode="wrap")
    field -= field.mean(axis=(1, 2), keepdims=True)
    field /= field.std(axis=(1, 2), keepdims=True)
    return std_rad * field


def _check_fits(height: int, width: int, n: int) -> None:
    if height > n or width > n:
        raise ValueError(f"images of size {(height, width)} do not fit the n = {n} frame")


def place(images: torch.Tensor, offsets: torch.Tensor, flips: torch.Tensor,
          geometry: Geometry) -> torch.Tensor:
    """Objects of the paper's data (Sec. 3, "Data"): (N, h, w) images -> (N, n, n) complex64.

    Image i fills rows offsets[i, 0] + (0..h-1) and columns offsets[i, 1] + (0..w-1)
    of an n x n zero frame (n = geometry.n); where flips[i], the whole frame is then
    conjugate-flipped (:func:`prbench.physics.conjugate_flip`), which moves the image
    to the offset (n - h - r, n - w - c). images: real or complex, cast to
    complex64; offsets: (N, 2) int64 in {0..n-h} x {0..n-w}; flips: (N,) bool; all
    on one device (the result's).
    """
    count, height, width = images.shape
    n = check_geometry(geometry).n
    _check_fits(height, width, n)
    if offsets.shape != (count, 2) or flips.shape != (count,):
        raise ValueError(f"offsets {tuple(offsets.shape)} and flips {tuple(flips.shape)} must be "
                         f"({count}, 2) and ({count},) for {count} images")
    highest = torch.tensor([n - height, n - width], device=offsets.device)
    if (offsets < 0).any() or (offsets > highest).any():
        raise ValueError(f"offsets must lie in {{0..{n - height}}} x {{0..{n - width}}}")
    device = images.device
    rows = offsets[:, :1] + torch.arange(height, device=device)  # (N, h)
    cols = offsets[:, 1:] + torch.arange(width, device=device)  # (N, w)
    x = torch.zeros(count, n, n, dtype=torch.complex64, device=device)
    x[torch.arange(count, device=device)[:, None, None], rows[:, :, None], cols[:, None, :]] = \
        images.to(torch.complex64)
    return torch.where(flips[:, None, None], conjugate_flip(x), x)


def random_placement(images: torch.Tensor, geometry: Geometry,
                     generator: torch.Generator | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`place` at random, as :func:`synthesize` does, from a CPU torch generator.

    images: (N, h, w) real or complex on the CPU. Offsets uniform on
    {0..n-h} x {0..n-w} (0..8 for 28 in 36), flips with probability 1/2.
    Returns x (N, n, n) complex64, offsets (N, 2) int64 (before the flip),
    flips (N,) bool.
    """
    count, height, width = images.shape
    n = check_geometry(geometry).n
    _check_fits(height, width, n)
    offsets = torch.stack([torch.randint(0, n - height + 1, (count,), generator=generator),
                           torch.randint(0, n - width + 1, (count,), generator=generator)], dim=1)
    flips = torch.rand(count, generator=generator) < 0.5
    return place(images, offsets, flips, geometry), offsets, flips


def synthesize(images: np.ndarray, labels: np.ndarray, count: int, *, seed: int, split: str,
               geometry: Geometry, object_kind: str = "real",
               phase_smoothing_px: float = 4.0, phase_std_rad: float = 1.0,
               photons: float | None = None, device: str = "cpu") -> SynthesizedSet:
    """Synthesize ``count`` shifted, randomly flipped objects and their measurements.

    images: (N, h, w) uint8 in 0..255 with h, w <= n; labels: (N,). Returns x
    (count, n, n) and y (count, m, m), (n, m) = geometry. A random subset of
    ``count`` images is drawn without replacement (in random order). ``photons``:
    the expected photon count per image of photon-limited measurements
    (:func:`prbench.physics.poisson_noise`, seeded from the same stream after every
    other draw; a positive finite real, NumPy scalars included); None: noiseless.
    Deterministic given (seed, split).
    """
    n, m = check_geometry(geometry).n, geometry.m
    if photons is not None:
        photons = check_photons(photons)  # before any work; a plain number for meta
    if images.ndim != 3 or images.shape[0] != labels.shape[0]:
        raise ValueError(f"images {images.shape} and labels {labels.shape} do not match")
    height, width = images.shape[1:]
    _check_fits(height, width, n)
    if not 0 < count <= images.shape[0]:
        raise ValueError(f"count = {count} must lie in 1..{images.shape[0]} (available images)")
    if object_kind not in OBJECT_KINDS:
        raise ValueError(f"object_kind must be one of {OBJECT_KINDS}, got {object_kind!r}")

    rng = split_rng(seed, split)
    base_index = rng.choice(images.shape[0], size=count, replace=False)
    offsets = np.stack([rng.integers(0, n - height + 1, size=count),
                        rng.integers(0, n - width + 1, size=count)], axis=1)
    flips = rng.random(count) < 0.5

    content = images[base_index].astype(np.float64) / 255.0
    if object_kind == "complex":
        phase = _smooth_phase(count, height, phase_smoothing_px, phase_std_rad, rng)
        content = content * np.exp(1j * phase)
    x = place(torch.from_numpy(content), torch.from_numpy(offsets), torch.from_numpy(flips),
              geometry)
    y = torch.cat([forward(chunk.to(device), m).cpu() for chunk in x.split(_FORWARD_CHUNK)])
    meta = {"split": split, "seed": seed, "n": n, "m": m, "object_kind": object_kind,
            "phase_smoothing_px": phase_smoothing_px, "phase_std_rad": phase_std_rad}
    if photons is not None:
        noise = torch.Generator().manual_seed(int(rng.integers(2**63 - 1)))
        y = poisson_noise(y, photons, generator=noise)
        meta["photons"] = photons
    return SynthesizedSet(x=x.numpy(), y=y.numpy().astype(np.float32), offsets=offsets,
                          flips=flips, labels=np.asarray(labels)[base_index].astype(np.int64),
                          base_index=base_index.astype(np.int64), meta=meta)
