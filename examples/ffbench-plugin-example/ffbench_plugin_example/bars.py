"""Bars: a synthetic dataset, generated in memory (no files, no download; works offline).

Each image is 16 x 16 pixels, one channel, black, with one white line of 16 pixels: a row
(class ``horizontal``), a column (``vertical``), or a wrapped diagonal ``(i, (i + o) mod 16)``
(``diagonal``) or anti-diagonal ``(i, (o - i) mod 16)`` (``anti-diagonal``), at an offset drawn
uniformly from 0..15; classes are drawn uniformly. Then Gaussian pixel noise of std ``noise``
(on the [0, 1] scale) is added, values are clipped to [0, 1] and stored as uint8. The training
and test images come from two random streams of ``seed``, so one split's size never changes the
other split. 16 pixels per row leave room for an FF label embedding of the 4 classes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import ffbench
from ffbench.component import Param
from ffbench.contracts import Dataset, DatasetBundle
from ffbench_plugins.datasets.common import make_bundle

SIZE = 16
IDX = np.arange(SIZE)  # 0..15: the row (or column) of each pixel of a line
#: class name -> (rows, columns) of the 16 white pixels of its line at offset o
LINES = {
    "horizontal": lambda o: (np.full(SIZE, o), IDX),
    "vertical": lambda o: (IDX, np.full(SIZE, o)),
    "diagonal": lambda o: (IDX, (IDX + o) % SIZE),
    "anti-diagonal": lambda o: (IDX, (o - IDX) % SIZE),
}
CLASSES = list(LINES)


def draw_bars(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 images [n, 1, 16, 16], int64 labels [n]) drawn from ``rng``."""
    labels, offsets = rng.integers(0, len(CLASSES), n), rng.integers(0, SIZE, n)
    images = np.zeros((n, SIZE, SIZE))
    for k, (label, offset) in enumerate(zip(labels, offsets)):
        rows, cols = LINES[CLASSES[label]](offset)
        images[k, rows, cols] = 1.0
    images = np.clip(images + noise * rng.standard_normal(images.shape), 0.0, 1.0)
    return np.round(images * 255).astype(np.uint8)[:, None], labels.astype(np.int64)


class Bars(Dataset):
    name = "bars"
    version = "1"
    description = "synthetic 16x16 images of one line: horizontal, vertical, diagonal or anti-diagonal"
    params = (  # train_size / test_size are the names ffbench.testing.tiny_params shrinks
        Param("train_size", int, 2000, "number of training images", min=1),
        Param("test_size", int, 500, "number of test images", min=1),
        Param("noise", float, 0.2, "std of the Gaussian pixel noise, on the [0, 1] pixel scale", min=0.0),
        Param("seed", int, 0, "seed of the generated images (another seed: another sample)", min=0),
    )

    def load(self, data_dir: Path | None = None, download: bool = True) -> DatasetBundle:
        """Generate both splits (``data_dir`` and ``download`` are ignored: there are no files).
        A dataset read from files raises ffbench.errors.DatasetNotFoundError when they are
        missing, naming where it looked and how to get them."""
        v = self.values
        train = draw_bars(v["train_size"], v["noise"], np.random.default_rng([v["seed"], 0]))
        test = draw_bars(v["test_size"], v["noise"], np.random.default_rng([v["seed"], 1]))
        # make_bundle normalises with the training images' mean/std and hashes the uint8 data
        return make_bundle(self.name, train, test, CLASSES, source=f"generated: bars, seed {v['seed']}")


@ffbench.hookimpl
def ffbench_register_datasets(register):
    register(Bars)
