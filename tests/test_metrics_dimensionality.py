"""dimensionality (participation ratio) on hand-made activity whose covariance spectrum is known."""

from __future__ import annotations

import math

import pytest
import torch
from test_metrics_ensembles import make_eval, rows_of

from ffbench.contracts import Metric
from ffbench_plugins.metrics.dimensionality import Dimensionality, participation_ratio


def plus_minus(k: int, extra_dead: int = 0) -> list[list[float]]:
    """2k samples 1 + s * e_i (s = +-1, i < k): centred, they are +-e_i, so the covariance is
    proportional to the identity on k units: k equal eigenvalues -> PR = k. All values >= 0."""
    rows = []
    for i in range(k):
        for s in (1.0, -1.0):
            row = [1.0] * k + [0.0] * extra_dead
            row[i] += s
            rows.append(row)
    return rows


def test_participation_ratio_of_k_equal_orthogonal_directions_is_k():
    for k in (1, 2, 3, 5):
        assert participation_ratio(torch.tensor(plus_minus(k))) == pytest.approx(k, rel=1e-12)


def test_participation_ratio_of_rank_one_activity_is_one():
    v = torch.tensor([1.0, 2.0, 0.0, 3.0, 0.5])
    h = torch.tensor([0.0, 1.0, 2.5, 4.0, 7.0])[:, None] * v  # every sample a multiple of v
    assert participation_ratio(h) == pytest.approx(1.0, rel=1e-12)
    assert participation_ratio(h + 3.0) == pytest.approx(1.0, rel=1e-12)  # centred: the offset is removed


def test_participation_ratio_unequal_spectrum_and_gram_sides():
    # variances 4 and 1 along two orthogonal axes: PR = (4 + 1)^2 / (16 + 1) = 25 / 17
    h = torch.tensor([[2.0, 0], [-2, 0], [0, 1], [0, -1]])
    assert participation_ratio(h) == pytest.approx(25 / 17, rel=1e-12)
    # many samples (n > D, the D x D side) and few (n < D, the n x n side) agree with the eigenvalues
    gen = torch.Generator().manual_seed(0)
    for n, d in ((50, 6), (6, 50)):
        x = torch.randn(n, d, generator=gen, dtype=torch.float64)
        lam = torch.linalg.eigvalsh(torch.cov(x.T))
        assert participation_ratio(x) == pytest.approx(float(lam.sum() ** 2 / lam.square().sum()), rel=1e-10)


def test_participation_ratio_undefined():
    assert math.isnan(participation_ratio(torch.tensor([[1.0, 2.0]])))  # one sample
    assert math.isnan(participation_ratio(torch.tensor([[1.0, 2.0], [1.0, 2.0]])))  # no variance


def test_metric_rows_per_layer_and_class():
    # class a: 6 samples spreading evenly over units 0-2 (PR 3), unit 3 dead, unit 4 dead;
    # class b: 4 samples along one direction (PR 1) on units 3, 4.
    a = plus_minus(3, extra_dead=2)
    b = [[0, 0, 0, t, 2 * t] for t in (1.0, 2.0, 3.0, 4.0)]
    y = [0] * 6 + [1] * 4 + [1]
    layer1 = a + b + [[9.0, 9, 9, 9, 9]]  # the last sample is misclassified: not read by default
    # layer 2: rank 1 over everything read
    layer2 = [[float(i), 0.0] for i in range(11)]
    preds = y[:-1] + [0]
    ev = make_eval(y, preds, [layer1, layer2], ["a", "b", "ghost"])
    r = rows_of(Dimensionality().compute(ev))
    assert r[("participation_ratio", 1, "a", None)] == pytest.approx(3.0)
    assert r[("normalised", 1, "a", None)] == pytest.approx(1.0)  # 3 units live on class a
    assert r[("participation_ratio", 1, "b", None)] == pytest.approx(1.0)
    assert r[("normalised", 1, "b", None)] == pytest.approx(0.5)  # 2 units live on class b
    assert r[("live_units", 1, None, None)] == 5
    pr = participation_ratio(torch.tensor(a + b))
    assert r[("participation_ratio", 1, None, None)] == pytest.approx(pr)
    assert r[("normalised", 1, None, None)] == pytest.approx(pr / 5)
    assert r[("participation_ratio", 2, None, None)] == pytest.approx(1.0)
    assert r[("live_units", 2, None, None)] == 1 and r[("normalised", 2, None, None)] == pytest.approx(1.0)
    assert not any(k[2] == "ghost" for k in r)
    # all samples: the misclassified sample joins
    r_all = rows_of(Dimensionality(samples="all").compute(ev))
    assert r_all[("participation_ratio", 1, None, None)] == pytest.approx(participation_ratio(torch.tensor(layer1)))


def test_single_sample_class_has_no_rows():
    ev = make_eval([0, 0, 0, 1], [0, 0, 0, 1], [[[1.0, 0], [0, 1], [1, 1], [5, 5]]], ["a", "b"])
    r = rows_of(Dimensionality().compute(ev))
    assert ("participation_ratio", 1, "a", None) in r and ("participation_ratio", 1, "b", None) not in r


def test_descriptive_with_headline():
    assert Dimensionality.higher_is_better is None and issubclass(Dimensionality, Metric)
    assert Dimensionality.headline_stats() == ("participation_ratio", "normalised")
