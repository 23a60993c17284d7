"""sparsity (Hoyer), dead_fraction and hoyer_live on hand-made activity (numbers worked out by hand
in the comments)."""

from __future__ import annotations

import math

import pytest
import torch
from test_metrics_ensembles import make_eval, rows_of

from ffbench.contracts import Metric
from ffbench_plugins.metrics.sparsity import HoyerSparsity, dead_units, hoyer

R3 = math.sqrt(3)

CLASSES = ["a", "b", "ghost"]  # 'ghost' has no test samples
Y = [0, 0, 1, 1, 1]
PRED = [0, 0, 1, 1, 0]  # sample 4 (class b) is misclassified
# layer 1: unit 3 is zero on every correctly classified sample; only the misclassified sample 4 uses it
L1 = [
    [3, 4, 0, 0],  # Hoyer over 4 units: l1 7, l2 5 -> (2 - 7/5) / (2 - 1) = 0.6
    [1, 1, 1, 0],  # l1 3, l2 sqrt(3) -> 2 - sqrt(3); over the 3 live units: ratio sqrt(3) = sqrt(n) -> 0
    [0, 0, 0, 0],  # all zero: skipped, counted
    [0, 2, 0, 0],  # one active unit: 1 (over 4 or 3 units)
    [0, 0, 0, 5],
]
# layer 2: unit 0 always silent, so one live unit: hoyer_live is undefined
L2 = [[0, 5], [0, 1], [0, 0], [0, 2], [0, 3]]


@pytest.fixture
def ev():
    return make_eval(Y, PRED, [L1, L2], CLASSES)


def live_hoyer_s0() -> float:
    # [3, 4, 0] over 3 units: ratio 7/5 -> (sqrt(3) - 7/5) / (sqrt(3) - 1)
    return (R3 - 1.4) / (R3 - 1)


def test_dead_units_function():
    h = torch.tensor([[0.0, 1, 0], [0, 0, 0], [0, 2, 0]])
    assert dead_units(h).tolist() == [True, False, True]


def test_dead_fraction_and_hoyer_live_correct_samples(ev):
    r = rows_of(HoyerSparsity().compute(ev))
    # samples read: 0-3. Layer 1: unit 3 dead -> 1/4
    assert r[("dead_fraction", 1, None, None)] == 0.25
    assert r[("zero_samples", 1, None, None)] == 1
    # unchanged Hoyer over all 4 units: (0.6 + (2 - sqrt 3) + 1) / 3
    assert r[("sparsity", 1, None, None)] == pytest.approx((0.6 + 2 - R3 + 1) / 3)
    # over the live units 0-2: sample 0 -> (sqrt3 - 1.4)/(sqrt3 - 1), sample 1 -> 0, sample 3 -> 1
    assert r[("hoyer_live", 1, None, None)] == pytest.approx((live_hoyer_s0() + 0 + 1) / 3)
    assert r[("hoyer_live", 1, None, None)] < r[("sparsity", 1, None, None)]  # the dead unit inflated it
    # per class: a reads samples 0, 1 -> only unit 3 silent: 1/4; b reads 2, 3 -> units 0, 2, 3: 3/4
    assert r[("dead_fraction", 1, "a", None)] == 0.25 and r[("dead_fraction", 1, "b", None)] == 0.75
    assert r[("hoyer_live", 1, "a", None)] == pytest.approx(live_hoyer_s0() / 2)
    assert r[("hoyer_live", 1, "b", None)] == 1.0  # sample 2 skipped, sample 3 -> 1
    assert r[("sparsity", 1, "a", None)] == pytest.approx((0.6 + 2 - R3) / 2)
    assert r[("sparsity", 1, "b", None)] == 1.0
    # layer 2: unit 0 dead -> 1/2; a single live unit has no Hoyer sparsity: NaN, no per-class rows
    assert r[("dead_fraction", 2, None, None)] == 0.5
    assert math.isnan(r[("hoyer_live", 2, None, None)])
    assert ("hoyer_live", 2, "a", None) not in r
    assert r[("dead_fraction", 2, "a", None)] == 0.5 and r[("dead_fraction", 2, "b", None)] == 0.5
    assert r[("sparsity", 2, None, None)] == 1.0  # [0,5], [0,1], [0,2]: one active unit of 2
    assert not any(k[2] == "ghost" for k in r)


def test_dead_fraction_all_samples(ev):
    r = rows_of(HoyerSparsity(samples="all").compute(ev))
    # sample 4 uses unit 3: no dead unit in layer 1, hoyer_live is plain Hoyer
    assert r[("dead_fraction", 1, None, None)] == 0.0
    assert r[("hoyer_live", 1, None, None)] == pytest.approx(r[("sparsity", 1, None, None)])
    assert r[("hoyer_live", 1, None, None)] == pytest.approx((0.6 + 2 - R3 + 1 + 1) / 4)
    # class b reads samples 2, 3, 4: units 0 and 2 silent -> 1/2; class a unchanged: unit 3 -> 1/4
    assert r[("dead_fraction", 1, "b", None)] == 0.5 and r[("dead_fraction", 1, "a", None)] == 0.25
    # class a's hoyer_live is now over all 4 units (unit 3 is live in the layer): 0.6 and 2 - sqrt 3
    assert r[("hoyer_live", 1, "a", None)] == pytest.approx((0.6 + 2 - R3) / 2)


def test_hoyer_live_equals_hoyer_on_live_columns(ev):
    r = rows_of(HoyerSparsity().compute(ev))
    live = torch.tensor([[3.0, 4, 0], [1, 1, 1], [0, 2, 0]], dtype=torch.float64)  # samples 0, 1, 3; units 0-2
    assert r[("hoyer_live", 1, None, None)] == pytest.approx(float(hoyer(live).mean()))


def test_descriptive_with_three_headline_stats():
    assert HoyerSparsity.higher_is_better is None
    assert HoyerSparsity.headline_stats() == ("sparsity", "hoyer_live", "dead_fraction")
    assert HoyerSparsity.version == "2" and issubclass(HoyerSparsity, Metric)
