"""Linear CKA (plugins/metrics/cka.py): the definition on hand-computed matrices, the metric's
rows and artifact, CKA between models from artifacts, the between-series figure, conformance."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ffbench.contracts import Evaluation, TrainContext
from ffbench.registry import get_registry
from ffbench.testing import check_component, evaluation_from_activity, tiny_bundle
from ffbench_plugins.metrics.cka import CKA, cka_between, linear_cka
from ffbench_plugins.metrics.cka_figures import between_series, draw_between_series

# X [3, 2], Y [3, 1]. Centred: Xc = [[2, -1], [-1, 2], [-1, -1]] / 3, Yc = [-4, -1, 5] / 3.
# Y^T X = [-4/3, -1/3] -> ||.||^2 = 17/9; X^T X = [[2, -1], [-1, 2]] / 3 -> ||.||_F = sqrt(10)/3;
# Y^T Y = 14/3. CKA = (17/9) / (sqrt(10)/3 * 14/3) = 17 / (14 sqrt(10)).
X = [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]
Y = [[1.0], [2.0], [4.0]]
CKA_XY = 17 / (14 * math.sqrt(10))  # 0.383991
# The "pixels" of evaluation_from_activity's samples are 0, 1, 2 (centred [-1, 0, 1]):
# with X: X^T p = [-1, 0] -> 1 / (sqrt(10)/3 * 2) = 3 / (2 sqrt(10)); with Y: (Y^T p)^2 = 9,
# ||p^T p|| = 2 -> 9 / (2 * 14/3) = 27/28.
CKA_X_PIX = 3 / (2 * math.sqrt(10))
CKA_Y_PIX = 27 / 28


def rows_of(result):
    return {(r.stat, r.layer): r.value for r in result.rows}


def test_hand_computed_case():
    assert linear_cka(torch.tensor(X), torch.tensor(Y)) == pytest.approx(CKA_XY, abs=1e-6)
    assert linear_cka(torch.tensor(Y), torch.tensor(X)) == pytest.approx(CKA_XY, abs=1e-6)


def test_identical_is_one_and_invariances():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(200, 20, generator=gen)
    assert linear_cka(x, x) == pytest.approx(1.0, abs=1e-12)
    q, _ = torch.linalg.qr(torch.randn(20, 20, generator=gen, dtype=torch.float64))
    y = 3.5 * x.double() @ q + 7.0  # rotation, isotropic scaling, translation
    assert linear_cka(x, y) == pytest.approx(1.0, abs=1e-10)
    # not invariant to a non-isotropic scaling of the units
    assert linear_cka(x, x * torch.arange(1, 21)) < 0.9


def test_independent_random_near_zero_for_large_n():
    gen = torch.Generator().manual_seed(1)
    x, y = torch.randn(5000, 5, generator=gen), torch.randn(5000, 5, generator=gen)
    assert linear_cka(x, y) < 0.01  # about sqrt(p q) / n = 0.001 expected


def test_dead_layer_is_nan_and_sample_counts_must_match():
    assert math.isnan(linear_cka(torch.zeros(3, 2), torch.tensor(Y)))
    with pytest.raises(ValueError, match="same samples.*3 and 2"):
        linear_cka(torch.tensor(X), torch.tensor(Y[:2]))


def test_metric_rows_by_hand():
    ev = evaluation_from_activity([0, 1, 2], [X, Y])
    result = CKA.from_spec({}).compute(ev)
    assert rows_of(result) == pytest.approx(
        {("cka_pixels", 1): CKA_X_PIX, ("cka_layer2", 1): CKA_XY, ("cka_pixels", 2): CKA_Y_PIX}, abs=1e-6
    )
    art = result.artifacts
    assert art["index"].tolist() == [0, 1, 2]
    assert art["rep_L2"].dtype == np.float16 and art["rep_L2"].ravel().tolist() == [0.25, 0.5, 1.0]
    assert art["scale_L2"].tolist() == [4.0]
    assert art["settings"]["samples"] == 3 and art["settings"]["neutral"] == "none"
    # a model without a label embedding reads the same through the neutral path
    assert rows_of(CKA.from_spec("cka[neutral=uniform]").compute(ev)) == pytest.approx(rows_of(result))


def test_seeded_subset_and_dead_layer_rows():
    ev = evaluation_from_activity([0, 1, 0, 1, 0], [[[1, 0], [0, 1], [2, 2], [3, 1], [0, 5]], [[0]] * 5])
    a = CKA.from_spec("cka[samples=3]").compute(ev)
    b = CKA.from_spec("cka[samples=3]").compute(ev)
    assert len(a.artifacts["index"]) == 3 and a.artifacts["index"].tolist() == b.artifacts["index"].tolist()
    assert math.isnan(rows_of(a)[("cka_pixels", 2)])  # layer 2 is dead: undefined


def test_cka_between_by_hand_and_checks():
    a = CKA.from_spec({}).compute(evaluation_from_activity([0, 1, 2], [X, Y])).artifacts
    b = CKA.from_spec({}).compute(evaluation_from_activity([0, 1, 2], [Y])).artifacts
    m = cka_between(a, b)
    assert m.shape == (2, 1)
    assert m[:, 0] == pytest.approx([CKA_XY, 1.0], abs=1e-6)
    other = dict(b, index=np.array([0, 1, 3]))
    with pytest.raises(ValueError, match="different test samples"):
        cka_between(a, other)
    with pytest.raises(ValueError, match="no rep_L"):
        cka_between(a, {"index": a["index"]})


def tiny_ff(seed: int):
    data = tiny_bundle()
    rule = get_registry().build("rule", "ff[batch_size=100,epochs=2,layers=2,width=32]")
    good = get_registry().build("goodness", "l2")
    neg = get_registry().build("negatives", "wrong-label")
    model = rule.fit(data, good, neg, TrainContext(torch.device("cpu"), seed, list(range(10)), 10))
    return Evaluation(model, data, torch.device("cpu"))


class FakeRun:
    def __init__(self, series, artifact):
        self.series, self._artifact = series, artifact

    def artifact(self):
        return self._artifact


class FakeView:
    def __init__(self, runs):
        self.runs, self.notes = runs, []

    def note(self, text):
        self.notes.append(text)


def test_real_models_between_series_and_figure():
    ev0, ev1 = tiny_ff(0), tiny_ff(1)
    metric = CKA.from_spec("cka[samples=60]")
    a, b = metric.compute(ev0), metric.compute(ev1)
    values = [r.value for r in a.rows]
    assert len(values) == 3 and all(0.0 < v <= 1.0 for v in values)
    assert a.artifacts["rep_L1"].shape == (60, 32)
    assert np.diag(cka_between(a.artifacts, a.artifacts)) == pytest.approx([1.0, 1.0], abs=1e-6)
    across = cka_between(a.artifacts, b.artifacts)
    assert across.shape == (2, 2) and np.all((across > 0.0) & (across < 1.0))
    c = CKA.from_spec("cka[samples=60,seed=5]").compute(ev1).artifacts  # another subset
    series, mats, notes = between_series({"s0": a.artifacts, "s1": b.artifacts, "s2": c})
    assert series == ["s0", "s1"] and "'s2' left out" in notes[0]
    assert mats.shape == (2, 2, 2)
    assert mats[:, 0, 0] == pytest.approx([1.0, 1.0], abs=1e-6)
    assert mats[:, 0, 1] == pytest.approx(np.diag(across), abs=1e-12)
    view = FakeView([FakeRun("s0", a.artifacts), FakeRun("s1", b.artifacts), FakeRun("s2", c)])
    fig, caption = draw_between_series(view)
    assert len(fig.axes) == 3 and "CKA between series" in caption and len(view.notes) == 1


def test_conformance():
    results = check_component(CKA)
    assert {r.status for r in results} == {"passed"}
