"""The example negative generator pixel-shuffle: the conformance suite, its numbers on hand-made
tensors, its declared flags, and what it does to FF training."""

from __future__ import annotations

import torch
from ffbench_plugin_example.shuffle import PixelShuffleNegatives, shuffle_pixels, wrong_labels

from ffbench.contracts import TrainContext
from ffbench.registry import get_registry
from ffbench.testing import conformance_suite, tiny_bundle

TestPixelShuffleConformance = conformance_suite(PixelShuffleNegatives)
TestPixelShuffleAllResampledConformance = conformance_suite(
    PixelShuffleNegatives, params={"fraction": 1.0, "resample": True}
)


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_wrong_labels_by_hand():
    # with two allowed labels the wrong one is forced: 0 -> 2 and 2 -> 0 (class 1 is held out)
    y = torch.tensor([0, 2, 2, 0])
    assert wrong_labels(y, torch.tensor([2, 0]), seeded()).tolist() == [2, 0, 0, 2]
    # with ten: never the true label, every other label drawn
    y = torch.arange(10).repeat(100)
    drawn = wrong_labels(y, torch.arange(10), seeded())
    assert not bool((drawn == y).any())
    assert all(set(drawn[y == c].tolist()) == set(range(10)) - {c} for c in range(10))


def test_shuffle_pixels_by_hand():
    x = torch.arange(16.0).reshape(2, 8)  # distinct values: moves are visible
    assert torch.equal(shuffle_pixels(x, 0.0, seeded()), x)
    full = shuffle_pixels(x, 1.0, seeded())
    assert torch.equal(full.sort(dim=1).values, x)  # each row keeps its own values
    assert not torch.equal(full, x)
    half = shuffle_pixels(x, 0.5, seeded())  # k = round(0.5 * 8) = 4 positions per row permuted
    assert torch.equal(half.sort(dim=1).values, x)
    assert ((half == x).sum(dim=1) >= 8 - 4).all()  # at least the 4 others stay in place


def test_shuffle_keeps_the_shape_of_images():
    x = torch.rand(3, 1, 4, 4, generator=seeded(1))
    out = shuffle_pixels(x, 1.0, seeded())
    assert out.shape == x.shape
    assert torch.equal(out.flatten(1).sort(dim=1).values, x.flatten(1).sort(dim=1).values)


def test_declared_flags():
    assert PixelShuffleNegatives.produces_negatives and not PixelShuffleNegatives.needs_scores
    assert PixelShuffleNegatives().resamples is False  # drawn once, before training
    assert PixelShuffleNegatives(resample=True).resamples is True  # drawn every epoch


def test_scrambled_negatives_teach_ff_to_ignore_the_label():
    # negatives that differ from positives by their pixels can be told apart without reading the
    # label: with every pixel scrambled, FF's goodness-per-label inference stays at chance (0.1);
    # with none scrambled (wrong-label negatives) it learns. Measured 0.30 and 0.10.
    data, registry = tiny_bundle(), get_registry()
    ff = registry.build("rule", "ff[batch_size=100,epochs=5,layers=2,width=64]")
    l2 = registry.build("goodness", "l2")

    def accuracy(fraction: float) -> float:
        ctx = TrainContext(torch.device("cpu"), 0, list(range(10)), 10)
        model = ff.fit(data, l2, PixelShuffleNegatives(fraction=fraction), ctx)
        return float((model.predict(data.test.x) == data.test.y).float().mean())

    assert accuracy(0.0) > 0.2
    assert accuracy(1.0) < 0.16
