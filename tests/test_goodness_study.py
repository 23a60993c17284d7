"""The goodness functions of "In Search of Goodness" (plugins/goodness/goodness_study.py):
hand-computed scores for every class, and the conformance suite."""

from __future__ import annotations

import pytest
import torch

from ffbench.testing import check_component
from ffbench_plugins.goodness.goodness_study import (
    STUDY_GOODNESS,
    AttentionWeighted,
    FractalDimension,
    GameTheoretic,
    HuberNorm,
    Oja,
    OutlierTrimmed,
    SparseL1,
    ffbench_register_goodness,
)

# h = [[3, 4], [0, 0]]: S(h) = 9 + 16 = 25 and 0; sum |h| = 7; sum h^4 = 81 + 256 = 337.
H = torch.tensor([[3.0, 4.0], [0.0, 0.0]])
# h = [[2, 2]]: S(h) = 8, every distribution over its units is uniform (normalised entropy 1).
FLAT = torch.tensor([[2.0, 2.0]])


def score(cls, h, **params):
    return cls.from_spec(params).score(h)


def test_sparse_l1_by_hand():
    # 25 - 0.01 * 7 = 24.93; 0 - 0 = 0
    assert torch.allclose(score(SparseL1, H), torch.tensor([24.93, 0.0]))
    # lam = 1: 25 - 7 = 18
    assert torch.allclose(score(SparseL1, H, lam=1.0), torch.tensor([18.0, 0.0]))


def test_huber_norm_by_hand():
    # delta = 1: huber(3) = 1 * (3 - 0.5) = 2.5, huber(4) = 3.5, sum 6 -> 25 - 0.01 * 6 = 24.94
    assert torch.allclose(score(HuberNorm, H), torch.tensor([24.94, 0.0]))
    # delta = 10: both quadratic, huber = 9/2 + 16/2 = 12.5; weight 1 -> 25 - 12.5 = 12.5
    assert torch.allclose(score(HuberNorm, H, delta=10.0, weight=1.0), torch.tensor([12.5, 0.0]))


def test_oja_by_hand():
    # 25 - 1e-4 * 337 = 24.9663
    assert torch.allclose(score(Oja, H), torch.tensor([24.9663, 0.0]))
    # alpha = 0.01: 25 - 3.37 = 21.63
    assert torch.allclose(score(Oja, H, alpha=0.01), torch.tensor([21.63, 0.0]))


def test_outlier_trimmed_by_hand():
    # D = 2: k = round(0.2) = 0, nothing trimmed -> 25, 0
    assert torch.allclose(score(OutlierTrimmed, H), torch.tensor([25.0, 0.0]))
    # h = 10, 9, ..., 1: k = round(1.0) = 1 drops 1^2 and 10^2: 385 - 1 - 100 = 284
    h = torch.arange(10.0, 0.0, -1.0).reshape(1, 10)
    assert torch.allclose(score(OutlierTrimmed, h), torch.tensor([284.0]))
    # trim_frac = 0.2: k = 2 drops 1, 4, 81, 100: 385 - 186 = 199
    assert torch.allclose(score(OutlierTrimmed, h, trim_frac=0.2), torch.tensor([199.0]))


def test_attention_weighted_by_hand():
    # [2, 2]: softmax uniform, H / log 2 = 1 -> 8 * (1 + 0.01) = 8.08
    assert torch.allclose(score(AttentionWeighted, FLAT), torch.tensor([8.08]))
    # [3, 4]: softmax = [0.268941, 0.731059], H = 0.582203 nats, / log 2 = 0.839941
    #         -> 25 * (1 + 0.01 * 0.839941) = 25.209985; [0, 0] -> 0
    assert torch.allclose(score(AttentionWeighted, H), torch.tensor([25.209985, 0.0]))


def test_game_theoretic_by_hand():
    # p = [3/7, 4/7]: sum h^2 p = (27 + 64) / 7 = 13 -> 25 + 0.1 * 13 = 26.3; [0, 0] -> 0
    assert torch.allclose(score(GameTheoretic, H), torch.tensor([26.3, 0.0]))
    # [2, 2]: p = [1/2, 1/2] -> 8 + 0.1 * 4 = 8.4
    assert torch.allclose(score(GameTheoretic, FLAT), torch.tensor([8.4]))


def test_fractal_dimension_by_hand():
    # [2, 2]: p uniform, H / log 2 = 1 -> 8 * (1 + 0.1) = 8.8
    assert torch.allclose(score(FractalDimension, FLAT), torch.tensor([8.8]))
    # [3, 4]: p = [3/7, 4/7], H = 0.682908 nats, / log 2 = 0.985228 -> 25 * 1.0985228 = 27.46307
    assert torch.allclose(score(FractalDimension, H), torch.tensor([27.46307, 0.0]))


@pytest.mark.parametrize("cls, factor", [(AttentionWeighted, 1.01), (GameTheoretic, None), (FractalDimension, 1.1)])
def test_modulation_carries_no_gradient(cls, factor):
    """As in the study, only the sum of squares is differentiated: d/dh of the [2, 2] row is
    2 h (1 + w * detached factor): 4 * 1.01 (attention), 4 * 1.1 (fractal), and for the game
    2 h_i (1 + 0.1 p_i) = 4 * 1.05."""
    h = FLAT.clone().requires_grad_(True)
    cls.from_spec({}).score(h).sum().backward()
    expected = 4 * (1.05 if factor is None else factor)
    assert torch.allclose(h.grad, torch.tensor([[expected, expected]]))


@pytest.mark.parametrize("cls", STUDY_GOODNESS)
def test_threshold_is_the_width_unless_set(cls):
    assert cls.from_spec({}).threshold_for(2000) == 2000.0
    assert cls.from_spec({"threshold": 3.0}).threshold_for(2000) == 3.0
    assert cls.needs_negatives and cls.name.startswith("gs-") and cls.version == "1"


def test_hook_registers_every_class_once():
    registered = []
    ffbench_register_goodness(registered.append)
    assert registered == list(STUDY_GOODNESS)
    assert len({c.name for c in registered}) == 7


@pytest.mark.parametrize("cls", STUDY_GOODNESS, ids=lambda c: c.name)
def test_conformance(cls):
    results = check_component(cls)  # raises ConformanceError listing every failed check
    assert not [r for r in results if r.status == "failed"]
    assert {r.check for r in results if r.status == "passed"} >= {
        "score_shape",
        "score_per_sample",
        "loss_scalar_with_gradient",
        "trains_and_predicts",
        "deterministic_training",
    }
