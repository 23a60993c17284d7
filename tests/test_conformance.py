"""ffbench.testing: the built-in components pass the conformance suite, and deliberately wrong
components fail it with a message that names the check and the problem."""

from __future__ import annotations

import time

import pytest
import torch

from ffbench.component import Param
from ffbench.contracts import DataSplit, Goodness, Metric, MetricResult, MetricRow
from ffbench.registry import get_registry
from ffbench.testing import ConformanceError, Harness, check_component, checks_for, conformance_cases, tiny_params
from ffbench_plugins.datasets.embedded import FashionMNISTMini
from ffbench_plugins.goodness.norms import L2Goodness
from ffbench_plugins.metrics.sparsity import HoyerSparsity
from ffbench_plugins.negatives.wrong_label import WrongLabelNegatives
from ffbench_plugins.rules.ff import FFRule

pytest_plugins = ["pytester"]

BUILTINS = [e.cls for e in get_registry().all_entries() if e.dist == "ffbench"]


# -- the built-ins pass ----------------------------------------------------------------------


#: documented deviations of a built-in from a check: (name, check) -> reason
BUILTIN_SKIPS = {
    (
        "ns-class-confusion",
        "labels_wrong_and_allowed",
    ): "the study's class confusion keeps ~1/C true labels by definition (docs/negatives_study.md)"
}


#: label-free negatives train with label-free FF (the default harness rule embeds labels and refuses them)
LABEL_FREE_HARNESS = Harness(rule="ff[batch_size=100,epochs=2,layers=2,width=32,label=none]")


@pytest.mark.parametrize(
    "case",
    [
        c
        for cls in BUILTINS
        for c in conformance_cases(
            cls,
            params=tiny_params(cls),
            harness=LABEL_FREE_HARNESS if getattr(cls, "label_free", False) else None,
            skip={chk: why for (name, chk), why in BUILTIN_SKIPS.items() if name == cls.name},
        )
    ],
)
def test_builtin_components_conform(case):
    case.run()


def test_every_kind_of_builtin_is_checked():
    assert {cls.kind for cls in BUILTINS} == {"rule", "goodness", "negatives", "dataset", "metric"}


def test_check_component_reports_each_check():
    results = check_component(L2Goodness)
    assert [r.check for r in results] == [c.name for c in checks_for(L2Goodness)]
    assert {r.status for r in results} == {"passed"}
    assert "score_shape" in {r.check for r in results} and "deterministic_training" in {r.check for r in results}


def test_not_applicable_checks_are_skipped_with_reason():
    none = get_registry().get("negatives", "none").cls
    results = {r.check: r for r in check_component(none)}
    assert results["generate_shapes"].status == "skipped"
    assert "produces_negatives = False" in results["generate_shapes"].message
    assert results["declares_contract"].status == "passed"


def test_skip_needs_a_known_check_name():
    with pytest.raises(ValueError, match="unknown checks \\['score_shapes'\\].*score_shape"):
        check_component(L2Goodness, skip={"score_shapes": "typo"})
    results = {r.check: r for r in check_component(L2Goodness, skip={"score_per_sample": "batch-level score"})}
    assert results["score_per_sample"].status == "skipped"
    assert results["score_per_sample"].message == "batch-level score"


# -- deliberately wrong components fail, naming the problem ----------------------------------


class ColumnScore(L2Goodness):
    name = "column-score"

    def score(self, h):
        return h.pow(2).sum(dim=-1, keepdim=True)  # [N, 1] instead of [N]


class BatchScore(L2Goodness):
    name = "batch-score"

    def score(self, h):
        return h.sum(dim=-1) / h.sum()  # depends on the other samples


class DetachedLoss(L2Goodness):
    name = "detached-loss"

    def layer_loss(self, h_pos, h_neg):
        return self.score(h_pos).mean().detach()


class TrueLabels(WrongLabelNegatives):
    name = "true-labels"

    def generate(self, x, y, *, allowed, generator, scores=None):
        return x, y.clone()


class NextLabel(WrongLabelNegatives):
    name = "next-label"

    def generate(self, x, y, *, allowed, generator, scores=None):
        return x, (y + 1) % 10  # ignores `allowed`: reaches a held-out class


class GlobalRandom(WrongLabelNegatives):
    name = "global-random"

    def generate(self, x, y, *, allowed, generator, scores=None):
        return x, (y + torch.randint(1, 10, y.shape)) % 10  # the global RNG, not `generator`


class ClockSeededFF(FFRule):
    name = "clock-ff"

    def fit(self, data, goodness, negatives, ctx):
        seed = time.perf_counter_ns()  # every random draw no longer follows ctx.seed
        torch.manual_seed(seed)
        ctx.generator.manual_seed(seed)
        return super().fit(data, goodness, negatives, ctx)


class NoScore(Goodness):
    name = "no-score"
    params = (Param("threshold", float, 3.0),)


class BadDefault(L2Goodness):
    name = "bad-default"
    params = (Param("threshold", float, 3.0, choices=(1.0, 2.0)),)


class BadName(L2Goodness):
    name = "l2[x]"


def _metric(rows, name="bad-metric", headline=()):
    return type(
        "BadMetric",
        (Metric,),
        {
            "name": name,
            "headline": headline,
            "compute": lambda self, ev: MetricResult(rows),
        },
    )


class Int32Labels(FashionMNISTMini):
    name = "int32-labels"

    def load(self, data_dir=None, download=True):
        b = super().load(data_dir, download)
        b.name = self.name
        b.test = DataSplit(b.test.x, b.test.y.int())
        return b


class ShortLabels(FashionMNISTMini):
    name = "short-labels"

    def load(self, data_dir=None, download=True):
        b = super().load(data_dir, download)
        b.name = self.name
        b.train = DataSplit(b.train.x, b.train.y[:-1])
        return b


WRONG = [
    (ColumnScore, {}, "score_shape", r"shape \[8, 1\], expected \[8\]"),
    (BatchScore, {}, "score_per_sample", "change with the batch"),
    (DetachedLoss, {}, "loss_scalar_with_gradient", "has no gradient"),
    (TrueLabels, {}, "labels_wrong_and_allowed", "64 of 64 negative labels equal the true label"),
    (NextLabel, {}, "labels_wrong_and_allowed", r"negative labels \[\d\] are not in allowed"),
    (GlobalRandom, {}, "generate_seeded", "equally seeded generators differ"),
    (ClockSeededFF, tiny_params(FFRule), "deterministic_training", "differ between two trainings with seed 0"),
    (NoScore, {}, "declares_contract", "abstract methods not implemented: score"),
    (BadDefault, {}, "param_schema_round_trip", r"default 3.0 is not one of \(1.0, 2.0\)"),
    (BadName, {}, "declares_contract", r"name 'l2\[x\]' is not a valid component name"),
    (_metric([MetricRow("m", 0.5, layer=0)]), {}, "rows_well_formed", r"layer must be None or 1..2 \(1-based\)"),
    (_metric([MetricRow("m", torch.tensor(0.5))]), {}, "rows_well_formed", "is not a real number"),
    (_metric([MetricRow("m", float("inf"))]), {}, "rows_well_formed", "value is infinite"),
    (_metric([MetricRow("m", 0.5, cls="Kitten")]), {}, "rows_well_formed", "class 'Kitten' is not one of"),
    (_metric([MetricRow("m", 0.5), MetricRow("m", 0.6)]), {}, "rows_well_formed", "appears twice"),
    (
        _metric([MetricRow("m", 0.5)], headline=("score",)),
        {},
        "rows_well_formed",
        r"headline stats \['score'\] are not among",
    ),
    (Int32Labels, tiny_params(FashionMNISTMini), "bundle_consistent", "test.y must be a 1-D int64 tensor"),
    (
        ShortLabels,
        tiny_params(FashionMNISTMini),
        "bundle_consistent",
        r"train.x has shape \[300, 1, 28, 28\], "
        r"expected \[299, 1, 28, 28\]",
    ),
]


@pytest.mark.parametrize("cls, params, check, problem", WRONG, ids=[w[0].name for w in WRONG])
def test_wrong_component_fails_naming_the_problem(cls, params, check, problem):
    with pytest.raises(ConformanceError, match=f"fails check '{check}': .*{problem}"):
        check_component(cls, params=params)


def test_failure_message_names_component_and_lists_every_failure():
    with pytest.raises(ConformanceError) as info:
        check_component(ColumnScore)
    message = str(info.value)
    assert message.startswith(f"1 of {len(checks_for(ColumnScore))} checks failed:")
    assert "goodness 'column-score' (test_conformance.ColumnScore) fails check 'score_shape'" in message


def test_a_crash_in_the_component_is_a_failure_not_an_error():
    class Crashing(HoyerSparsity):
        name = "crashing"

        def compute(self, ev):
            raise KeyError("layer 7")

    with pytest.raises(ConformanceError, match="fails check 'rows_well_formed': it raised KeyError: 'layer 7'"):
        check_component(Crashing)


# -- the pytest helpers, seen from a plugin author's test run --------------------------------


def test_conformance_suite_under_pytest(pytester):
    pytester.makepyfile(
        test_author="""
        import torch
        from ffbench.testing import conformance_suite
        from ffbench_plugins.goodness.norms import L2Goodness

        class Shape(L2Goodness):
            name = "shape"
            def score(self, h):
                return h.pow(2).sum(dim=-1, keepdim=True)

        TestGood = conformance_suite(L2Goodness)
        TestBad = conformance_suite(Shape, skip={"trains_and_predicts": "inference needs score [N]"})
    """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(passed=8 + 6, failed=1, skipped=1)  # 9 goodness checks each (name_not_taken too)
    result.stdout.fnmatch_lines(
        [
            "*TestBad.test_score_shape*",
            "goodness 'shape' (test_author.Shape) fails check 'score_shape': score of activity [[]8, 16] has shape*",
            "*SKIPPED*inference needs score [[]N]*",
        ]
    )


# -- helpers for authors' unit tests ---------------------------------------------------------


def test_evaluation_from_activity_feeds_a_metric_hand_computable_numbers():
    from ffbench.testing import evaluation_from_activity, tiny_bundle

    ev = evaluation_from_activity([0, 0, 1], [[[3, 0], [1, 0], [0, 2]]], predictions=[0, 1, 1])
    assert ev.classes == ["0", "1"] and ev.correct.tolist() == [True, False, True]
    sparsity = get_registry().build("metric", "sparsity[samples=all]")
    rows = {(r.stat, r.cls): r.value for r in sparsity.compute(ev).rows if r.layer == 1}
    assert rows[("sparsity", None)] == pytest.approx(1.0)  # every sample has one active unit of two
    accuracy = get_registry().build("metric", "accuracy")
    assert next(r.value for r in accuracy.compute(ev).rows if r.cls is None) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="one \\[N, D\\] matrix per layer with N = 3"):
        evaluation_from_activity([0, 0, 1], [[[1, 2]]])
    bundle = tiny_bundle()
    assert len(bundle.train) == 300 and len(bundle.test) == 100 and bundle.shape == (1, 28, 28)


def test_trained_model_check_reads_declared_weights_and_non_negativity():
    from ffbench.contracts import DatasetBundle
    from ffbench.testing import ActivityModel, check_trained_model, tiny_bundle

    bundle, n = tiny_bundle(), 64
    signed = [torch.tensor([[1.0, -1.0]]).repeat(n, 1)]  # the stand-in model reads image i as sample i
    test = DataSplit(torch.arange(n, dtype=torch.float32).reshape(-1, 1, 1, 1), bundle.test.y[:n])
    data = DatasetBundle("hand-made", test, test, bundle.classes, (1, 1, 1), (0.0,), (1.0,), "0" * 16)
    preds = torch.zeros(n, dtype=torch.long)
    check_trained_model(ActivityModel(signed, preds, []), data, n)  # no weights, signed activity: passes
    check_trained_model(ActivityModel(signed, preds, [torch.ones(2, 5)]), data, n)  # declared weights, right shape
    with pytest.raises(ConformanceError, match=r"layer 1 weight has shape \[3, 5\], expected \[2, D_in\]"):
        check_trained_model(ActivityModel(signed, preds, [torch.ones(3, 5)]), data, n)
    declared = ActivityModel(signed, preds, [])
    declared.nonnegative_activity = True
    with pytest.raises(ConformanceError, match="negative values .* declares nonnegative_activity = True"):
        check_trained_model(declared, data, n)
