"""Label-free FF (ff[label=none]), the negatives study's label-free generators and its model-aware
ns-fgsm (plugins/negatives/label_free.py): hand-checkable generator outputs, determinism, which
rule accepts which generator, the readout, stacked seeds, FLOP counts and short real trainings."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import accuracy
from torch.utils.flop_counter import FlopCounterMode

from ffbench.bench import synthetic_bundle
from ffbench.component import ParameterError
from ffbench.contracts import TrainContext
from ffbench.registry import load_registry
from ffbench.testing import check_trained_model
from ffbench_plugins.goodness.dimcompress import DimCompressGoodness
from ffbench_plugins.goodness.norms import L2Goodness, SumSquaresGoodness
from ffbench_plugins.negatives import label_free
from ffbench_plugins.negatives.hard import HardNegatives, NoNegatives
from ffbench_plugins.negatives.label_free import (
    LABEL_FREE_NEGATIVES,
    ClassAwareMixNegatives,
    FGSMNegatives,
    ImageMixNegatives,
    MaskNegatives,
    RandomNoiseNegatives,
    other_class_partners,
)
from ffbench_plugins.negatives.negatives_study import (
    ClassConfusionNegatives,
    HybridMixNegatives,
    MaskingNegatives,
    NoiseNegatives,
    SameClassNegatives,
)
from ffbench_plugins.negatives.wrong_label import WrongLabelNegatives, draw_wrong_labels
from ffbench_plugins.rules.bp_ff import BPFFRule
from ffbench_plugins.rules.conv_ff import ConvFFRule
from ffbench_plugins.rules.ff import FFRule, keeps_training_images
from ffbench_plugins.rules.ff_pieces import LabelEmbedding, rms_normalize
from ffbench_plugins.rules.ffnet import READOUT_EPOCHS, FFNet, LinearReadout, ModelGoodness

ALL = torch.arange(3)


def generate(cls, x, y=None, seed=0, **params):
    y = torch.zeros(len(x), dtype=torch.long) if y is None else y
    g = torch.Generator().manual_seed(seed)
    return cls.from_spec(params).generate(x, y, allowed=ALL, generator=g)


def cpu_ctx(seed: int) -> TrainContext:
    return TrainContext(torch.device("cpu"), seed, list(range(10)), 10)


# -- the generators, by hand ---------------------------------------------------------------------


def test_image_mix_weights_and_partners_read_off_one_hot_rows():
    """Row i of the identity is e_i, so negative i = a e_i + (1 - a) e_p: a and the partner p are
    read off the row (p = i gives e_i back)."""
    n = 40
    x_neg, y_neg = generate(ImageMixNegatives, torch.eye(n))
    assert y_neg is None and x_neg.shape == (n, n)
    torch.testing.assert_close(x_neg.sum(1), torch.ones(n))  # convex weights
    a = x_neg.diagonal()
    moved = a < 1  # rows whose partner is another image
    assert moved.sum() >= n - 3
    assert bool(((a[moved] >= 0.3) & (a[moved] <= 0.7)).all())
    partner = torch.where(moved, (x_neg - torch.diag(a)).argmax(1), torch.arange(n))
    assert sorted(partner.tolist()) == list(range(n))  # a permutation of the rows
    torch.testing.assert_close(x_neg[moved].max(1).values, torch.maximum(a, 1 - a)[moved])


def test_image_mix_weights_are_uniform_on_0_3_to_0_7():
    # one pixel per row: x_i = 0 for i < n/2, 1 otherwise; a row mixing a 0-row anchor with a
    # 1-row partner has value 1 - a, so over many rows 1 - a spans U(0.3, 0.7)
    n = 20000
    x = (torch.arange(n) >= n // 2).float().unsqueeze(1)
    x_neg, _ = generate(ImageMixNegatives, x)
    v = x_neg[: n // 2, 0]
    w = 1 - v[v > 0]  # anchors whose partner is a 1-row: w = a
    assert len(w) > 4000
    assert 0.3 <= float(w.min()) and float(w.max()) <= 0.7
    assert abs(float(w.mean()) - 0.5) < 0.01
    assert abs(float(w.quantile(0.25)) - 0.4) < 0.01 and abs(float(w.quantile(0.75)) - 0.6) < 0.01


def test_image_mix_mask_mode_takes_each_pixel_from_one_of_the_two():
    # row i is the constant i + 1 over 2000 pixels: a negative's pixels are i + 1 or p + 1
    n, d = 6, 2000
    x = (torch.arange(n, dtype=torch.float32) + 1).unsqueeze(1).expand(n, d).contiguous()
    x_neg, _ = generate(ImageMixNegatives, x, mode="mask")
    for i in range(n):
        values = set(x_neg[i].unique().tolist())
        assert float(i + 1) in values and len(values) <= 2
        if len(values) == 2:  # another partner: about half the pixels from each
            assert abs(float((x_neg[i] == i + 1).float().mean()) - 0.5) < 0.05


def test_class_aware_partners_are_of_another_class():
    y = torch.arange(10).repeat(1000)  # 10 balanced classes
    g = torch.Generator().manual_seed(0)
    partner = other_class_partners(y, g)
    assert int((y[partner] == y).sum()) <= 2  # 0.1^6 * 10 000 = 0.01 expected
    once = other_class_partners(y, torch.Generator().manual_seed(0), redraws=0)  # a plain permutation
    assert sorted(once.tolist()) == list(range(len(y)))
    assert abs(float((y[once] == y).float().mean()) - 0.1) < 0.01
    # a class that cannot be avoided: 99 samples of class 0, one of class 1; after 5 re-draws most
    # class-0 samples still have a class-0 partner (the study mixes them anyway)
    y = torch.tensor([0] * 99 + [1])
    partner = other_class_partners(y, torch.Generator().manual_seed(1))
    assert int((y[partner] == y).sum()) > 80


def test_class_aware_mix_by_hand():
    """One-hot rows again: every negative mixes its image (weight a in [0.3, 0.7]) with an image of
    another class."""
    n = 30
    y = torch.arange(n) % 3
    x_neg, y_neg = generate(ClassAwareMixNegatives, torch.eye(n), y=y)
    assert y_neg is None
    a = x_neg.diagonal()
    assert bool(((a >= 0.3) & (a <= 0.7)).all())  # no row is its own partner: partners differ in class
    partner = (x_neg - torch.diag(a)).argmax(1)
    torch.testing.assert_close(x_neg[torch.arange(n), partner], 1 - a)
    assert bool((y[partner] != y).all())


def test_random_noise_statistics():
    x = torch.zeros(400, 500)
    gauss, y_neg = generate(RandomNoiseNegatives, x)
    assert y_neg is None and gauss.shape == x.shape and gauss.dtype == x.dtype
    assert abs(float(gauss.mean())) < 0.01 and abs(float(gauss.std()) - 1) < 0.01
    uniform, _ = generate(RandomNoiseNegatives, x, noise="uniform")
    assert float(uniform.min()) >= 0 and float(uniform.max()) < 1 and abs(float(uniform.mean()) - 0.5) < 0.01


def test_matched_noise_has_each_pixels_mean_and_std():
    # pixel 0 ~ 5 + 2 N(0, 1), pixel 1 ~ -3 + 0.5 N(0, 1), pixel 2 constant 2: the negatives keep
    # each pixel's mean and std over the rows given (pixel 2: std 0 + 1e-8, so it stays 2)
    g = torch.Generator().manual_seed(3)
    z = torch.randn(20000, 2, generator=g)
    x = torch.stack([5 + 2 * z[:, 0], -3 + 0.5 * z[:, 1], torch.full((20000,), 2.0)], dim=1)
    x_neg, _ = generate(RandomNoiseNegatives, x, noise="matched")
    torch.testing.assert_close(x_neg.mean(0), x.mean(0), atol=0.05, rtol=0)
    torch.testing.assert_close(x_neg[:, :2].std(0), x[:, :2].std(0), atol=0.03, rtol=0)
    torch.testing.assert_close(x_neg[:, 2], x[:, 2], atol=1e-6, rtol=0)
    assert not torch.equal(x_neg[:, 0], x[:, 0])  # fresh draws, not the images


def test_mask_by_hand():
    x = torch.arange(1, 10001, dtype=torch.float32).view(10, 1000)
    x_neg, y_neg = generate(MaskNegatives, x)
    assert y_neg is None
    kept = x_neg != 0
    assert torch.equal(x_neg[kept], x[kept])  # a pixel is kept as it is, or set to 0
    assert abs(float(kept.float().mean()) - 0.5) < 0.02
    assert torch.equal(generate(MaskNegatives, x, fraction=0.0)[0], x)
    assert not generate(MaskNegatives, x, fraction=1.0)[0].any()
    # the same images as ns-masking[drop=0.5,label=true] from the same generator seed
    labelled, _ = generate(MaskingNegatives, x, seed=0, drop=0.5, label="true")
    assert torch.equal(x_neg, labelled)


@pytest.mark.parametrize("cls", LABEL_FREE_NEGATIVES)
def test_deterministic_label_free_and_shape_preserving(cls):
    g = torch.Generator().manual_seed(5)
    x, y = torch.randn(12, 1, 4, 4, generator=g), torch.arange(12) % 3  # image-shaped input
    a, b, c = (generate(cls, x, y=y, seed=s) for s in (7, 7, 8))
    assert a[1] is None and a[0].shape == x.shape and a[0].dtype == x.dtype
    assert torch.equal(a[0], b[0]) and not torch.equal(a[0], c[0])
    assert cls.label_free and cls.from_spec({}).resamples is False
    assert not keeps_training_images(cls.from_spec({}))


def test_study_defaults_and_registration():
    assert {cls.name: cls.from_spec({}).values for cls in LABEL_FREE_NEGATIVES} == {
        "ns-image-mix": {"resample": False, "mode": "interpolate"},
        "ns-class-aware-mix": {"resample": False, "mode": "interpolate", "redraws": 5},
        "ns-random-noise": {"resample": False, "noise": "gaussian"},
        "ns-mask": {"resample": False, "fraction": 0.5},
    }
    registered = []
    label_free.ffbench_register_negatives(registered.append)
    assert registered == [*LABEL_FREE_NEGATIVES, FGSMNegatives]
    module = "ffbench_plugins.negatives.label_free"
    lines = (Path(__file__).parents[1] / "pyproject.toml").read_text().splitlines()
    assert f'negatives-label-free = "{module}"' in lines  # the entry point (group ffbench)
    reg = load_registry(extra=[("negatives-label-free", module, "ffbench", "0")], use_entry_points=False)
    assert set(reg.names("negatives")) == {cls.name for cls in LABEL_FREE_NEGATIVES} | {"ns-fgsm"}
    assert FGSMNegatives.from_spec({}).values == {"resample": True, "eps": 0.1}
    # the contract's defaults: a generator carries labels and needs no model
    assert not WrongLabelNegatives.label_free and not HybridMixNegatives.label_free
    assert not WrongLabelNegatives.needs_model and not ImageMixNegatives.needs_model


# -- which rule takes which negatives --------------------------------------------------------------


def test_ff_embeds_labels_by_default_and_refuses_label_free_negatives():
    ok, reason = FFRule().accepts(L2Goodness(), ImageMixNegatives())
    assert not ok
    assert reason == (
        "ff: negatives 'ns-image-mix' carry no label (label_free), but ff embeds a label in every positive "
        "and negative: use ff[label=none] (label-free FF)"
    )
    with pytest.raises(ValueError, match="carry no label"):
        FFRule(epochs=1, width=8, layers=1).fit(
            synthetic_bundle(20, (1, 4, 4)), L2Goodness(), MaskNegatives(), cpu_ctx(0)
        )


@pytest.mark.parametrize(
    "negatives",
    [WrongLabelNegatives(), WrongLabelNegatives(pairing="pool"), HardNegatives(), ClassConfusionNegatives()]
    + [SameClassNegatives(), SameClassNegatives(partner="same-class"), MaskingNegatives(drop=0.0)],
    ids=lambda n: n.short_identity,
)
def test_label_none_refuses_negatives_that_are_unchanged_training_images(negatives):
    ok, reason = FFRule(label="none").accepts(L2Goodness(), negatives)
    assert not ok
    assert f"negatives '{negatives.name}' are training images left unchanged" in reason
    assert "would equal positives" in reason


@pytest.mark.parametrize(
    "negatives",
    [cls() for cls in LABEL_FREE_NEGATIVES] + [HybridMixNegatives(), NoiseNegatives(), MaskingNegatives()],
    ids=lambda n: n.short_identity,
)
def test_label_none_accepts_negatives_that_change_the_image(negatives):
    assert FFRule(label="none").accepts(L2Goodness(), negatives) == (True, "")


def test_label_none_refusals_for_other_reasons():
    ok, reason = FFRule(label="none").accepts(DimCompressGoodness(), NoNegatives())
    assert not ok and "trains without negatives and embeds no label anyway" in reason
    with pytest.raises(ParameterError, match="inference' = 'raw' .* label=none .* leave inference at softmax"):
        FFRule(label="none", inference="raw")
    with pytest.raises(ParameterError, match="valid values are embed, none"):
        FFRule(label="no")
    assert not FFRule(label="none").has_baseline(L2Goodness(), MaskNegatives())


@pytest.mark.parametrize("rule", [BPFFRule(), ConvFFRule()], ids=["bp-ff", "conv-ff"])
def test_bp_ff_and_conv_ff_refuse_label_free_negatives(rule):
    ok, reason = rule.accepts(L2Goodness(), ClassAwareMixNegatives())
    assert not ok and "negatives 'ns-class-aware-mix' carry no label (label_free)" in reason
    assert "choose negatives with labels, or a rule that trains label-free" in reason  # the default's advice
    assert rule.accepts(L2Goodness(), WrongLabelNegatives()) == (True, "")


# -- the readout and training ----------------------------------------------------------------------


def test_linear_readout_by_hand():
    """Features: each read layer's activity divided by its RMS; prediction: argmax of W z + b."""
    readout = LinearReadout(3, 2, layers=[1])
    with torch.no_grad():
        readout.linear.weight.copy_(torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]))
        readout.linear.bias.zero_()
    h1 = torch.tensor([[5.0, 7.0], [0.0, 1.0]])  # layer 1: not read
    h2 = torch.tensor([[3.0, 0.0, 4.0], [6.0, 0.0, 0.0]])
    # RMS [3, 0, 4] = 5 / sqrt(3): z = [1.039, 0, 1.386] -> class 1; [6, 0, 0]: z = [1.732, 0, 0] -> class 0
    torch.testing.assert_close(readout.features([h1, h2])[0], torch.tensor([3.0, 0.0, 4.0]) * 3**0.5 / 5)
    assert readout.predict([h1, h2], 2).tolist() == [1, 0]


def test_label_free_ff_learns_and_is_a_complete_model(tiny_data):
    """1 000 real Fashion-MNIST images, 2 x 128 units, 10 epochs, class-aware mixing: well above
    chance (10 %); measured 0.74 (the linear-probe metric's L-BFGS probe on the same layers: 0.75)."""
    rule = FFRule(epochs=10, width=128, layers=2, batch_size=100, label="none")
    logs = []
    ctx = cpu_ctx(0)
    ctx.log = logs.append
    model = rule.fit(tiny_data, L2Goodness(), ClassAwareMixNegatives(), ctx)
    acc = accuracy(model, tiny_data)
    assert acc > 0.6, f"{rule.short_identity}: test accuracy {acc:.3f}"
    assert model.embedding is None and model.label_free and model.reads_label is False
    assert isinstance(model.readout, LinearReadout) and model.readout.read == [0, 1]
    assert any(line.startswith("label-free readout: cross-entropy") for line in logs)
    x, y = tiny_data.test.x[:32], tiny_data.test.y[:32]
    for a, b in zip(model.representations(x, y), model.representations(x, (y + 1) % 10)):
        assert torch.equal(a, b)  # no label anywhere
    check_trained_model(model, tiny_data)
    # the readout reads the RMS-normalised activity of the clean image
    hs = model.representations(tiny_data.test.x, tiny_data.test.y)
    z = torch.cat([rms_normalize(h) for h in hs], dim=1)
    assert torch.equal(model.predict(tiny_data.test.x), model.readout.linear(z).argmax(1))


def test_label_free_model_survives_the_model_cache(tiny_data, tmp_path):
    from ffbench.cache import ModelCache
    from ffbench.provenance import training_closure

    rule = FFRule(epochs=1, width=16, layers=2, batch_size=250, label="none", skip_first=True)
    model = rule.fit(tiny_data, L2Goodness(), MaskNegatives(), cpu_ctx(0))
    assert model.readout.read == [1]
    cache = ModelCache(tmp_path)
    cache.save("k", model, {})
    hit = cache.load("k", training_closure(FFRule, L2Goodness, MaskNegatives), warn=print)
    assert hit is not None
    assert torch.equal(hit.model.predict(tiny_data.test.x), model.predict(tiny_data.test.x))


@pytest.mark.parametrize(
    "kw, negatives",
    [
        (dict(layers=3, batch_size=250), ImageMixNegatives(resample=True)),
        (dict(layers=2, batch_size=200, schedule="simultaneous"), RandomNoiseNegatives(noise="matched")),
    ],
    ids=["greedy-resampled", "simultaneous"],
)
def test_stacked_label_free_seeds_equal_seeds_trained_alone(tiny_data, kw, negatives):
    rule = FFRule(epochs=2, width=32, label="none", **kw)
    stacked = rule.fit_seeds(tiny_data, L2Goodness(), negatives, [cpu_ctx(0), cpu_ctx(1)])
    alone = [rule.fit(tiny_data, L2Goodness(), negatives, cpu_ctx(s)) for s in (0, 1)]
    for s, a in zip(stacked, alone):
        for ws, wa in zip(s.weights(), a.weights()):
            torch.testing.assert_close(ws, wa, rtol=0, atol=1e-4)
        torch.testing.assert_close(s.readout.linear.weight, a.readout.linear.weight, rtol=0, atol=1e-3)
        agree = (s.predict(tiny_data.test.x) == a.predict(tiny_data.test.x)).float().mean()
        assert agree >= 0.99
    assert not torch.allclose(stacked[0].weights()[0], stacked[1].weights()[0], atol=1e-2)


def test_label_free_is_deterministic_and_seeded(tiny_data):
    rule = FFRule(epochs=1, width=16, layers=2, batch_size=250, label="none")
    a, b, c = (rule.fit(tiny_data, L2Goodness(), ImageMixNegatives(), cpu_ctx(s)) for s in (3, 3, 4))
    assert torch.equal(a.weights()[0], b.weights()[0]) and torch.equal(a.readout.linear.weight, b.readout.linear.weight)
    assert not torch.equal(a.readout.linear.weight, c.readout.linear.weight)


@pytest.mark.parametrize("kw", [dict(), dict(schedule="simultaneous"), dict(skip_first=True)], ids=str)
def test_label_free_flop_count_matches_what_the_trainer_does(kw):
    data = synthetic_bundle(300, (1, 6, 6), num_classes=4)
    rule = FFRule(width=8, layers=3, epochs=2, batch_size=64, label="none", **kw)
    negatives = ImageMixNegatives()
    expected = rule.training_flops(data, SumSquaresGoodness(), negatives)
    with FlopCounterMode(display=False) as counter:
        rule.fit(data, SumSquaresGoodness(), negatives, TrainContext(torch.device("cpu"), 0, list(range(4)), 4))
    assert counter.get_total_flops() == expected
    # the readout: features forward (300 x (36x8 + 8x8 + 8x8) x 2) + 100 epochs x 2 x mm(300, F, 4)
    features = 16 if kw.get("skip_first") else 24
    readout = 2 * 300 * (36 * 8 + 2 * 8 * 8) + READOUT_EPOCHS * 2 * 2 * 300 * features * 4
    assert (
        expected
        - rule.__class__(width=8, layers=3, epochs=2, batch_size=64, **kw).training_flops(
            data, SumSquaresGoodness(), HybridMixNegatives()
        )
        == readout
    )


# -- model-aware negatives: ns-fgsm -----------------------------------------------------------------


def test_fgsm_step_by_hand():
    """A goodness linear in the image, G(x, c) = A[c] . x: its gradient is the row A[c] of the
    wrong label, so x_neg = x + 0.1 sign(A[c]) (0 where A[c] is 0)."""
    a = torch.tensor([[1.0, -2.0, 0.0], [0.0, 3.0, -1.0], [-1.0, 0.0, 2.0]])
    x, y = (
        torch.tensor([[0.5, 0.5, 0.5], [1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [-1.0, 0.0, 1.0]]),
        torch.tensor([0, 1, 2, 0]),
    )

    def model(xb, labels):
        return (a[labels] * xb).sum(1)

    g = torch.Generator().manual_seed(0)
    x_neg, y_neg = FGSMNegatives().generate(x, y, allowed=ALL, generator=g, model=model)
    expected_labels = draw_wrong_labels(y, ALL, torch.Generator().manual_seed(0))  # drawn first
    assert torch.equal(y_neg, expected_labels) and not (y_neg == y).any()
    sign = {0: [0.1, -0.1, 0.0], 1: [0.0, 0.1, -0.1], 2: [-0.1, 0.0, 0.1]}
    torch.testing.assert_close(x_neg, x + torch.tensor([sign[int(c)] for c in y_neg]))
    assert bool((model(x_neg, y_neg) > model(x, y_neg)).all())  # the step raises the goodness
    x_big, _ = FGSMNegatives(eps=0.5).generate(
        x, y, allowed=ALL, generator=torch.Generator().manual_seed(0), model=model
    )
    torch.testing.assert_close(x_big - x, 5 * (x_neg - x))
    with pytest.raises(ValueError, match="ns-fgsm needs the model"):
        FGSMNegatives().generate(x, y, allowed=ALL, generator=g)


def test_model_goodness_is_the_summed_label_goodness():
    """ModelGoodness(net, upto)(x, c) equals the network's own per-label goodness of layers
    1..upto summed, and is differentiable in x (zero gradient on the label pixels)."""
    torch.manual_seed(0)
    emb = LabelEmbedding((1, 4, 4), num_classes=3, value=2.0)
    net = FFNet([16, 7, 5], emb, SumSquaresGoodness(), num_classes=3)
    x = torch.randn(4, 1, 4, 4)
    per_label = net.label_goodness(x)  # [N, C, L]
    for upto in (1, 2):
        for c in range(3):
            g = ModelGoodness(net, upto)(x, torch.full((4,), c))
            torch.testing.assert_close(g, per_label[:, c, :upto].sum(-1))
    xr = x.reshape(4, -1).clone().requires_grad_(True)
    ModelGoodness(net, 2)(xr, torch.tensor([0, 1, 2, 0])).sum().backward()
    assert not xr.grad[:, :3].any() and xr.grad[:, 3:].abs().sum() > 0


def test_fgsm_on_a_network_raises_the_wrong_label_goodness(tiny_data):
    torch.manual_seed(0)
    x, y = tiny_data.train.flat()[:200], tiny_data.train.y[:200]
    emb = LabelEmbedding(tiny_data.shape, 10, float(tiny_data.train.x.max()))
    net = FFNet([784, 64, 64], emb, SumSquaresGoodness(), num_classes=10)
    model = ModelGoodness(net, 2)
    x_neg, y_neg = FGSMNegatives().generate(x, y, allowed=torch.arange(10), generator=torch.Generator(), model=model)
    step = (x_neg - x).abs()
    assert bool(((step - 0.1).abs() < 1e-6).logical_or(step == 0).all())
    assert not step[:, :10].any()  # label pixels: zero gradient, unchanged
    with torch.no_grad():
        raised = model(x_neg, y_neg) > model(x, y_neg)
    assert float(raised.float().mean()) > 0.95


class RecordingFGSM(FGSMNegatives):
    """ns-fgsm that records which layers (``upto``) each draw's model reads."""

    name = "recording-fgsm"

    def generate(self, x, y, *, allowed, generator, scores=None, model=None):
        self.calls.append(model.upto)
        return super().generate(x, y, allowed=allowed, generator=generator, model=model)


@pytest.mark.parametrize(
    "kw, resample, expected",
    [
        (dict(), True, [1, 1, 2, 2]),  # greedy: every epoch of layer l, from layers 1..l
        (dict(), False, [1]),  # once, before training
        (dict(schedule="simultaneous"), True, [2, 2]),  # every epoch, all layers
    ],
    ids=["greedy-resampled", "greedy-once", "simultaneous"],
)
def test_ff_draws_model_aware_negatives_when_needed(tiny_data, kw, resample, expected):
    negatives = RecordingFGSM(resample=resample)
    negatives.calls = []
    FFRule(epochs=2, width=16, layers=2, batch_size=250, **kw).fit(tiny_data, L2Goodness(), negatives, cpu_ctx(0))
    assert negatives.calls == expected


def test_fgsm_accepted_by_ff_only_and_not_counted():
    fgsm = FGSMNegatives()
    assert fgsm.resamples and fgsm.needs_model and not fgsm.label_free
    assert FFRule().accepts(L2Goodness(), fgsm) == (True, "")
    assert FFRule(label="none").accepts(L2Goodness(), fgsm) == (True, "")  # labels ignored: the study's label-free step
    for rule in (BPFFRule(), ConvFFRule()):
        ok, reason = rule.accepts(L2Goodness(), fgsm)
        assert not ok and "negatives 'ns-fgsm' need the model (needs_model)" in reason
    data = synthetic_bundle(20, (1, 4, 4))
    assert FFRule().training_flops(data, L2Goodness(), fgsm) is None
    assert not FFRule().has_baseline(L2Goodness(), fgsm)


def test_stacked_fgsm_seeds_equal_seeds_trained_alone(tiny_data):
    rule = FFRule(epochs=2, width=32, layers=2, batch_size=250)
    stacked = rule.fit_seeds(tiny_data, L2Goodness(), FGSMNegatives(), [cpu_ctx(0), cpu_ctx(1)])
    alone = [rule.fit(tiny_data, L2Goodness(), FGSMNegatives(), cpu_ctx(s)) for s in (0, 1)]
    for s, a in zip(stacked, alone):
        for ws, wa in zip(s.weights(), a.weights()):
            torch.testing.assert_close(ws, wa, rtol=0, atol=1e-4)


def test_ff_learns_with_fgsm_negatives(tiny_data):
    """1 000 images, 2 x 128 units, 10 epochs per layer; measured 0.53 (wrong-label[resample=true]
    in the same setting: 0.45)."""
    rule = FFRule(epochs=10, width=128, layers=2, batch_size=100)
    model = rule.fit(tiny_data, L2Goodness(), FGSMNegatives(), cpu_ctx(0))
    acc = accuracy(model, tiny_data)
    assert acc > 0.4, f"ns-fgsm: test accuracy {acc:.3f}"
