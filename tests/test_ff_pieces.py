"""Hand-computed checks of the FF building blocks: embedding, goodness, loss, negatives, Hoyer."""

import math

import pytest
import torch

from ffbench.contracts import ff_logistic_loss
from ffbench_plugins.goodness.norms import L2Goodness, MeanSquaresGoodness, SumSquaresGoodness
from ffbench_plugins.metrics.sparsity import hoyer
from ffbench_plugins.negatives.hard import sample_hard_labels
from ffbench_plugins.negatives.wrong_label import draw_wrong_labels
from ffbench_plugins.rules.ff_pieces import LabelEmbedding, normalize


def test_label_embedding_grey():
    x = torch.arange(1.0, 17.0).reshape(1, 16)  # a 4x4 "image", 3 classes fit in the top row
    out = LabelEmbedding((1, 4, 4), num_classes=3, value=9.0)(x, torch.tensor([1]))
    assert out[0, :4].tolist() == [0.0, 9.0, 0.0, 4.0]  # first 3 zeroed, label 1 set, 4th untouched
    assert torch.equal(out[0, 4:], x[0, 4:])
    assert x[0, 0] == 1.0  # input not modified


def test_label_embedding_rgb_sets_every_channel():
    x = torch.ones(2, 3 * 4 * 4)
    out = LabelEmbedding((3, 4, 4), num_classes=3, value=5.0)(x, torch.tensor([0, 2]))
    for c in range(3):
        off = c * 16
        assert out[0, off : off + 3].tolist() == [5.0, 0.0, 0.0]
        assert out[1, off : off + 3].tolist() == [0.0, 0.0, 5.0]
        assert out[0, off + 3] == 1.0


def test_all_labels_layout_is_label_major():
    x = torch.zeros(2, 16)
    out = LabelEmbedding((1, 4, 4), 3, 1.0).all_labels(x, 3)
    assert out.shape == (6, 16)
    assert out[:, :3].argmax(dim=1).tolist() == [0, 0, 1, 1, 2, 2]


def test_goodness_scores():
    h = torch.tensor([[3.0, 4.0], [0.0, 0.0]])
    assert L2Goodness().score(h).tolist() == [5.0, 0.0]
    assert SumSquaresGoodness().score(h).tolist() == [25.0, 0.0]
    assert MeanSquaresGoodness().score(h).tolist() == [12.5, 0.0]


def test_ff_loss_hand_computed():
    # theta = 3; positives G = 5, 3; negatives G = 1
    # softplus(3-5) = ln(1+e^-2), softplus(0) = ln 2, softplus(1-3) = ln(1+e^-2)
    expected = (2 * math.log(1 + math.exp(-2)) + math.log(2)) / 3
    got = ff_logistic_loss(torch.tensor([5.0, 3.0]), torch.tensor([1.0]), 3.0)
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_layer_loss_uses_the_goodness_and_its_threshold():
    h_pos, h_neg = torch.tensor([[3.0, 4.0]]), torch.tensor([[0.0, 1.0]])
    loss = L2Goodness().layer_loss(h_pos, h_neg).item()
    assert loss == pytest.approx((math.log(1 + math.exp(-2)) + math.log(1 + math.exp(-2))) / 2, rel=1e-6)
    # sumsq with the automatic threshold = width 2: G_pos = 25, G_neg = 1
    loss = SumSquaresGoodness().layer_loss(h_pos, h_neg).item()
    assert loss == pytest.approx((math.log1p(math.exp(2 - 25)) + math.log1p(math.exp(1 - 2))) / 2, rel=1e-6)


def test_normalize_rows():
    out = normalize(torch.tensor([[3.0, 4.0], [0.0, 2.0]]))
    assert torch.allclose(out, torch.tensor([[0.6, 0.8], [0.0, 1.0]]))


def test_wrong_labels_are_uniform_over_the_wrong_ones_and_respect_allowed():
    g = torch.Generator().manual_seed(0)
    y = torch.full((9000,), 4)
    allowed = torch.tensor([0, 1, 2, 4, 5, 6, 7, 8, 9])  # class 3 held out
    w = draw_wrong_labels(y, allowed, g)
    counts = torch.bincount(w, minlength=10)
    assert counts[3] == 0 and counts[4] == 0
    assert counts[allowed[allowed != 4]].min() > 900  # ~1125 each for 8 labels


def test_hard_labels_follow_the_scores_and_never_the_true_one():
    g = torch.Generator().manual_seed(0)
    scores = torch.log(torch.tensor([[0.7, 0.2, 0.1]])).repeat(6000, 1)
    y = torch.zeros(6000, dtype=torch.long)
    w = sample_hard_labels(scores, y, torch.arange(3), g)
    assert (w != 0).all()
    frac = (w == 1).float().mean().item()
    assert frac == pytest.approx(2 / 3, abs=0.03)  # 0.2 / (0.2 + 0.1)


def test_hoyer_hand_computed():
    one_hot = torch.tensor([[0.0, 0.0, 0.0, 5.0]])
    flat = torch.tensor([[1.0, 1.0, 1.0, 1.0]])
    half = torch.tensor([[1.0, 1.0, 0.0, 0.0]])  # l1/l2 = 2/sqrt(2) = sqrt(2); (2 - sqrt2)/(2 - 1)
    assert hoyer(one_hot).item() == pytest.approx(1.0)
    assert hoyer(flat).item() == pytest.approx(0.0, abs=1e-12)
    assert hoyer(half).item() == pytest.approx(2 - math.sqrt(2))
    assert math.isnan(hoyer(torch.zeros(1, 4)).item())
