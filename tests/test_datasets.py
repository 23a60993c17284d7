"""The dataset plugins: the embedded Fashion-MNIST subset, torchvision-backed sets, their errors."""

from __future__ import annotations

import gzip
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
import torch
import torchvision.datasets as tvd

from ffbench.errors import DatasetNotFoundError
from ffbench_plugins.datasets import common, embedded
from ffbench_plugins.datasets import torchvision_sets as tvs
from ffbench_plugins.datasets.embedded import FashionMNISTMini

DATA_DIR = Path(embedded.__file__).parent / "data"


# -- the embedded set -----------------------------------------------------------------------


def test_embedded_file_is_small_and_licensed():
    assert (DATA_DIR / embedded.DATA_FILE).stat().st_size <= 5_000_000
    licence = (DATA_DIR / "LICENSE-fashion-mnist.txt").read_text()
    assert "Copyright (c) 2017 Zalando SE" in licence and "MIT" in licence


def test_embedded_shapes_dtypes_and_balance():
    b = FashionMNISTMini().load()
    assert b.name == "fashion-mnist-mini" and b.shape == (1, 28, 28) and b.num_classes == 10
    assert b.classes[0] == "T-shirt/top" and b.classes[-1] == "Ankle boot"
    assert b.train.x.shape == (10_000, 1, 28, 28) and b.test.x.shape == (2_000, 1, 28, 28)
    assert b.train.x.dtype == torch.float32 and b.train.y.dtype == torch.long
    assert torch.bincount(b.train.y).tolist() == [1000] * 10
    assert torch.bincount(b.test.y).tolist() == [200] * 10


def test_embedded_normalisation_from_train_split():
    b = FashionMNISTMini().load()
    assert abs(b.train.x.mean().item()) < 1e-4
    assert abs(b.train.x.std().item() - 1.0) < 1e-4
    assert len(b.mean) == len(b.std) == 1 and 0.2 < b.mean[0] < 0.4  # Fashion-MNIST's ~0.286
    assert abs(b.test.x.mean().item()) < 0.05  # test is normalised with the train statistics


def test_hash_stable_and_changes_with_subset():
    full_a, full_b = FashionMNISTMini().load(), FashionMNISTMini().load()
    assert full_a.content_hash == full_b.content_hash
    assert len(full_a.content_hash) == 16 and int(full_a.content_hash, 16) >= 0
    small = FashionMNISTMini(train_size=100, test_size=50).load()
    assert small.content_hash not in (full_a.content_hash, FashionMNISTMini(train_size=100).load().content_hash)


def test_embedded_subset_balanced_and_deterministic():
    a = FashionMNISTMini(train_size=100, test_size=25).load()
    b = FashionMNISTMini.from_spec({"train_size": "100", "test_size": "25"}).load()
    assert torch.bincount(a.train.y).tolist() == [10] * 10
    assert sorted(torch.bincount(a.test.y).tolist()) == [2] * 5 + [3] * 5
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.test.y, b.test.y)
    assert abs(a.train.x.mean().item()) < 1e-4  # statistics of the subset actually used


# -- helpers --------------------------------------------------------------------------------


def test_stratified_indices_keep_proportions():
    labels = np.repeat([0, 1, 2], [600, 300, 100])
    picked = common.stratified_indices(labels, 100)
    assert np.bincount(labels[picked]).tolist() == [60, 30, 10]
    assert np.array_equal(picked, common.stratified_indices(labels, 100))
    assert np.all(np.diff(picked) > 0)
    assert not np.array_equal(picked, common.stratified_indices(labels, 100, seed=1))
    assert len(common.stratified_indices(labels, 0)) == len(common.stratified_indices(labels, 5000)) == 1000


def test_content_hash_ignores_label_dtype_but_not_data():
    x, y = np.zeros((4, 1, 2, 2), np.uint8), np.array([0, 1, 2, 3])
    h = common.content_hash((x, y), (x, y))
    assert h == common.content_hash((x, y.astype(np.uint8)), (x, y.astype(np.int32)))
    assert h != common.content_hash((x, y[::-1]), (x, y))
    assert h != common.content_hash((x.reshape(4, 1, 1, 4), y), (x, y))


def test_read_idx_roundtrip(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / "x-idx3-ubyte.gz"
    with gzip.open(path, "wb") as f:
        f.write(bytes([0, 0, 0x08, 3]) + b"".join(d.to_bytes(4, "big") for d in images.shape) + images.tobytes())
    assert np.array_equal(common.read_idx(path), images)


def test_data_root_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv(tvs.DATA_ENV, str(tmp_path / "env"))
    assert tvs.data_root(tmp_path / "arg")[0] == tmp_path / "arg"
    assert tvs.data_root(None)[0] == tmp_path / "env"
    monkeypatch.delenv(tvs.DATA_ENV)
    assert tvs.data_root(None)[0].parts[-1] == "data"


# -- torchvision-backed sets ----------------------------------------------------------------


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_mnist_reads_torchvision_layout(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", 40), ("t10k", 20)):
        _write_idx(raw / f"{split}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        _write_idx(raw / f"{split}-labels-idx1-ubyte", np.arange(n) % 10)
    b = tvs.MNIST(train_size=20).load(tmp_path, download=False)
    assert b.shape == (1, 28, 28) and len(b.train) == 20 and len(b.test) == 20
    assert torch.bincount(b.train.y).tolist() == [2] * 10 and b.classes[0] == "0 - zero"
    assert str(tmp_path) in b.source


class _FakeColour:
    """Stands in for torchvision's CIFAR10 / SVHN: random uint8 data in their layouts."""

    classes = [f"c{i}" for i in range(10)]

    def __init__(self, root, train=True, split="train", download=False, layout="NHWC"):
        n = 30 if (train and split == "train") else 10
        data = np.random.default_rng(n).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        self.data = data if layout == "NHWC" else data.transpose(0, 3, 1, 2)
        self.targets = self.labels = np.arange(n) % 10


@pytest.mark.parametrize("name, cls, layout", [("cifar10", tvs.CIFAR10, "NHWC"), ("svhn", tvs.SVHN, "NCHW")])
def test_colour_sets_unpack_to_nchw(monkeypatch, tmp_path, name, cls, layout):
    fake = lambda root, **kw: _FakeColour(root, layout=layout, **kw)  # noqa: E731
    monkeypatch.setattr(tvd, "CIFAR10" if name == "cifar10" else "SVHN", fake)
    b = cls().load(tmp_path, download=False)
    assert b.shape == (3, 32, 32) and len(b.mean) == 3 and len(b.train) == 30
    assert torch.allclose(b.train.x.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-4)
    assert b.classes == (_FakeColour.classes if name == "cifar10" else [str(d) for d in range(10)])


@pytest.mark.skipif(
    not tvs.DEBIAN_FASHION_MNIST.is_dir(),
    reason="Debian's dataset-fashion-mnist is not installed (/usr/share/datasets/fashion-mnist)",
)
def test_fashion_mnist_from_debian_files(tmp_path):
    b = tvs.FashionMNIST(train_size=1000, test_size=100).load(tmp_path, download=False)
    assert "Debian" in b.source and b.classes == common.FASHION_MNIST_CLASSES
    assert b.shape == (1, 28, 28) and len(b.train) == 1000 and len(b.test) == 100
    assert torch.bincount(b.train.y).tolist() == [100] * 10
    assert list(tmp_path.iterdir()) == []  # read in place, nothing copied


def test_missing_dataset_without_download(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        tvs.MNIST().load(tmp_path, download=False)
    message = str(info.value)
    assert "'mnist'" in message and str(tmp_path) in message and "MNIST/raw" in message
    assert "disabled" in message and "--data-dir" in message and tvs.DATA_ENV in message
    assert "\n" not in message


def _offline_download(*args, **kwargs):
    raise URLError("[Errno -3] Temporary failure in name resolution")


def test_missing_dataset_download_fails_offline(monkeypatch, tmp_path):
    # torchvision's own mirror loop runs; every mirror fails as it would without network
    monkeypatch.setattr("torchvision.datasets.mnist.download_and_extract_archive", _offline_download)
    with pytest.raises(DatasetNotFoundError) as info:
        tvs.MNIST().load(tmp_path, download=True)
    message = str(info.value)
    assert "failed" in message and "Error downloading" in message and str(tmp_path) in message
    assert "network" in message and "\n" not in message


def test_fashion_mnist_missing_everywhere(monkeypatch, tmp_path):
    monkeypatch.setattr(tvs, "DEBIAN_FASHION_MNIST", tmp_path / "no-debian")
    monkeypatch.setattr(tvd.FashionMNIST, "download", lambda self: _offline_download())
    with pytest.raises(DatasetNotFoundError) as info:
        tvs.FashionMNIST().load(tmp_path, download=True)
    message = str(info.value)
    assert str(tmp_path / "no-debian") in message and "apt-get install dataset-fashion-mnist" in message
    assert "URLError" in message


def test_validation_split_is_carved_from_training_and_checked():
    from ffbench.errors import ParameterError
    from ffbench_plugins.datasets.common import make_bundle

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(100, 1, 4, 4), dtype=np.uint8)
    y = np.repeat(np.arange(4), 25)
    b = make_bundle("toy", (x, y), (x[:8], y[:8]), ["a", "b", "c", "d"], validation=20)
    assert len(b.train.y) == 80 and len(b.test.y) == 20
    assert np.bincount(b.test.y.numpy()).tolist() == [5, 5, 5, 5]  # stratified
    again = make_bundle("toy", (x, y), (x[:8], y[:8]), ["a", "b", "c", "d"], validation=20)
    assert torch.equal(b.test.x, again.test.x)  # deterministic
    with pytest.raises(ParameterError, match="toy.validation"):
        make_bundle("toy", (x, y), (x[:8], y[:8]), ["a", "b", "c", "d"], validation=100)


# -- STL-10 ----------------------------------------------------------------------------------


class _FakeSTL10:
    """Stands in for torchvision's STL10: uint8 [N, 3, 96, 96] (its NCHW layout), labels 0-9;
    image i of a split is constant, = 20 * (i % 10) in every channel."""

    def __init__(self, root, split="train", download=False):
        n = 40 if split == "train" else 20
        self.labels = np.arange(n) % 10
        self.data = np.broadcast_to((20 * self.labels).astype(np.uint8)[:, None, None, None], (n, 3, 96, 96)).copy()
        self.classes = list(tvs.STL10_CLASSES)


def test_stl10_reads_labelled_splits(monkeypatch, tmp_path):
    monkeypatch.setattr(tvd, "STL10", _FakeSTL10)
    b = tvs.STL10(train_size=20, test_size=10).load(tmp_path, download=False)
    assert b.shape == (3, 96, 96) and len(b.train) == 20 and len(b.test) == 10
    assert torch.bincount(b.train.y).tolist() == [2] * 10 and b.classes[0] == "airplane"
    assert "stl10_binary" in b.source and str(tmp_path) in b.source


def test_stl10_resized_to_32(monkeypatch, tmp_path):
    monkeypatch.setattr(tvd, "STL10", _FakeSTL10)
    b = tvs.STL10(size=32, norm="own").load(tmp_path, download=False)
    assert b.shape == (3, 32, 32) and b.train.x.shape == (40, 3, 32, 32)
    # constant images stay constant through the resize: undoing the normalisation gives 20 k / 255
    raw = b.train.x * torch.tensor(b.std).view(1, 3, 1, 1) + torch.tensor(b.mean).view(1, 3, 1, 1)
    expected = (20.0 * b.train.y.float() / 255).view(-1, 1, 1, 1).expand_as(raw)
    assert torch.allclose(raw, expected, atol=1e-5)


def test_resize_uint8_averages_a_checkerboard():
    # a 1-pixel checkerboard of 0 / 200 downsampled 96 -> 32 with antialiasing averages to ~100
    board = ((np.indices((96, 96)).sum(0) % 2) * 200).astype(np.uint8)[None, None]
    out = tvs.resize_uint8(board, 32)
    assert out.shape == (1, 1, 32, 32) and out.dtype == np.uint8
    assert np.abs(out[0, 0].astype(int) - 100).max() <= 1  # 99, 100 or 101: the filter is not a 3x3 box
    assert tvs.resize_uint8(board, 96) is board


def test_stl10_size_is_checked():
    from ffbench.errors import ParameterError

    with pytest.raises(ParameterError, match="size.*<= 96"):
        tvs.STL10(size=128)


def test_stl10_missing_without_download(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        tvs.STL10().load(tmp_path, download=False)
    message = str(info.value)
    assert "'stl10'" in message and "stl10_binary/" in message and str(tmp_path) in message
    assert "disabled" in message and "--data-dir" in message and "\n" not in message


def test_stl10_download_fails_offline(monkeypatch, tmp_path):
    monkeypatch.setattr("torchvision.datasets.stl10.download_and_extract_archive", _offline_download)
    with pytest.raises(DatasetNotFoundError) as info:
        tvs.STL10().load(tmp_path, download=True)
    message = str(info.value)
    assert "failed" in message and "URLError" in message and "network" in message
