"""Each rule learns on a small real subset (1 000 Fashion-MNIST training images): accuracy well
above chance (10 %). Small widths and few epochs keep this fast on 2 CPU cores."""

import pytest
import torch
from conftest import accuracy

from ffbench.contracts import TrainContext
from ffbench_plugins.goodness.norms import L2Goodness, SumSquaresGoodness
from ffbench_plugins.negatives.hard import HardNegatives
from ffbench_plugins.negatives.wrong_label import WrongLabelNegatives
from ffbench_plugins.rules.bp import BPRule
from ffbench_plugins.rules.bp_ff import BPFFRule
from ffbench_plugins.rules.ff import FFRule

SMALL = dict(width=256, layers=2, batch_size=100)


@pytest.mark.parametrize(
    "rule, goodness, negatives, floor",
    [
        (FFRule(epochs=20, **SMALL), L2Goodness(), WrongLabelNegatives(), 0.5),
        (FFRule(epochs=20, schedule="simultaneous", **SMALL), L2Goodness(), WrongLabelNegatives(resample=True), 0.4),
        (FFRule(epochs=10, **SMALL), SumSquaresGoodness(), HardNegatives(), 0.4),
        (BPFFRule(epochs=30, **{**SMALL, "lr": 3e-3}), L2Goodness(), WrongLabelNegatives(), 0.5),
        (BPRule(epochs=5, **{**SMALL, "lr": 1e-3}), None, None, 0.6),
    ],
    ids=["ff-greedy", "ff-simultaneous-resample", "ff-sumsq-hard", "bp-ff", "bp"],
)
def test_rule_learns(tiny_data, ctx, rule, goodness, negatives, floor):
    model = rule.fit(tiny_data, goodness, negatives, ctx)
    acc = accuracy(model, tiny_data)
    assert acc > floor, f"{rule.short_identity}: test accuracy {acc:.3f} <= {floor}"
    reps = model.representations(tiny_data.test.x[:7], tiny_data.test.y[:7])
    assert [r.shape for r in reps] == [(7, 256), (7, 256)]
    assert all((r >= 0).all() for r in reps)  # post-ReLU
    assert [w.shape[0] for w in model.weights()] == [256, 256]


def test_training_is_deterministic_under_a_seed(tiny_data):
    def train(seed):
        ctx = TrainContext(torch.device("cpu"), seed, list(range(10)), 10)
        return FFRule(epochs=1, width=32, layers=1, batch_size=200).fit(
            tiny_data, L2Goodness(), WrongLabelNegatives(), ctx
        )

    a, b, c = train(0), train(0), train(1)
    assert torch.equal(a.weights()[0], b.weights()[0])
    assert not torch.equal(a.weights()[0], c.weights()[0])


def test_held_out_class_never_appears_in_training(tiny_data):
    data = tiny_data.without_classes([3])
    assert not (data.train.y == 3).any() and (data.test.y == 3).any()
    ctx = TrainContext(torch.device("cpu"), 0, [c for c in range(10) if c != 3], 10)
    model = FFRule(epochs=20, **SMALL).fit(data, L2Goodness(), WrongLabelNegatives(), ctx)
    assert accuracy(model, data) > 0.4
