"""loo-ensembles, jaccard and unseen-category on hand-made activity (numbers worked out by hand in
the comments), plus one real training run through the CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from ffbench.cli import app
from ffbench.contracts import DatasetBundle, DataSplit, Evaluation, TrainedModel, TrainingVariant
from ffbench.errors import ParameterError
from ffbench.registry import load_registry
from ffbench_plugins.metrics import ensembles
from ffbench_plugins.metrics.ensembles import (
    DEFAULT_HOLDOUT,
    Jaccard,
    LOOEnsembles,
    UnseenCategory,
    class_means,
    first_per_class,
    jaccard_matrix,
    loo_ensembles,
    selectivity,
)
from ffbench_plugins.metrics.sparsity import HoyerSparsity

NAN = float("nan")


# -- a fake evaluation ---------------------------------------------------------------------


class FixedModel(TrainedModel):
    """Returns fixed predictions and representations; the 'image' of sample i is the number i."""

    def __init__(self, preds: list[int], reps: list[list[list[float]]]):
        self.preds = torch.tensor(preds)
        self.reps = [torch.tensor(r, dtype=torch.float32) for r in reps]

    @property
    def num_layers(self) -> int:
        return len(self.reps)

    def predict(self, x):
        return self.preds[x.flatten().long()]

    def representations(self, x, y):
        return [r[x.flatten().long()] for r in self.reps]

    def weights(self):
        return []


def make_eval(y: list[int], preds: list[int], reps, classes: list[str], name: str = "hand") -> Evaluation:
    n = len(y)
    split = DataSplit(torch.arange(n, dtype=torch.float32).reshape(n, 1, 1, 1), torch.tensor(y))
    bundle = DatasetBundle(name, split, split, classes, (1, 1, 1), (0.0,), (1.0,), "0" * 16)
    return Evaluation(FixedModel(preds, reps), bundle, torch.device("cpu"))


CLASSES = ["c0", "c1", "c2", "c3", "ghost"]  # 'ghost' has no test samples
Y = [0, 0, 0, 1, 1, 1, 2, 3]
PRED = [0, 0, 1, 1, 1, 2, 2, 3]  # samples 2 (class 0) and 5 (class 1) are misclassified
L1 = [[4, 0, 0, 0], [2, 0, 0, 0], [0, 1, 0, 8], [0, 3, 1, 0], [0, 3, 1, 0], [0, 0, 0, 9], [1, 1, 1, 1], [2, 2, 2, 2]]
L2 = [[5, 5, 0, 0], [5, 5, 0, 0], [0, 0, 0, 0], [0, 5, 5, 0], [0, 5, 5, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]


@pytest.fixture
def ev() -> Evaluation:
    return make_eval(Y, PRED, [L1, L2], CLASSES)


def rows_of(result) -> dict[tuple, float]:
    out = {}
    for r in result.rows:
        key = (r.stat, r.layer, r.cls, r.cls_b)
        assert key not in out, f"duplicate row {key}"
        out[key] = r.value
    return out


# -- LOO membership ------------------------------------------------------------------------


def test_loo_clear_member_and_non_members():
    # m = [6,2,2,2]: unit 0 has mean of others (12-6)/3 = 2, ratio (6-2)/2 = 2 > 1; units 1-3: others 10/3 > 2
    e = loo_ensembles(torch.tensor([[6.0, 2, 2, 2]]), tau=1.0)
    assert e.tolist() == [[True, False, False, False]]
    assert loo_ensembles(torch.tensor([[6.0, 2, 2, 2]]), tau=2.0).tolist() == [[False] * 4]  # ratio == tau
    assert loo_ensembles(torch.tensor([[6.0, 2, 2, 2]]), tau=1.999).tolist() == [[True, False, False, False]]


def test_loo_tau_edge_is_strict():
    # m = [4,2,2,2]: sum 10, others of unit 0 = (10-4)/3 = 2, ratio (4-2)/2 = 1 == tau: not a member
    assert loo_ensembles(torch.tensor([[4.0, 2, 2, 2]]), tau=1.0).tolist() == [[False] * 4]
    # slightly above: others = 6/3 = 2, ratio = (4.001-2)/2 = 1.0005 > 1
    assert loo_ensembles(torch.tensor([[4.001, 2, 2, 2]], dtype=torch.float64), tau=1.0)[0, 0]


def test_loo_degenerate_zero_mean_of_others():
    # unit 0 alone active: mean of the others is 0 -> ratio +inf -> member; silent units (0/0 or -1) never
    assert loo_ensembles(torch.tensor([[3.0, 0, 0, 0]]), tau=1.0).tolist() == [[True, False, False, False]]
    assert loo_ensembles(torch.tensor([[0.0, 0, 0, 0]]), tau=1.0).tolist() == [[False] * 4]
    assert loo_ensembles(torch.tensor([[3.0, 0, 0, 0]]), tau=1e9).tolist() == [[True, False, False, False]]
    # two equal active units out of 4: others of unit 2 = 5/3, ratio (5 - 5/3)/(5/3) = 2
    assert loo_ensembles(torch.tensor([[0.0, 0, 5, 5]]), tau=1.0).tolist() == [[False, False, True, True]]


def test_loo_no_samples_and_negative_activity():
    e = loo_ensembles(torch.tensor([[NAN] * 3, [0.0, 9, 0]]), tau=1.0)
    assert e.tolist() == [[False] * 3, [False, True, False]]
    with pytest.raises(ValueError, match="non-negative"):
        loo_ensembles(torch.tensor([[1.0, -1.0, 0.0]]), tau=1.0)


def test_class_means_hand_made():
    h = torch.tensor([[1.0, 0, 0], [3, 0, 0], [0, 2, 0], [0, 4, 2]])
    y = torch.tensor([0, 0, 1, 1])
    m = class_means(h, y, torch.ones(4, dtype=torch.bool), num_classes=3)
    assert m[:2].tolist() == [[2.0, 0, 0], [0, 3, 1]] and torch.isnan(m[2]).all()
    # class 0: unit 0 alone active -> member; class 1: unit 1 others (4-3)/2 = .5, ratio 5 -> member
    assert loo_ensembles(m, 1.0).tolist() == [[True, False, False], [False, True, False], [False] * 3]
    m = class_means(h, y, torch.tensor([True, False, True, False]), num_classes=2)
    assert m.tolist() == [[1.0, 0, 0], [0, 2, 0]]


def test_first_per_class_order_and_cap():
    y = torch.tensor([1, 0, 1, 1, 0, 2])
    keep = torch.tensor([True, True, True, True, False, True])
    assert first_per_class(y, keep, 3, n=2).tolist() == [1, 0, 2, 5]


# -- Jaccard -------------------------------------------------------------------------------


def test_jaccard_matrix_hand_made_sets():
    e = torch.tensor(
        [
            [1, 1, 0, 0, 0],  # {0,1}
            [0, 1, 1, 0, 0],  # {1,2}
            [1, 1, 0, 0, 0],  # {0,1}, identical to class 0
            [0, 0, 0, 0, 0],  # {}
            [0, 0, 0, 0, 0],  # {}
            [0, 0, 0, 0, 1],
        ],
        dtype=torch.bool,
    )
    valid = torch.tensor([True, True, True, True, True, False])  # class 5 has no samples
    jac, shared = jaccard_matrix(e, valid)
    assert jac[0, 1].item() == pytest.approx(1 / 3) and shared[0, 1].item() == 1
    assert jac[0, 2].item() == 1.0 and shared[0, 2].item() == 2  # identical sets
    assert jac[0, 3].item() == 0.0 and shared[0, 3].item() == 0  # empty vs non-empty: defined, 0
    assert math.isnan(jac[3, 4].item()) and shared[3, 4].item() == 0  # two empty sets: undefined
    assert math.isnan(jac[3, 3].item()) and jac[1, 1].item() == 1.0  # diagonal: 1 where non-empty
    assert math.isnan(jac[0, 5].item()) and shared[0, 5].item() == -1  # class without samples
    assert torch.equal(jac.nan_to_num(-7), jac.T.nan_to_num(-7))


# -- the metrics on the fake evaluation ----------------------------------------------------


def test_loo_metric_rows_and_artifacts(ev):
    result = LOOEnsembles().compute(ev)
    r = rows_of(result)
    # layer 1, correct samples: c0 mean [3,0,0,0] -> {0}; c1 [0,3,1,0] -> {1} (others 1/3, ratio 8),
    # unit 2 (others 1, ratio 0) out; c2 [1,1,1,1] and c3 [2,2,2,2] -> {}
    assert [r[("size", 1, c, None)] for c in ["c0", "c1", "c2", "c3"]] == [1, 1, 0, 0]
    assert r[("size", 1, None, None)] == 0.5 and r[("fraction", 1, None, None)] == 0.125
    assert r[("coverage", 1, None, None)] == 0.5
    # layer 2: c0 [5,5,0,0] -> {0,1}; c1 [0,5,5,0] -> {1,2}; c2, c3 silent -> {}
    assert [r[("size", 2, c, None)] for c in ["c0", "c1", "c2", "c3"]] == [2, 2, 0, 0]
    assert r[("size", 2, None, None)] == 1.0 and r[("fraction", 2, None, None)] == 0.25
    assert r[("coverage", 2, None, None)] == 0.75
    assert r[("missing_classes", None, None, None)] == 1
    assert not any(k[2] == "ghost" for k in r)

    a = result.artifacts
    assert a["classes"] == CLASSES and a["tau"] == 1.0
    assert a["units_L1"] == {"c0": [0], "c1": [1], "c2": [], "c3": []}
    assert a["units_L2"] == {"c0": [0, 1], "c1": [1, 2], "c2": [], "c3": []}
    assert a["class_mean_L1"].dtype == np.float32 and a["class_mean_L1"].shape == (5, 4)
    assert a["class_mean_L1"][1].tolist() == [0, 3, 1, 0] and np.isnan(a["class_mean_L1"][4]).all()
    assert a["ensemble_L2"].dtype == bool and a["ensemble_L2"][:2].tolist() == [[1, 1, 0, 0], [0, 1, 1, 0]]
    # the samples read (misclassified 2 and 5 left out), grouped by class
    assert a["sample_labels"].tolist() == [0, 0, 1, 1, 2, 3]
    assert a["sample_activity_L1"].dtype == np.float16
    assert a["sample_activity_L1"].tolist() == [L1[i] for i in (0, 1, 3, 4, 6, 7)]
    json.dumps({k: v for k, v in a.items() if not isinstance(v, np.ndarray)})


def test_loo_metric_all_samples(ev):
    a = LOOEnsembles(samples="all").compute(ev).artifacts
    # c0 mean [2, 1/3, 0, 8/3] (sum 5): unit 0 others 1, ratio exactly 1 -> out; unit 3 others 7/9,
    # ratio 17/7 -> in. c1 mean [0, 2, 2/3, 3] (sum 17/3): unit 1 ratio 7/11 out, unit 3 ratio 19/8 in
    assert a["units_L1"]["c0"] == [3] and a["units_L1"]["c1"] == [3]
    assert a["sample_labels"].tolist() == [0, 0, 0, 1, 1, 1, 2, 3]


def test_jaccard_metric(ev):
    result = Jaccard().compute(ev)
    r = rows_of(result)
    # layer 1: {0}, {1}, {}, {}: every defined pair 0; (c2, c3) both empty -> undefined, counted
    pairs = [("c0", "c1"), ("c0", "c2"), ("c0", "c3"), ("c1", "c2"), ("c1", "c3")]
    assert all(r[("jaccard", 1, a, b)] == 0.0 for a, b in pairs)
    assert ("jaccard", 1, "c2", "c3") not in r and r[("shared", 1, "c2", "c3")] == 0
    assert r[("jaccard", 1, None, None)] == 0.0 and r[("empty_pairs", 1, None, None)] == 1
    # layer 2: {0,1}, {1,2}: J = 1/3, shared 1; mean over the 5 defined pairs = (1/3) / 5
    assert r[("jaccard", 2, "c0", "c1")] == pytest.approx(1 / 3) and r[("shared", 2, "c0", "c1")] == 1
    assert r[("jaccard", 2, None, None)] == pytest.approx(1 / 15)
    assert r[("max_pair", 2, "c0", "c1")] == pytest.approx(1 / 3)
    assert r[("max_pair", 1, "c0", "c1")] == 0.0  # ties: the first pair
    assert not any("ghost" in (k[2], k[3]) for k in r)
    a = result.artifacts
    assert a["classes"] == CLASSES
    j2 = a["jaccard_L2"]
    assert j2.shape == (5, 5) and j2[0, 1] == j2[1, 0] == pytest.approx(1 / 3)
    assert j2[0, 0] == 1.0 and np.isnan(j2[2, 2]) and np.isnan(j2[2, 3]) and np.isnan(j2[4]).all()
    assert a["shared_L2"][0].tolist() == [2, 1, 0, 0, -1]


def test_unseen_category_hand_made(ev):
    m = UnseenCategory(holdout=0)
    result = m.compute(ev)
    r = rows_of(result)
    # class 0 reads ALL its samples (incl. misclassified 2); seen classes only correct ones.
    # layer 1: c0 mean [2, 1/3, 0, 8/3] -> E = {3}; strength = (8/3) / 5 = 8/15
    assert r[("size", 1, None, None)] == 1 and r[("strength", 1, None, None)] == pytest.approx(8 / 15)
    # seen: c1 {1} (share 3/4), c2 {} (0), c3 {} (0)
    assert r[("seen_size", 1, None, None)] == pytest.approx(1 / 3)
    assert r[("seen_strength", 1, None, None)] == pytest.approx(0.25)
    assert [r[("overlap", 1, "c0", c)] for c in ("c1", "c2", "c3")] == [0, 0, 0]
    assert r[("max_overlap", 1, None, None)] == 0
    # Hoyer of [4,0,0,0], [2,0,0,0] (1 each) and [0,1,0,8]: (2 - 9/sqrt(65)) / (2 - 1)
    assert r[("sparsity", 1, None, None)] == pytest.approx((2 + 2 - 9 / math.sqrt(65)) / 3)
    # layer 2: c0 mean [10/3, 10/3, 0, 0] -> {0,1}, strength 1; J with c1 {1,2} = 1/3
    assert r[("size", 2, None, None)] == 2 and r[("strength", 2, None, None)] == 1.0
    assert r[("overlap", 2, "c0", "c1")] == pytest.approx(1 / 3)
    assert r[("max_overlap", 2, None, None)] == pytest.approx(1 / 3)
    # raw shared-unit counts: layer 1 {3} vs {1}, {}, {} -> 0; layer 2 {0,1} vs {1,2}, {}, {} -> 1, 0, 0
    assert [r[("shared", 1, "c0", c)] for c in ("c1", "c2", "c3")] == [0, 0, 0]
    assert [r[("shared", 2, "c0", c)] for c in ("c1", "c2", "c3")] == [1, 0, 0]
    assert r[("max_shared", 1, None, None)] == 0 and r[("max_shared", 2, None, None)] == 1
    assert r[("seen_strength", 2, None, None)] == 1.0  # c2, c3 evoke no activity: no share
    assert r[("sparsity", 2, None, None)] == pytest.approx(2 - math.sqrt(2))  # all-zero sample skipped
    a = result.artifacts
    assert a["holdout"] == 0 and a["classes"] == CLASSES
    assert a["ensemble_L1"][0].tolist() == [0, 0, 0, 1]
    o2 = a["overlap_L2"]
    assert np.isnan(o2[0]) and np.isnan(o2[4]) and o2[1:4].tolist() == pytest.approx([1 / 3, 0, 0])
    assert a["sample_labels"].tolist() == [0, 0, 0, 1, 1, 2, 3]


def test_unseen_category_training_variant_and_range(ev):
    assert UnseenCategory(holdout=3).training_variant(ev.data) == TrainingVariant(holdout=(3,))
    with pytest.raises(ParameterError, match=r"valid values are 0\.\.4"):
        UnseenCategory(holdout=5).training_variant(ev.data)
    with pytest.raises(ParameterError, match="must be >= 0"):
        UnseenCategory(holdout=-1)
    with pytest.raises(ValueError, match="no samples of the held-out class 4"):
        UnseenCategory(holdout=4).compute(ev)
    two = make_eval([0, 1], [0, 1], [[[1, 0], [0, 1]]], ["a", "b"])
    with pytest.raises(ParameterError, match="at least 3 classes"):
        UnseenCategory().training_variant(two.data)


def test_registered_in_process():
    reg = load_registry(extra=[("ens", ensembles, "ffbench", "0.1.0")], use_entry_points=False)
    assert {"loo-ensembles", "jaccard", "unseen-category"} <= set(reg.names("metric"))
    assert reg.build("metric", "unseen-category[holdout=3]").values == {"holdout": 3, "tau": 1.0}
    assert reg.build("metric", "unseen-category").values == {"holdout": None, "tau": 1.0}
    assert reg.build("metric", "unseen-category[holdout=auto]").values == {"holdout": None, "tau": 1.0}


# -- ensemble strength: activity share and selectivity (loo-ensembles v2) -----------------


def test_loo_metric_share_and_selectivity_on_fixture(ev):
    result = LOOEnsembles().compute(ev)
    r = rows_of(result)
    # layer 1 (correct samples): c0 [3,0,0,0] E={0} share 3/3; c1 [0,3,1,0] E={1} share 3/4;
    # c2 [1,1,1,1] and c3 [2,2,2,2] E={} share 0; mean (1 + 3/4 + 0 + 0) / 4 = 7/16
    assert [r[("activity_share", 1, c, None)] for c in ("c0", "c1", "c2", "c3")] == [1.0, 0.75, 0.0, 0.0]
    assert r[("activity_share", 1, None, None)] == pytest.approx(7 / 16)
    # unit class means over c0..c3: u0 [3,0,1,2] -> 3/6 (c0); u1 [0,3,1,2] -> 3/6 (c1);
    # u2 [0,1,1,2] -> 2/4 (c3); u3 [0,0,1,2] -> 2/3 (c3). Mean (3/2 + 2/3) / 4 = 13/24, median 1/2
    assert r[("selectivity", 1, None, None)] == pytest.approx(13 / 24)
    assert r[("selectivity_median", 1, None, None)] == 0.5
    assert [r[("preferring_units", 1, c, None)] for c in ("c0", "c1", "c2", "c3")] == [1, 1, 0, 2]
    assert r[("selectivity", 1, "c0", None)] == 0.5 and r[("selectivity", 1, "c1", None)] == 0.5
    assert ("selectivity", 1, "c2", None) not in r  # no unit prefers c2
    assert r[("selectivity", 1, "c3", None)] == pytest.approx((1 / 2 + 2 / 3) / 2)
    # layer 2: c0 [5,5,0,0] and c1 [0,5,5,0] carry all their activity in E; c2, c3 silent: no share
    assert r[("activity_share", 2, "c0", None)] == 1.0 and r[("activity_share", 2, "c1", None)] == 1.0
    assert ("activity_share", 2, "c2", None) not in r and r[("activity_share", 2, None, None)] == 1.0
    # u0 [5,0,0,0] -> 1 (c0); u1 [5,5,0,0] -> 1/2 (tie: first class, c0); u2 [0,5,0,0] -> 1 (c1); u3 dead
    assert r[("selectivity", 2, None, None)] == pytest.approx(5 / 6)
    assert r[("selectivity_median", 2, None, None)] == 1.0
    assert r[("selectivity", 2, "c0", None)] == 0.75 and r[("preferring_units", 2, "c0", None)] == 2
    assert r[("selectivity", 2, "c1", None)] == 1.0 and r[("preferring_units", 2, "c1", None)] == 1
    assert not any(k[2] == "ghost" for k in r)
    a = result.artifacts
    assert a["selectivity_L1"].tolist() == pytest.approx([1 / 2, 1 / 2, 1 / 2, 2 / 3])
    s2 = a["selectivity_L2"]
    assert s2.dtype == np.float32 and s2[:3].tolist() == [1.0, 0.5, 1.0] and np.isnan(s2[3])


def test_unit_active_for_one_class_only():
    classes = ["a", "b", "c"]
    # class means: a [2,1,1,0], b [1,2,2,0], c [1,1,1,9] (c from two samples)
    reps = [[[2, 1, 1, 0], [1, 2, 2, 0], [2, 1, 1, 9], [0, 1, 1, 9]]]
    ev = make_eval([0, 1, 2, 2], [0, 1, 2, 2], reps, classes)
    result = LOOEnsembles().compute(ev)
    r = rows_of(result)
    # a: unit 0 others (4-2)/3 = 2/3, ratio 2 -> E_a = {0}; unit 1 others 1, ratio 0
    # b: unit 1 others (5-2)/3 = 1, ratio exactly 1 -> not a member; E_b = {}
    # c: unit 3 others (12-9)/3 = 1, ratio 8 -> E_c = {3}; units 0-2 others 11/3 > 1
    assert result.artifacts["ensemble_L1"].tolist() == [[1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1]]
    # shares: a 2/4, b 0 (empty ensemble), c 9/12; mean (1/2 + 0 + 3/4) / 3 = 5/12
    assert [r[("activity_share", 1, c, None)] for c in classes] == [0.5, 0.0, 0.75]
    assert r[("activity_share", 1, None, None)] == pytest.approx(5 / 12)
    # unit 3 fires for class c only: 9 / 9 = 1. Units 0-2: [2,1,1] -> 2/4 (a), [1,2,1] -> 2/4 (b) twice
    assert result.artifacts["selectivity_L1"].tolist() == [0.5, 0.5, 0.5, 1.0]
    assert r[("selectivity", 1, "c", None)] == 1.0 and r[("preferring_units", 1, "c", None)] == 1
    assert r[("selectivity", 1, "a", None)] == 0.5 and r[("preferring_units", 1, "a", None)] == 1
    assert r[("selectivity", 1, "b", None)] == 0.5 and r[("preferring_units", 1, "b", None)] == 2
    assert r[("selectivity", 1, None, None)] == 0.625  # (3 * 1/2 + 1) / 4
    assert r[("selectivity_median", 1, None, None)] == 0.5


def test_uniform_layer():
    classes = ["a", "b", "c"]
    reps = [[[2, 2, 2]] * 6]  # every unit equally active for every sample of every class
    ev = make_eval([0, 0, 1, 1, 2, 2], [0, 0, 1, 1, 2, 2], reps, classes)
    result = LOOEnsembles().compute(ev)
    r = rows_of(result)
    # every unit: ratio (2 - 2) / 2 = 0 -> no member anywhere; shares 0
    assert [r[("size", 1, c, None)] for c in classes] == [0, 0, 0]
    assert [r[("activity_share", 1, c, None)] for c in classes] == [0.0, 0.0, 0.0]
    assert r[("activity_share", 1, None, None)] == 0.0
    # selectivity of each unit: 2 / (2 + 2 + 2) = 1/C; all ties go to the first class
    assert result.artifacts["selectivity_L1"].tolist() == pytest.approx([1 / 3] * 3)
    assert r[("selectivity", 1, None, None)] == pytest.approx(1 / 3)
    assert r[("selectivity_median", 1, None, None)] == pytest.approx(1 / 3)
    assert [r[("preferring_units", 1, c, None)] for c in classes] == [3, 0, 0]
    s = rows_of(HoyerSparsity().compute(ev))
    # Hoyer of [2,2,2]: ||x||_1 / ||x||_2 = 6 / sqrt(12) = sqrt(3) = sqrt(n) -> 0; no dead unit
    assert s[("sparsity", 1, None, None)] == pytest.approx(0.0, abs=1e-12)
    assert s[("hoyer_live", 1, None, None)] == pytest.approx(0.0, abs=1e-12)
    assert s[("dead_fraction", 1, None, None)] == 0.0
    assert all(s[("dead_fraction", 1, c, None)] == 0.0 for c in classes)


def test_selectivity_function_leaves_out_missing_classes():
    means = torch.tensor([[1.0, 0, 0], [3, 0, 2], [NAN, NAN, NAN]])
    sel, pref = selectivity(means, torch.tensor([True, True, False]))
    # unit 0 [1,3] -> 3/4 (class 1); unit 1 [0,0] dead; unit 2 [0,2] -> 1 (class 1)
    assert sel[0].item() == 0.75 and math.isnan(sel[1].item()) and sel[2].item() == 1.0
    assert pref.tolist() == [1, -1, 1]


def test_loo_headline_and_version():
    assert LOOEnsembles.headline_stats() == ("size", "activity_share", "selectivity")
    assert LOOEnsembles.version == "2" and UnseenCategory.version == "2"
    assert LOOEnsembles().values["tau"] == 1.0


# -- unseen category: the paper's default holdout, shared-unit counts ----------------------

FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal"]
# one sample per class, all classified correctly; E_0..E_4 = {0}, {1}, {2}, {3}, {0,1}
# Sandal [3,3,0,1]: sum 7, unit 0 others (7-3)/3 = 4/3, ratio 5/4 > 1 -> E_5 = {0,1}
FASHION_REPS = [[[6, 0, 0, 0], [0, 6, 0, 0], [0, 0, 6, 0], [0, 0, 0, 6], [5, 5, 0, 0], [3, 3, 0, 1]]]


def test_unseen_default_holdout_by_dataset_name():
    assert DEFAULT_HOLDOUT == {"fashion-mnist": 5, "fashion-mnist-mini": 5}
    y = list(range(6))
    mini = make_eval(y, y, FASHION_REPS, FASHION, name="fashion-mnist-mini")
    full = make_eval(y, y, FASHION_REPS, FASHION, name="fashion-mnist")
    other = make_eval(y, y, FASHION_REPS, FASHION, name="mnist")
    m = UnseenCategory()
    assert m.values["holdout"] is None
    assert m.training_variant(mini.data) == TrainingVariant(holdout=(5,))
    assert m.training_variant(full.data) == TrainingVariant(holdout=(5,))
    assert m.training_variant(other.data) == TrainingVariant(holdout=(0,))
    assert UnseenCategory(holdout="auto").training_variant(mini.data) == TrainingVariant(holdout=(5,))
    assert UnseenCategory(holdout=2).training_variant(mini.data) == TrainingVariant(holdout=(2,))  # explicit wins
    assert isinstance(m.training_variant(mini.data).holdout[0], int)
    assert m.compute(mini).artifacts["holdout"] == 5 and m.compute(other).artifacts["holdout"] == 0
    # auto on a 3-class dataset that is not Fashion-MNIST: class 0
    three = make_eval([0, 1, 2], [0, 1, 2], [[[1, 0], [0, 1], [1, 1]]], ["a", "b", "c"])
    assert m.training_variant(three.data) == TrainingVariant(holdout=(0,))


def test_unseen_shared_rows():
    y = list(range(6))
    ev = make_eval(y, y, FASHION_REPS, FASHION, name="fashion-mnist-mini")
    r = rows_of(UnseenCategory().compute(ev))
    # E_Sandal = {0,1}: shared with {0}, {1}, {2}, {3}, {0,1} = 1, 1, 0, 0, 2
    assert [r[("shared", 1, "Sandal", c)] for c in FASHION[:5]] == [1, 1, 0, 0, 2]
    assert r[("max_shared", 1, None, None)] == 2
    # the Jaccard values next to them: 1/2, 1/2, 0, 0, 1
    assert [r[("overlap", 1, "Sandal", c)] for c in FASHION[:5]] == [0.5, 0.5, 0.0, 0.0, 1.0]
    assert r[("max_overlap", 1, None, None)] == 1.0
    assert r[("size", 1, None, None)] == 2 and r[("strength", 1, None, None)] == pytest.approx(6 / 7)
    assert not any(k[0] == "shared" and k[3] == "Sandal" for k in r)


# -- one real run --------------------------------------------------------------------------


def test_cli_run_real_model(tmp_path):
    out = tmp_path / "r.parquet"
    res = CliRunner().invoke(
        app,
        [
            "run",
            "--rule",
            "ff[width=64,layers=2,epochs=3,batch_size=64]",
            "--dataset",
            "fashion-mnist-mini[train_size=1000,test_size=300]",
            "--metric",
            "loo-ensembles,jaccard,unseen-category[holdout=9],excitation",
            "--out",
            str(out),
            "--no-cache",
            "-q",
            "--device",
            "cpu",
        ],
    )
    assert res.exit_code == 0, res.output
    df = pd.read_parquet(out)
    assert (df["status"] == "ok").all(), df.get("error")
    loo = df[df.metric == "loo-ensembles"]
    per_class = loo[(loo.stat == "size") & loo["class"].notna()]
    missing = loo[loo.stat == "missing_classes"].value.item()
    assert (per_class.groupby("layer").size() == 10 - missing).all() and per_class.value.between(0, 64).all()
    sel = loo[(loo.stat == "selectivity") & loo["class"].isna()]
    assert len(sel) == 2 and sel.value.between(0.1, 1.0).all()  # between 1/C and 1
    assert loo[loo.stat == "activity_share"].value.between(0, 1).all()

    # the jaccard rows agree with the unit sets loo-ensembles saved (same tau, same samples)
    art = out.parent / loo.artifact.iloc[0]
    meta = json.loads(art.with_name(art.name + ".json").read_text())
    arrays = np.load(str(art) + ".npz")
    assert arrays["ensemble_L1"].shape == (10, 64) and arrays["sample_activity_L2"].shape[1] == 64
    jac = df[(df.metric == "jaccard") & (df.stat == "jaccard") & df.class_b.notna()]
    assert len(jac) > 0
    for row in jac.to_dict("records"):
        units = meta[f"units_L{row['layer']}"]
        a, b = set(units[row["class"]]), set(units[row["class_b"]])
        assert row["value"] == pytest.approx(len(a & b) / len(a | b))

    unseen = df[df.metric == "unseen-category"]
    overlap = unseen[unseen.stat == "overlap"]
    assert set(overlap["class"]) == {"Ankle boot"} and "Ankle boot" not in set(overlap.class_b)
    shared = unseen[unseen.stat == "shared"]
    assert set(shared["class"]) == {"Ankle boot"} and (shared.value >= 0).all()
    assert unseen[unseen.stat == "strength"].value.between(0, 1).all()
    rho = df[(df.metric == "excitation") & (df.stat == "mean")]
    assert len(rho) == 2 and rho.value.between(0.05, 0.95).all()
