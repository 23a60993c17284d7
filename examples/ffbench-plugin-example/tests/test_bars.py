"""The example dataset bars: the conformance suite and its images, checked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from ffbench_plugin_example.bars import CLASSES, SIZE, Bars, draw_bars

from ffbench.testing import conformance_suite, tiny_params

TestBarsConformance = conformance_suite(Bars, params=tiny_params(Bars))


def test_noiseless_images_by_hand():
    images, labels = draw_bars(40, 0.0, np.random.default_rng(0))
    assert images.shape == (40, 1, SIZE, SIZE) and images.dtype == np.uint8 and labels.dtype == np.int64
    assert set(labels.tolist()) == {0, 1, 2, 3}
    for image, label in zip(images[:, 0], labels):
        rows, cols = np.nonzero(image)
        assert len(rows) == SIZE and (image[rows, cols] == 255).all()  # one white line of 16 pixels
        name = CLASSES[label]
        if name == "horizontal":
            assert len(set(rows)) == 1
        elif name == "vertical":
            assert len(set(cols)) == 1
        elif name == "diagonal":
            assert len(set((cols - rows) % SIZE)) == 1
        else:
            assert len(set((cols + rows) % SIZE)) == 1


def test_normalisation_by_hand():
    # without noise 16 of 256 pixels are 1: mean 1/16, std sqrt(1/16 * 15/16)
    bundle = Bars(noise=0.0, train_size=50, test_size=10).load()
    assert bundle.mean == pytest.approx((1 / 16,))
    assert bundle.std == pytest.approx((math.sqrt(15) / 16,))
    assert float(bundle.train.x.max()) == pytest.approx((1 - 1 / 16) / (math.sqrt(15) / 16), rel=1e-6)
    assert bundle.classes == CLASSES and bundle.shape == (1, 16, 16)


def test_splits_and_hash():
    a = Bars(train_size=100, test_size=20).load()
    b = Bars(train_size=200, test_size=20).load()
    c = Bars(train_size=100, test_size=20, seed=1).load()
    # the test images do not depend on the training size (each bundle normalises them with its own
    # training images' mean and std: undo that to compare)
    assert torch.equal(a.test.y, b.test.y)
    assert torch.allclose(a.test.x * a.std[0] + a.mean[0], b.test.x * b.std[0] + b.mean[0], atol=1e-6)
    assert len({a.content_hash, b.content_hash, c.content_hash}) == 3
