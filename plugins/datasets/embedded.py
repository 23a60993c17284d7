"""``fashion-mnist-mini``: a 12 000-image Fashion-MNIST subset shipped inside the package.

It needs no download and no data directory, so it is the dataset of tests, examples and quick
runs. The file is made by ``scripts/make_embedded_dataset.py`` (1000 training and 200 test
images per class, stratified, seeded); see ``data/LICENSE-fashion-mnist.txt`` (MIT, Zalando SE).
"""

from __future__ import annotations

import io
import lzma
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

import ffbench
from ffbench.contracts import Dataset, DatasetBundle
from ffbench_plugins.datasets.common import FASHION_MNIST_CLASSES, SIZE_PARAMS, make_bundle, subset_options

DATA_FILE = "fashion-mnist-mini.npz.xz"


@lru_cache(maxsize=1)
def read_arrays() -> dict[str, np.ndarray]:
    """The embedded uint8 arrays ``x_train [10000, 28, 28]``, ``y_train``, ``x_test``, ``y_test``
    (decompressed once per process; read-only)."""
    packed = resources.files("ffbench_plugins.datasets").joinpath("data", DATA_FILE).read_bytes()
    with np.load(io.BytesIO(lzma.decompress(packed)), allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in ("x_train", "y_train", "x_test", "y_test")}
    for a in arrays.values():
        a.flags.writeable = False
    return arrays


class FashionMNISTMini(Dataset):
    name = "fashion-mnist-mini"
    version = "1"
    description = (
        "Fashion-MNIST subset embedded in the package: 10 000 train / 2 000 test images, "
        "1 (28x28) channel, 10 balanced classes; no download"
    )
    params = SIZE_PARAMS

    def load(self, data_dir: Path | None = None, download: bool = True) -> DatasetBundle:
        """Load the embedded data (``data_dir`` and ``download`` are not needed and ignored)."""
        a = read_arrays()
        return make_bundle(
            self.name,
            train=(a["x_train"][:, None], a["y_train"]),
            test=(a["x_test"][:, None], a["y_test"]),
            classes=FASHION_MNIST_CLASSES,
            **subset_options(self.values),
            source=f"embedded: ffbench_plugins/datasets/data/{DATA_FILE}",
        )


@ffbench.hookimpl
def ffbench_register_datasets(register):
    register(FashionMNISTMini)
