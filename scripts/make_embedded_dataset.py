"""Build the embedded ``fashion-mnist-mini`` data file from Debian's Fashion-MNIST package.

Reads the IDX files of ``dataset-fashion-mnist`` (``apt-get install dataset-fashion-mnist``),
takes a stratified subset with a fixed seed (1000 training and 200 test images per class) and
writes ``plugins/datasets/data/fashion-mnist-mini.npz.xz`` (an ``np.savez``-format archive of
uint8 ``x_train [N, 28, 28]``, ``y_train``, ``x_test``, ``y_test``, compressed with xz) plus
the licence file next to it. The output is byte-for-byte deterministic.

    python scripts/make_embedded_dataset.py [--source DIR]
"""

from __future__ import annotations

import argparse
import io
import lzma
import zipfile
from pathlib import Path

import numpy as np

from ffbench_plugins.datasets.common import read_idx, stratified_indices

SOURCE = Path("/usr/share/datasets/fashion-mnist")
OUT_DIR = Path(__file__).resolve().parent.parent / "plugins" / "datasets" / "data"
DATA_FILE = "fashion-mnist-mini.npz.xz"
LICENSE_FILE = "LICENSE-fashion-mnist.txt"
TRAIN_PER_CLASS, TEST_PER_CLASS, NUM_CLASSES = 1000, 200, 10
SEED = 20170825  # Fashion-MNIST's release date; any fixed value would do

LICENSE_TEXT = f"""\
fashion-mnist-mini.npz.xz is a subset of Fashion-MNIST
(https://github.com/zalandoresearch/fashion-mnist), by Zalando Research.

It holds {TRAIN_PER_CLASS * NUM_CLASSES} training images ({TRAIN_PER_CLASS} per class) and \
{TEST_PER_CLASS * NUM_CLASSES} test images ({TEST_PER_CLASS} per class),
a stratified random subset (seed {SEED}) of the original training and test sets, unchanged
otherwise (uint8, 28x28). It was made by scripts/make_embedded_dataset.py of ffbench from the
Debian package dataset-fashion-mnist. Fashion-MNIST is distributed under the MIT licence:

The MIT License (MIT)

Copyright (c) 2017 Zalando SE

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


def subset(source: Path, split: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A stratified, seeded subset of ``size`` images and labels of one IDX split."""
    images = read_idx(source / f"{split}-images-idx3-ubyte.gz")
    labels = read_idx(source / f"{split}-labels-idx1-ubyte.gz")
    keep = stratified_indices(labels, size, seed=SEED)
    return np.ascontiguousarray(images[keep]), np.ascontiguousarray(labels[keep])


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An ``np.savez`` archive (stored, not deflated) with fixed timestamps, so its bytes are stable."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for key, value in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with archive.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, value, allow_pickle=False)
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=SOURCE, help="folder of Fashion-MNIST's *-ubyte.gz files")
    args = parser.parse_args()

    x_train, y_train = subset(args.source, "train", TRAIN_PER_CLASS * NUM_CLASSES)
    x_test, y_test = subset(args.source, "t10k", TEST_PER_CLASS * NUM_CLASSES)
    for name, y, per_class in (("train", y_train, TRAIN_PER_CLASS), ("test", y_test, TEST_PER_CLASS)):
        if not np.array_equal(np.bincount(y, minlength=NUM_CLASSES), np.full(NUM_CLASSES, per_class)):
            raise SystemExit(f"{name} subset is not balanced: {np.bincount(y)}")

    raw = npz_bytes({"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test})
    packed = lzma.compress(raw, format=lzma.FORMAT_XZ, preset=9 | lzma.PRESET_EXTREME)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUT_DIR / DATA_FILE).write_bytes(packed)
    (OUT_DIR / LICENSE_FILE).write_text(LICENSE_TEXT, encoding="utf-8")
    print(f"train {x_train.shape}, test {x_test.shape}")
    print(f"npz {len(raw):,} bytes -> {OUT_DIR / DATA_FILE}: {len(packed):,} bytes ({len(packed) / 2**20:.2f} MiB)")
    print(f"licence -> {OUT_DIR / LICENSE_FILE}")


if __name__ == "__main__":
    main()
