"""MNIST, Fashion-MNIST, KMNIST, CIFAR-10, SVHN and STL-10, read (and downloaded) by torchvision.

The data directory is ``load(data_dir=...)`` (the CLI's ``--data-dir``), else ``$FFBENCH_DATA``,
else ``<user cache>/ffbench/data``; under it each dataset keeps torchvision's own layout
(``MNIST/raw/``, ``cifar-10-batches-py/``, ``train_32x32.mat`` ...). Fashion-MNIST is also read
from Debian's ``dataset-fashion-mnist`` package when torchvision's files are absent. Torchvision's
download progress goes to stderr, so stdout stays clean for tables and JSON.
"""

from __future__ import annotations

import contextlib
import os
import sys
from abc import abstractmethod
from pathlib import Path
from typing import ClassVar

import numpy as np
import platformdirs
import torch
import torch.nn.functional as F
import torchvision.datasets as tvd

import ffbench
from ffbench.component import Param
from ffbench.contracts import Dataset, DatasetBundle
from ffbench.errors import DatasetNotFoundError, FFBenchError
from ffbench_plugins.datasets.common import FASHION_MNIST_CLASSES, SIZE_PARAMS, make_bundle, read_idx, subset_options

DATA_ENV = "FFBENCH_DATA"
#: Where Debian's ``dataset-fashion-mnist`` package installs the IDX files.
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")

Split = tuple[np.ndarray, np.ndarray]


def data_root(data_dir: Path | str | None) -> tuple[Path, str]:
    """The data directory and where it came from (argument, environment, or default cache)."""
    if data_dir is not None:
        return Path(data_dir).expanduser(), "passed with --data-dir"
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser(), f"set by ${DATA_ENV}"
    return Path(platformdirs.user_cache_dir("ffbench")) / "data", "the default"


def short_reason(exc: BaseException) -> str:
    """An exception's type, first and last lines (torchvision puts the cause last), in one line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = " ... ".join(lines[:1] + lines[1:][-1:])
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


class TorchvisionDataset(Dataset):
    """A dataset that torchvision reads and downloads; subclasses say which and how to unpack it."""

    params = SIZE_PARAMS
    #: Where torchvision keeps the files, relative to the data directory.
    layout: ClassVar[str] = ""

    def load(self, data_dir: Path | None = None, download: bool = True) -> DatasetBundle:
        root, origin = data_root(data_dir)
        train, test, classes, source = self.read(root, origin, download)
        return make_bundle(
            self.name,
            train,
            test,
            classes,
            source=source,
            **subset_options(self.values),
        )

    def read(self, root: Path, origin: str, download: bool) -> tuple[Split, Split, list[str], str]:
        """uint8 ``(images [N, C, H, W], labels)`` of both splits, class names and a source line."""
        try:
            train, test, classes = self.read_torchvision(root, download)
        except (RuntimeError, OSError) as exc:
            raise self.not_found(root, origin, download, exc) from None
        except Exception as exc:  # files present but not what torchvision expects (a bare assertion, ...)
            raise self.unreadable(root, origin, exc) from None
        return train, test, classes, f"torchvision {self.layout} in {root}"

    def unreadable(self, root: Path, origin: str, exc: BaseException) -> FFBenchError:
        """The one-paragraph error for files that exist but cannot be read: which, why, the fix."""
        return FFBenchError(
            f"Dataset '{self.name}': the files in the data directory {root} ({origin}) could not be read "
            f"({short_reason(exc)}); they are damaged or not torchvision's format ({self.layout}). Delete them so "
            f"that they are downloaded again, or pass --data-dir (or set {DATA_ENV}) to a folder with good copies."
        )

    @abstractmethod
    def read_torchvision(self, root: Path, download: bool) -> tuple[Split, Split, list[str]]:
        """Both splits via torchvision (downloading when allowed); raises as torchvision does."""

    def not_found(self, root: Path, origin: str, download: bool, exc: BaseException | None) -> DatasetNotFoundError:
        """The one-paragraph error for missing files: where we looked, why no download, the fix."""
        if download:
            why = f"Downloading it failed ({short_reason(exc)})." if exc else "Downloading it failed."
        else:
            why = "Downloading was disabled."
        fix = (
            f"To fix it, run once with network access so that torchvision downloads it into {root}, "
            f"or pass --data-dir (or set {DATA_ENV}) to a folder that holds torchvision's layout "
            f"({self.layout})"
        )
        return DatasetNotFoundError(
            f"Dataset '{self.name}' was not found. Looked for torchvision's files ({self.layout}) in the "
            f"data directory {root} ({origin}){self.also_looked()}. {why} {fix}{self.extra_fix()}."
        )

    def also_looked(self) -> str:
        """Other places searched, appended to the where-we-looked sentence of the not-found error."""
        return ""

    def extra_fix(self) -> str:
        """More ways to get the data, appended to the fix sentence of the not-found error."""
        return ""


class _MNISTLike(TorchvisionDataset):
    """MNIST-format datasets: 60 000 / 10 000 grey 28x28 images."""

    tv_class: ClassVar[type[tvd.MNIST]]

    def read_torchvision(self, root: Path, download: bool) -> tuple[Split, Split, list[str]]:
        with contextlib.redirect_stdout(sys.stderr):
            splits = [self.tv_class(str(root), train=t, download=download) for t in (True, False)]
        train, test = ((ds.data.numpy()[:, None], ds.targets.numpy()) for ds in splits)
        return train, test, list(self.tv_class.classes)


class MNIST(_MNISTLike):
    name = "mnist"
    version = "1"
    description = "MNIST handwritten digits (LeCun et al.): 60 000 / 10 000 grey 28x28 images, 10 classes"
    tv_class = tvd.MNIST
    layout = "MNIST/raw/"


class KMNIST(_MNISTLike):
    name = "kmnist"
    version = "1"
    description = "Kuzushiji-MNIST (Clanuwat et al.): 60 000 / 10 000 grey 28x28 cursive Japanese characters"
    tv_class = tvd.KMNIST
    layout = "KMNIST/raw/"


class FashionMNIST(_MNISTLike):
    name = "fashion-mnist"
    version = "1"
    description = (
        "Fashion-MNIST (Xiao et al., Zalando): 60 000 / 10 000 grey 28x28 clothing images; "
        "also read from Debian's dataset-fashion-mnist"
    )
    tv_class = tvd.FashionMNIST
    layout = "FashionMNIST/raw/"

    def read(self, root: Path, origin: str, download: bool) -> tuple[Split, Split, list[str], str]:
        """torchvision's files, else Debian's package, else a torchvision download."""
        try:
            return (*self.read_torchvision(root, download=False), f"torchvision {self.layout} in {root}")
        except (RuntimeError, OSError):
            pass
        except Exception as exc:  # files present but damaged: say so rather than read another copy silently
            raise self.unreadable(root, origin, exc) from None
        if self.has_debian_files():
            return (*self.read_debian(), f"Debian dataset-fashion-mnist in {DEBIAN_FASHION_MNIST}")
        if not download:
            raise self.not_found(root, origin, download, None)
        try:
            train, test, classes = self.read_torchvision(root, download=True)
        except (RuntimeError, OSError) as exc:
            raise self.not_found(root, origin, download, exc) from None
        except Exception as exc:
            raise self.unreadable(root, origin, exc) from None
        return train, test, classes, f"torchvision {self.layout} in {root}"

    @staticmethod
    def debian_files(split: str) -> tuple[Path, Path]:
        """The (images, labels) IDX files of a split ('train' or 't10k') in Debian's package."""
        return (
            DEBIAN_FASHION_MNIST / f"{split}-images-idx3-ubyte.gz",
            DEBIAN_FASHION_MNIST / f"{split}-labels-idx1-ubyte.gz",
        )

    def has_debian_files(self) -> bool:
        return all(p.is_file() for split in ("train", "t10k") for p in self.debian_files(split))

    def read_debian(self) -> tuple[Split, Split, list[str]]:
        train, test = (
            (read_idx(images)[:, None], read_idx(labels))
            for images, labels in map(self.debian_files, ("train", "t10k"))
        )
        return train, test, list(FASHION_MNIST_CLASSES)

    def also_looked(self) -> str:
        return f" and for Debian's dataset-fashion-mnist files in {DEBIAN_FASHION_MNIST}"

    def extra_fix(self) -> str:
        return ", or install Debian's package (apt-get install dataset-fashion-mnist)"


class CIFAR10(TorchvisionDataset):
    name = "cifar10"
    version = "1"
    description = "CIFAR-10 (Krizhevsky): 50 000 / 10 000 colour 32x32 images, 10 classes"
    layout = "cifar-10-batches-py/"

    def read_torchvision(self, root: Path, download: bool) -> tuple[Split, Split, list[str]]:
        with contextlib.redirect_stdout(sys.stderr):
            splits = [tvd.CIFAR10(str(root), train=t, download=download) for t in (True, False)]
        train, test = ((ds.data.transpose(0, 3, 1, 2), np.asarray(ds.targets)) for ds in splits)
        return train, test, list(splits[0].classes)


class SVHN(TorchvisionDataset):
    name = "svhn"
    version = "1"
    description = (
        "SVHN house numbers (Netzer et al.), core train/test splits: 73 257 / 26 032 colour "
        "32x32 images, digits 0-9 (the 'extra' split is not used)"
    )
    layout = "train_32x32.mat, test_32x32.mat"

    def read_torchvision(self, root: Path, download: bool) -> tuple[Split, Split, list[str]]:
        with contextlib.redirect_stdout(sys.stderr):
            splits = [tvd.SVHN(str(root), split=s, download=download) for s in ("train", "test")]
        train, test = ((ds.data, ds.labels) for ds in splits)  # torchvision maps label 10 to digit 0
        return train, test, [str(d) for d in range(10)]


#: STL-10's classes in label order (torchvision reads them from class_names.txt when present)
STL10_CLASSES = ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"]


def resize_uint8(images: np.ndarray, size: int) -> np.ndarray:
    """uint8 images [N, C, H, W] resized to [N, C, size, size]: bilinear with antialiasing (what
    torchvision's ``Resize`` does to tensors, as in the goodness study), rounded back to uint8
    (at most 0.5/255 from the float result). The images themselves when already that size."""
    if images.shape[-2:] == (size, size):
        return images
    out = torch.empty(len(images), images.shape[1], size, size, dtype=torch.uint8)
    for i in range(0, len(images), 1000):  # chunks: bounded float memory
        x = torch.from_numpy(images[i : i + 1000]).float()
        y = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        out[i : i + 1000] = y.round_().clamp_(0, 255).to(torch.uint8)
    return out.numpy()


class STL10(TorchvisionDataset):
    name = "stl10"
    version = "1"
    description = (
        "STL-10 (Coates et al.), labelled splits: 5 000 / 8 000 colour 96x96 images, 10 classes "
        "(the 100 000 unlabelled images are not used); size=32 resizes as the goodness study"
    )
    layout = "stl10_binary/"
    params = SIZE_PARAMS + (
        Param(
            "size",
            int,
            96,
            "side of the images in pixels: 96 (STL-10's own) or smaller, resized bilinearly with "
            "antialiasing (32: the goodness study's 32x32, CIFAR-10's input size)",
            min=1,
            max=96,
        ),
    )

    def read_torchvision(self, root: Path, download: bool) -> tuple[Split, Split, list[str]]:
        # torchvision checks (and downloads) the whole archive, unlabelled images included
        with contextlib.redirect_stdout(sys.stderr):
            splits = [tvd.STL10(str(root), split=s, download=download) for s in ("train", "test")]
        train, test = ((resize_uint8(ds.data, self.values["size"]), np.asarray(ds.labels)) for ds in splits)
        return train, test, list(getattr(splits[0], "classes", STL10_CLASSES))


@ffbench.hookimpl
def ffbench_register_datasets(register):
    for cls in (MNIST, FashionMNIST, KMNIST, CIFAR10, SVHN, STL10):
        register(cls)
