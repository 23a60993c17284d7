"""The negative-sample strategies of the negatives study (plugins/negatives/negatives_study.py):
hand-checkable outputs on tiny tensors, held-out classes, determinism, the conformance suite, and
a short real training."""

from __future__ import annotations

import pytest
import torch
from conftest import accuracy

from ffbench.contracts import TrainContext
from ffbench.testing import check_component
from ffbench_plugins.goodness.norms import L2Goodness
from ffbench_plugins.negatives.negatives_study import (
    STUDY_NEGATIVES,
    ClassConfusionNegatives,
    HybridMixNegatives,
    MaskingNegatives,
    NoiseNegatives,
    SameClassNegatives,
    ffbench_register_negatives,
    same_class_partners,
)
from ffbench_plugins.rules.ff import FFRule

# Six samples, classes 0 0 0 1 1 2; image i is the row [10 i, 10 i + 1] (so a row names its image).
Y = torch.tensor([0, 0, 0, 1, 1, 2])
X = torch.stack([torch.tensor([10.0 * i, 10.0 * i + 1]) for i in range(6)])
ALL = torch.arange(3)


def generate(cls, x=X, y=Y, allowed=ALL, seed=0, **params):
    g = torch.Generator().manual_seed(seed)
    return cls.from_spec(params).generate(x, y, allowed=allowed, generator=g)


def image_index(x_neg):
    """Which image of X each row of x_neg is (rows are unaltered images)."""
    return (x_neg[:, 0] / 10).round().long()


def test_class_confusion_keeps_images_and_permutes_labels():
    x_neg, y_neg = generate(ClassConfusionNegatives)
    assert x_neg is X  # the same images: the ff rule folds layer 1 for them
    assert sorted(y_neg.tolist()) == sorted(Y.tolist())  # a permutation of the labels
    assert y_neg.dtype == torch.long


def test_class_confusion_keeps_about_one_in_c_true_labels():
    """The study's definition: a shuffled label is the image's own class with probability
    sum_c (n_c / N)^2 = 1/C for balanced classes; 10 balanced classes, 20 000 samples -> 0.1."""
    y = torch.arange(10).repeat(2000)
    _, y_neg = generate(ClassConfusionNegatives, x=torch.zeros(len(y), 1), y=y)
    assert abs(float((y_neg == y).float().mean()) - 0.1) < 0.01
    _, y_neg = generate(ClassConfusionNegatives, x=torch.zeros(len(y), 1), y=y, allow_true_label=False)
    assert not (y_neg == y).any()
    # label of a random sample of another class: uniform over the 9 others when balanced
    counts = torch.bincount(y_neg[y == 0], minlength=10)
    assert counts[0] == 0 and counts[1:].min() > 160 and counts[1:].max() < 290  # 2000 / 9 = 222


def test_class_confusion_other_classes_follow_class_frequencies():
    # classes 0 (1 sample), 1 (3 samples), 2 (1 sample): sample 0's label is 1 w.p. 3/4, 2 w.p. 1/4
    y = torch.tensor([0, 1, 1, 1, 2])
    draws = torch.stack(
        [
            generate(ClassConfusionNegatives, x=torch.zeros(5, 1), y=y, seed=s, allow_true_label=False)[1]
            for s in range(2000)
        ]
    )
    assert set(draws[:, 0].tolist()) == {1, 2}
    assert abs(float((draws[:, 0] == 1).float().mean()) - 0.75) < 0.04
    assert set(draws[:, 1].tolist()) == {0, 2}  # a sample of class 1 gets 0 or 2, each w.p. 1/2
    with pytest.raises(ValueError, match="at least two classes"):
        generate(ClassConfusionNegatives, x=torch.zeros(2, 1), y=torch.tensor([1, 1]), allow_true_label=False)


def test_same_class_any_partner_is_a_permutation_with_wrong_labels():
    x_neg, y_neg = generate(SameClassNegatives)
    assert sorted(image_index(x_neg).tolist()) == list(range(6))  # every image once
    assert torch.equal(x_neg, X[image_index(x_neg)])  # images unaltered
    assert not (y_neg == Y).any()  # wrong for the anchor sample i ...


def test_same_class_any_partner_labels_the_shown_image_correctly_about_one_in_c():
    """... but the shown image x_pi(i) has class y_i' != y_i: P(w(y_i) = y_pi(i)) = 0.9 * 1/9."""
    y = torch.arange(10).repeat(2000)
    x = y.float().unsqueeze(1)  # the image is its class
    x_neg, y_neg = generate(SameClassNegatives, x=x, y=y)
    shown = x_neg[:, 0].long()
    assert abs(float((y_neg == shown).float().mean()) - 0.1) < 0.01
    x_neg, y_neg = generate(SameClassNegatives, x=x, y=y, partner="same-class")
    assert torch.equal(x_neg[:, 0].long(), y) and not (y_neg == y).any()


def test_same_class_partner_is_another_image_of_the_class():
    for seed in range(20):
        x_neg, y_neg = generate(SameClassNegatives, seed=seed, partner="same-class")
        k = image_index(x_neg)
        assert torch.equal(Y[k], Y)  # same class
        assert (k[:5] != torch.arange(5)).all()  # never itself when the class has others
        assert k[5] == 5  # sample 5 is alone in class 2: its own image
        assert not (y_neg == Y).any()
    # sample 0's partner is 1 or 2, each about half the time
    picks = torch.stack([same_class_partners(Y, torch.Generator().manual_seed(s)) for s in range(1000)])
    assert set(picks[:, 0].tolist()) == {1, 2} and abs(float((picks[:, 0] == 1).float().mean()) - 0.5) < 0.06
    assert set(picks[:, 3].tolist()) == {4} and set(picks[:, 4].tolist()) == {3}


def test_hybrid_mix_by_hand():
    x_neg, y_neg = generate(HybridMixNegatives)
    g = torch.Generator().manual_seed(0)
    perm = torch.randperm(6, generator=g)  # the first draw is the partner permutation
    assert torch.allclose(x_neg, 0.5 * X + 0.5 * X[perm])
    # e.g. image 0 = [0, 1] mixed with image 5 = [50, 51] -> [25, 26]
    assert not (y_neg == Y).any()
    x_neg, _ = generate(HybridMixNegatives, weight=1.0)
    assert torch.equal(x_neg, X)
    x_neg, _ = generate(HybridMixNegatives, weight=0.25)
    assert torch.allclose(x_neg, 0.25 * X + 0.75 * X[perm])
    _, y_true = generate(HybridMixNegatives, label="true")
    assert torch.equal(y_true, Y)


def test_noise_by_hand():
    x = torch.zeros(4, 1000)
    y = torch.tensor([0, 1, 2, 0])
    x_neg, y_neg = generate(NoiseNegatives, x=x, y=y)
    assert abs(float(x_neg.std()) - 0.3) < 0.01 and abs(float(x_neg.mean())) < 0.02  # 0 + 0.3 N(0, 1)
    assert not (y_neg == y).any()
    x_neg, _ = generate(NoiseNegatives, x=X, sigma=0.0)
    assert torch.equal(x_neg, X)
    noisy, _ = generate(NoiseNegatives, x=X, sigma=2.0)
    unit, _ = generate(NoiseNegatives, x=X, sigma=1.0)
    assert torch.allclose(noisy - X, 2 * (unit - X))  # the same eps, scaled


def test_masking_by_hand():
    x = torch.ones(10, 1000)
    y = torch.zeros(10, dtype=torch.long)
    x_neg, y_neg = generate(MaskingNegatives, x=x, y=y)
    assert set(x_neg.unique().tolist()) <= {0.0, 1.0}
    assert abs(float((x_neg == 0).float().mean()) - 0.3) < 0.01  # 30 % of the pixels dropped
    assert (y_neg != 0).all()
    # the pixels kept are unchanged, the others are exactly 0
    x_neg, _ = generate(MaskingNegatives, drop=0.5)
    kept = x_neg != 0
    assert torch.equal(x_neg[kept], X[kept]) and (x_neg[~kept] == 0).all()
    assert torch.equal(generate(MaskingNegatives, drop=0.0)[0], X)
    assert (generate(MaskingNegatives, drop=1.0)[0] == 0).all()


@pytest.mark.parametrize("cls", STUDY_NEGATIVES, ids=lambda c: c.name)
def test_held_out_class_is_never_a_negative_label(cls):
    """With class 2 held out, training holds classes 0 and 1 only: every wrong label is the other one."""
    keep = Y != 2
    x, y = X[keep], Y[keep]
    _, y_neg = generate(cls, x=x, y=y, allowed=torch.tensor([0, 1]))
    assert set(y_neg.tolist()) <= {0, 1}
    if cls is not ClassConfusionNegatives:
        assert torch.equal(y_neg, 1 - y)  # the only wrong allowed label


@pytest.mark.parametrize("cls", STUDY_NEGATIVES, ids=lambda c: c.name)
def test_deterministic_under_a_seeded_generator(cls):
    a, b, _c = generate(cls, seed=3), generate(cls, seed=3), generate(cls, seed=4)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    x = torch.randn(50, 20)
    y = torch.arange(5).repeat(10)
    d, e = generate(cls, x=x, y=y, seed=1), generate(cls, x=x, y=y, seed=2)
    assert not (torch.equal(d[0], e[0]) and torch.equal(d[1], e[1]))  # the seed matters


@pytest.mark.parametrize("cls", STUDY_NEGATIVES, ids=lambda c: c.name)
def test_image_shaped_input_keeps_its_shape(cls):
    x = torch.randn(6, 1, 4, 4)
    x_neg, y_neg = generate(cls, x=x)
    assert x_neg.shape == x.shape and y_neg.shape == (6,)


def test_study_defaults_and_registration():
    defaults = {cls.name: cls.from_spec({}).values for cls in STUDY_NEGATIVES}
    assert defaults == {
        "ns-class-confusion": {"resample": False, "allow_true_label": True},
        "ns-same-class": {"resample": False, "partner": "any"},
        "ns-hybrid-mix": {"resample": False, "weight": 0.5, "label": "wrong"},
        "ns-noise": {"resample": False, "sigma": 0.3, "label": "wrong"},
        "ns-masking": {"resample": False, "drop": 0.3, "label": "wrong"},
    }
    assert not any(cls.from_spec({}).resamples for cls in STUDY_NEGATIVES)  # drawn once
    registered = []
    ffbench_register_negatives(registered.append)
    assert registered == list(STUDY_NEGATIVES)


@pytest.mark.parametrize(
    "spec", ["ns-masking[drop=1.5]", "ns-noise[sigma=-1]", "ns-same-class[partner=same]", "ns-hybrid-mix[label=random]"]
)
def test_bad_parameters_name_the_value(spec):
    from ffbench.errors import ParameterError
    from ffbench.registry import get_registry

    with pytest.raises(ParameterError) as err:
        get_registry().build("negatives", spec)
    bad = spec.split("=")[1].rstrip("]")
    assert bad in str(err.value)


# The default ns-class-confusion gives ~1/C negatives the image's own label (the study's
# definition), which the conformance check "labels_wrong_and_allowed" rejects: it runs with
# allow_true_label=false, and the default runs every other check.
TRUE_LABELS = "the study's class confusion keeps ~1/C true labels by definition (checked with allow_true_label=false)"
CONFORMANCE = [
    (ClassConfusionNegatives, {}, {"labels_wrong_and_allowed": TRUE_LABELS}),
    (ClassConfusionNegatives, {"allow_true_label": False}, {}),
    (SameClassNegatives, {}, {}),
    (SameClassNegatives, {"partner": "same-class"}, {}),
    (HybridMixNegatives, {}, {}),
    (NoiseNegatives, {}, {}),
    (MaskingNegatives, {}, {}),
]


@pytest.mark.parametrize(
    "cls, params, skip",
    CONFORMANCE,
    ids=[c.from_spec(p).short_identity + ("-skip" if s else "") for c, p, s in CONFORMANCE],
)
def test_conformance(cls, params, skip):
    results = check_component(cls, params=params, skip=skip)  # raises ConformanceError listing failures
    passed = {r.check for r in results if r.status == "passed"}
    assert {"generate_shapes", "generate_seeded", "trains_and_predicts", "deterministic_training"} <= passed
    assert ("labels_wrong_and_allowed" in passed) == (not skip)


def test_default_class_confusion_fails_the_wrong_label_check_as_documented():
    from ffbench.testing import ConformanceError

    with pytest.raises(ConformanceError, match="negative labels equal the true label"):
        check_component(ClassConfusionNegatives)


@pytest.mark.parametrize(
    "negatives", [ClassConfusionNegatives(), HybridMixNegatives()], ids=["class-confusion", "hybrid-mix"]
)
def test_ff_learns_with_study_negatives(tiny_data, negatives):
    """1 000 real Fashion-MNIST images, 2 x 128 units, 10 epochs: well above chance (10 %)."""
    ctx = TrainContext(torch.device("cpu"), 0, list(range(10)), 10)
    model = FFRule(epochs=10, width=128, layers=2, batch_size=100).fit(tiny_data, L2Goodness(), negatives, ctx)
    acc = accuracy(model, tiny_data)
    assert acc > 0.4, f"{negatives.identity}: test accuracy {acc:.3f}"
