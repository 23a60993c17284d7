"""Helpers shared by the dataset plugins: IDX parsing, stratified subsets, hashing, normalisation.

Every dataset plugin reduces its source to four uint8/integer arrays (images ``[N, C, H, W]``
uint8, labels ``[N]``) and hands them to :func:`make_bundle`, so that subsetting, the content
hash and the normalisation are defined once.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import torch

from ffbench.component import Param
from ffbench.contracts import DatasetBundle, DataSplit
from ffbench.errors import ParameterError

FASHION_MNIST_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]

#: Seed of every stratified subset: subsets are a fixed function of the data and the size.
SUBSET_SEED = 0

SIZE_PARAMS = (
    Param("train_size", int, 0, "number of training images, a stratified subset (0 = all)", min=0),
    Param("test_size", int, 0, "number of test images, a stratified subset (0 = all)", min=0),
    Param(
        "subset_seed",
        int,
        SUBSET_SEED,
        "seed of the stratified subsets (another seed: another sample of the same size)",
        min=0,
    ),
    Param(
        "validation",
        int,
        0,
        "carve this many training images (stratified, seeded by subset_seed) "
        "into a validation split and evaluate on it instead of the test split; for selecting "
        "presets and settings without reading the test split (0 = off)",
        min=0,
    ),
    Param(
        "norm",
        str,
        "own",
        "normalisation statistics: own (the training images' mean/std) or mnist "
        "(MNIST's 0.1307/0.3081 on every dataset, as Tosato et al.'s code did)",
        choices=("own", "mnist"),
    ),
)

#: MNIST's training-set mean and std (of pixels scaled to [0, 1]), the statistics Tosato et al.'s
#: code normalised every dataset with.
MNIST_STATS = ((0.1307,), (0.3081,))

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzip-compressed if its name ends in ``.gz``."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number {raw[:4]!r})")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=_IDX_DTYPES[raw[2]], offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says shape {shape}, file holds {data.size} values")
    return data.reshape(shape)


def stratified_indices(labels: np.ndarray, size: int, seed: int = SUBSET_SEED) -> np.ndarray:
    """Indices of a seeded subset of ``size`` samples with the class proportions of ``labels``.

    Each class gets its proportional share (largest remainders, ties to the lower class, take
    the leftover samples); within a class the samples are a seeded random draw. Indices come
    back in ascending order. ``size`` 0 or >= ``len(labels)`` selects everything.
    """
    n = len(labels)
    if size <= 0 or size >= n:
        return np.arange(n)
    classes, counts = np.unique(labels, return_counts=True)
    quota = counts * size / n
    take = np.floor(quota).astype(np.int64)
    leftover = size - int(take.sum())
    order = np.lexsort((classes, -(quota - take)))  # largest remainder first, then class
    take[order[:leftover]] += 1
    rng = np.random.default_rng(seed)
    picked = [rng.permutation(np.flatnonzero(labels == c))[:k] for c, k in zip(classes, take)]
    return np.sort(np.concatenate(picked))


def content_hash(*splits: tuple[np.ndarray, np.ndarray]) -> str:
    """First 16 hex digits of the sha256 of ``(uint8 images, labels)`` splits, in order.

    Shapes are hashed with the bytes; labels are hashed as little-endian int64, so the hash does
    not depend on how a loader happened to type them.
    """
    h = hashlib.sha256()
    for images, labels in splits:
        if images.dtype != np.uint8:
            raise TypeError(f"content_hash expects uint8 images, got {images.dtype}")
        for a in (images, np.asarray(labels).astype("<i8")):
            h.update(f"{a.dtype.str}{a.shape};".encode())
            h.update(np.ascontiguousarray(a).data)
    return h.hexdigest()[:16]


def channel_stats(images: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 images ``[N, C, H, W]`` scaled to [0, 1] (exact)."""
    values = np.arange(256, dtype=np.float64) / 255.0
    means, stds = [], []
    for c in range(images.shape[1]):
        counts = np.bincount(images[:, c].ravel(), minlength=256).astype(np.float64)
        mean = float(counts @ values / counts.sum())
        var = float(counts @ (values - mean) ** 2 / counts.sum())
        means.append(mean)
        stds.append(var**0.5)
    return tuple(means), tuple(stds)


def normalise(images: np.ndarray, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """uint8 ``[N, C, H, W]`` -> float32 in [0, 1] -> ``(x - mean) / std`` per channel."""
    x = torch.from_numpy(np.ascontiguousarray(images)).to(torch.float32).div_(255.0)
    m = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
    return x.sub_(m).div_(s)


def make_bundle(
    name: str,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    classes: list[str],
    train_size: int = 0,
    test_size: int = 0,
    source: str = "",
    subset_seed: int = SUBSET_SEED,
    validation: int = 0,
    norm: str = "own",
) -> DatasetBundle:
    """Subset, hash and normalise uint8 ``(images [N, C, H, W], labels [N])`` splits.

    ``train_size`` / ``test_size`` take stratified subsets (seeded by ``subset_seed``). With
    ``validation`` > 0, that many of the (subset) training images, stratified, become the split
    evaluated instead of the test split, and the rest are trained on: the test split is then
    never read. The content hash covers the uint8 images and labels of the two splits returned;
    mean and std are those of the training images returned (``norm`` "own") or MNIST's
    (``norm`` "mnist"), applied to both splits.
    """
    (x_tr, y_tr), (x_te, y_te) = train, test
    sizes = (("train_size", train_size, y_tr, "training"), ("test_size", test_size, y_te, "test"))
    for key, size, split, what in sizes:
        if size > len(split):  # the identity would record a size that was not used
            raise ParameterError(
                f"Bad value {size} for parameter '{name}.{key}': the {what} split has {len(split)} images; "
                f"give at most {len(split)} (0 = all)."
            )
    i_tr = stratified_indices(y_tr, train_size, seed=subset_seed)
    i_te = stratified_indices(y_te, test_size, seed=subset_seed)
    x_tr, y_tr, x_te, y_te = x_tr[i_tr], np.asarray(y_tr)[i_tr], x_te[i_te], np.asarray(y_te)[i_te]
    if validation:
        if validation >= len(y_tr):
            raise ParameterError(
                f"Bad value {validation} for parameter '{name}.validation': it must be smaller than "
                f"the training split ({len(y_tr)} images), e.g. validation=2000."
            )
        i_val = stratified_indices(y_tr, validation, seed=subset_seed + 1)
        rest = np.setdiff1d(np.arange(len(y_tr)), i_val)
        x_te, y_te = x_tr[i_val], y_tr[i_val]
        x_tr, y_tr = x_tr[rest], y_tr[rest]
        source = f"{source} (validation: {validation} training images evaluated instead of the test split)"
    mean, std = MNIST_STATS if norm == "mnist" else channel_stats(x_tr)
    if norm == "mnist" and x_tr.shape[1] != 1:
        mean, std = mean * x_tr.shape[1], std * x_tr.shape[1]
    return DatasetBundle(
        name=name,
        train=DataSplit(normalise(x_tr, mean, std), torch.as_tensor(y_tr, dtype=torch.long)),
        test=DataSplit(normalise(x_te, mean, std), torch.as_tensor(y_te, dtype=torch.long)),
        classes=list(classes),
        shape=tuple(int(d) for d in x_tr.shape[1:]),  # type: ignore[arg-type]
        mean=mean,
        std=std,
        content_hash=content_hash((x_tr, y_tr), (x_te, y_te)),
        source=source,
    )


def subset_options(values: dict) -> dict:
    """The :func:`make_bundle` keyword arguments of a dataset's SIZE_PARAMS values."""
    return {k: values[k] for k in ("train_size", "test_size", "subset_seed", "validation", "norm")}
