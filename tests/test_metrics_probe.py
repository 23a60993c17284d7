"""linear-probe and ensemble-readout on hand-made activity (a unit that is the class -> probe accuracy
1; pure noise -> chance; ensemble units carry the class, the others are noise -> positive gap), and
the neutral label an FF network is probed with."""

from __future__ import annotations

import math
import re

import pytest
import torch
from test_metrics_ensembles import FixedModel, rows_of

from ffbench.contracts import DatasetBundle, DataSplit, Evaluation
from ffbench.errors import ParameterError
from ffbench_plugins.goodness.norms import L2Goodness
from ffbench_plugins.metrics.ensemble_readout import EnsembleReadout
from ffbench_plugins.metrics.ensembles import LOOEnsembles
from ffbench_plugins.metrics.linear_probe import (
    LinearProbe,
    fit_probe,
    neutral_representations,
    train_subset,
)
from ffbench_plugins.rules.ff_pieces import LabelEmbedding
from ffbench_plugins.rules.ffnet import FFNet

CLASSES = ["a", "b", "c"]


def split_eval(train_y, test_y, train_reps, test_reps, classes=CLASSES, test_preds=None) -> Evaluation:
    """An Evaluation with distinct train and test splits: the 'image' of a sample is its row index in
    train rows followed by test rows; representations and predictions are looked up by it."""
    n_tr, _n_te = len(train_y), len(test_y)
    reps = [
        torch.cat([torch.as_tensor(a, dtype=torch.float32), torch.as_tensor(b, dtype=torch.float32)]).tolist()
        for a, b in zip(train_reps, test_reps)
    ]
    preds = list(train_y) + list(test_y if test_preds is None else test_preds)

    def split(start, y):
        return DataSplit(
            torch.arange(start, start + len(y), dtype=torch.float32).reshape(-1, 1, 1, 1), torch.as_tensor(list(y))
        )

    bundle = DatasetBundle("hand", split(0, train_y), split(n_tr, test_y), classes, (1, 1, 1), (0.0,), (1.0,), "0" * 16)
    return Evaluation(FixedModel(preds, reps), bundle, torch.device("cpu"))


def labels(n: int, seed: int) -> torch.Tensor:
    return torch.arange(n) % 3 if seed < 0 else torch.randint(0, 3, (n,), generator=torch.Generator().manual_seed(seed))


def one_hot_and_noise(y: torch.Tensor, seed: int, noise_units: int = 5) -> torch.Tensor:
    """Units 0-2: the one-hot class; then noise units uniform in [0, 1)."""
    noise = torch.rand(len(y), noise_units, generator=torch.Generator().manual_seed(seed))
    return torch.cat([torch.nn.functional.one_hot(y, 3).float(), noise], dim=1)


def noise(n: int, d: int, seed: int) -> torch.Tensor:
    return torch.rand(n, d, generator=torch.Generator().manual_seed(seed))


# -- the probe -----------------------------------------------------------------------------


def test_probe_reads_a_class_unit_perfectly_and_noise_at_chance():
    ytr, yte = labels(300, 1), labels(300, 2)
    ev = split_eval(
        ytr, yte, [one_hot_and_noise(ytr, 3), noise(300, 20, 4)], [one_hot_and_noise(yte, 5), noise(300, 20, 6)]
    )
    result = LinearProbe().compute(ev)
    r = rows_of(result)
    assert r[("accuracy", 1, None, None)] == 1.0
    assert all(r[("accuracy", 1, c, None)] == 1.0 for c in CLASSES)
    assert r[("train_accuracy", 1, None, None)] == 1.0
    # noise: chance is 1/3 (300 test samples: std about 0.027)
    assert abs(r[("accuracy", 2, None, None)] - 1 / 3) < 0.1
    assert r[("train_accuracy", 2, None, None)] > r[("accuracy", 2, None, None)]  # it fits the noise
    assert ("pixel_accuracy", None, None, None) in r
    s = result.artifacts["settings"]
    assert s["train_samples"] == 300 and s["label_embedded"] is False and s["steps"] == 100
    assert LinearProbe.higher_is_better is True and LinearProbe.headline_stats() == ("accuracy",)


def test_probe_is_deterministic_and_the_training_subset_is_seeded():
    ytr, yte = labels(200, 1), labels(100, 2)
    ev = split_eval(ytr, yte, [noise(200, 8, 3)], [noise(100, 8, 4)])
    a = rows_of(LinearProbe(train_samples=50).compute(ev))
    b = rows_of(LinearProbe(train_samples=50).compute(ev))
    assert a == b
    assert LinearProbe(train_samples=50).compute(ev).artifacts["settings"]["train_samples"] == 50
    assert torch.equal(train_subset(200, 50, 0), train_subset(200, 50, 0))
    assert not torch.equal(train_subset(200, 50, 0), train_subset(200, 50, 1))
    assert train_subset(10, 50, 0).tolist() == list(range(10))
    idx = train_subset(200, 50, 0)
    assert len(idx) == 50 and torch.equal(idx, idx.sort().values) and len(set(idx.tolist())) == 50


def test_fit_probe_ignores_constant_units_and_decays_weights():
    y = torch.tensor([0, 1, 2] * 20)
    h = torch.cat([torch.nn.functional.one_hot(y, 3).float(), torch.full((60, 1), 7.0)], dim=1)
    probe = fit_probe(h, y, 3, steps=50, weight_decay=1e-3)
    assert (probe.predict(h) == y).all()
    assert probe.std[3] == 1.0 and probe.weight[:, 3].abs().max() == 0  # a constant unit carries nothing
    loose = fit_probe(h, y, 3, steps=50, weight_decay=0.0)
    assert probe.weight.norm() < loose.weight.norm()


# -- the neutral label ---------------------------------------------------------------------


def label_reader(shape=(1, 2, 8), classes=3) -> FFNet:
    """An FF net whose single layer copies the label pixels and ignores the image: with the true
    label embedded its activity IS the label."""
    d_in = shape[0] * shape[1] * shape[2]
    net = FFNet([d_in, classes], LabelEmbedding(shape, classes, value=2.0), L2Goodness(), classes)
    with torch.no_grad():
        net.layers[0].weight.zero_()
        net.layers[0].bias.zero_()
        for j in range(classes):
            net.layers[0].weight[j, j] = 1.0
    return net


def test_the_neutral_label_sets_the_label_pixels():
    net = label_reader(shape=(2, 2, 8))
    x = torch.rand(4, 32) + 1.0
    out = net.embedding.neutral(x, "uniform")
    for off in (0, 16):  # every channel
        assert torch.allclose(out[:, off : off + 3], torch.full((4, 3), 2.0 / 3))
    keep = torch.ones(32, dtype=torch.bool)
    keep[0:3] = keep[16:19] = False
    assert torch.equal(out[:, keep], x[:, keep])
    assert (net.embedding.neutral(x, "zero")[:, [0, 1, 2, 16, 17, 18]] == 0).all()
    with pytest.raises(ValueError, match="uniform, zero"):
        net.embedding.neutral(x, "half")


class OwnNeutralLabel(FixedModel):
    """A plugin's model that reads y (the label as one more unit) and shows a neutral label its own
    way (the contract method), without any FF embedding."""

    reads_label = True

    def representations(self, x, y):
        return [torch.cat([r, y[:, None].float()], dim=1) for r in super().representations(x, y)]

    def neutral_representations(self, x, neutral="uniform"):
        value = 1.0 if neutral == "uniform" else 0.0  # the mean of its labels 0, 1, 2
        return [torch.cat([r, torch.full((len(r), 1), value)], dim=1) for r in super().representations(x, None)]


def test_a_model_with_its_own_neutral_label_is_probed_through_it():
    ytr, yte = labels(30, 1), labels(30, 2)
    ev = split_eval(ytr, yte, [noise(30, 4, 3)], [noise(30, 4, 4)])
    ev.model.__class__ = OwnNeutralLabel
    assert ev.model.has_neutral_representations and not FixedModel([0], [[[0.0]]]).has_neutral_representations
    x = ev.data.test.x
    h = neutral_representations(ev.model, x, ev.data.test.y, "uniform")[0]
    assert h.shape == (30, 5) and (h[:, 4] == 1.0).all()  # the label unit shows the neutral value, not y
    result = LinearProbe(steps=20).compute(ev)
    assert result.artifacts["settings"]["label_embedded"] is True
    assert rows_of(result)[("accuracy", 1, None, None)] < 0.7  # noise plus a constant: no answer to read


def test_ff_net_is_probed_with_a_neutral_label_not_the_answer():
    net = label_reader()
    gen = torch.Generator().manual_seed(0)
    xtr, xte = torch.randn(300, 1, 2, 8, generator=gen), torch.randn(300, 1, 2, 8, generator=gen)
    ytr, yte = labels(300, 1), labels(300, 2)
    bundle = DatasetBundle(
        "hand", DataSplit(xtr, ytr), DataSplit(xte, yte), CLASSES, (1, 2, 8), (0.0,), (1.0,), "0" * 16
    )
    ev = Evaluation(net, bundle, torch.device("cpu"))
    # with the true label embedded a probe reads the answer ...
    leak = fit_probe(net.representations(xtr, ytr)[0], ytr, 3)
    assert (leak.predict(net.representations(xte, yte)[0]) == yte).all()
    # ... with the neutral label the three units are the same for every label: nothing to read
    h = neutral_representations(net, xte, yte, "uniform")[0]
    assert torch.allclose(h[:, 0], h[:, 1]) and torch.allclose(h[:, 1], h[:, 2])
    assert torch.equal(h, neutral_representations(net, xte, (yte + 1) % 3, "uniform")[0])
    result = LinearProbe().compute(ev)
    r = rows_of(result)
    assert abs(r[("accuracy", 1, None, None)] - 1 / 3) < 0.1
    assert result.artifacts["settings"]["label_embedded"] is True
    assert (neutral_representations(net, xte, yte, "zero")[0] == 0).all()  # no label pixels lit at all


class LabelLeaking(FixedModel):
    """Representations that read y although the model has no FF label embedding."""

    def representations(self, x, y):
        return [r + y[:, None].float() for r in super().representations(x, y)]


def test_a_model_that_reads_y_without_an_embedding_is_refused():
    ytr, yte = labels(30, 1), labels(30, 2)
    ev = split_eval(ytr, yte, [noise(30, 4, 3)], [noise(30, 4, 4)])
    ev.model.__class__ = LabelLeaking
    with pytest.raises(ValueError, match="depend on the label"):
        LinearProbe().compute(ev)


# -- ensemble-readout ----------------------------------------------------------------------


def ensemble_layer(y: torch.Tensor, seed: int, noise_units: int = 9, dead: int = 0) -> torch.Tensor:
    """Units 0-2: 5 (+ a little noise) for their own class, else 0 (the LOO ensembles); then noise
    units uniform in [0, 1) (no ensemble: their class means are all about 0.5); then dead units."""
    gen = torch.Generator().manual_seed(seed)
    cls = torch.nn.functional.one_hot(y, 3).float() * (5 + 0.1 * torch.rand(len(y), 3, generator=gen))
    return torch.cat([cls, torch.rand(len(y), noise_units, generator=gen), torch.zeros(len(y), dead)], dim=1)


@pytest.fixture
def ensemble_eval():
    ytr, yte = labels(300, 1), labels(300, 2)
    only_ensemble = lambda y: torch.nn.functional.one_hot(y, 3).float() * 4.0  # noqa: E731
    return split_eval(
        ytr,
        yte,
        [ensemble_layer(ytr, 3), torch.cat([only_ensemble(ytr), torch.zeros(300, 4)], 1), noise(300, 6, 5)],
        [ensemble_layer(yte, 4), torch.cat([only_ensemble(yte), torch.zeros(300, 4)], 1), noise(300, 6, 6)],
    )


def test_ensemble_units_beat_random_units(ensemble_eval):
    result = EnsembleReadout().compute(ensemble_eval)
    r = rows_of(result)
    assert r[("units", 1, None, None)] == 3 and r[("fraction", 1, None, None)] == 0.25
    assert result.artifacts["units_L1"] == [0, 1, 2]
    # the same units loo-ensembles reports (same tau, same samples)
    loo = LOOEnsembles().compute(ensemble_eval).artifacts["units_L1"]
    assert sorted(set().union(*map(set, loo.values()))) == [0, 1, 2]
    assert r[("ensemble_acc", 1, None, None)] == 1.0
    assert r[("random_acc", 1, None, None)] < 0.9  # 3 of 12 live units: mostly noise
    assert r[("gap", 1, None, None)] == pytest.approx(
        r[("ensemble_acc", 1, None, None)] - r[("random_acc", 1, None, None)]
    )
    assert r[("gap", 1, None, None)] > 0.1 and r[("random_std", 1, None, None)] >= 0
    # layer 2: the ensemble units are the only live units: every draw is the ensemble, gap exactly 0
    assert r[("units", 2, None, None)] == 3 and r[("gap", 2, None, None)] == 0.0
    assert r[("random_std", 2, None, None)] == 0.0
    # layer 3: noise only, no ensemble units: no readout
    assert r[("units", 3, None, None)] == 0
    assert all(math.isnan(r[(s, 3, None, None)]) for s in ("ensemble_acc", "random_acc", "gap"))


def test_random_pool_of_all_units_includes_dead_ones(ensemble_eval):
    live = rows_of(EnsembleReadout().compute(ensemble_eval))
    every = rows_of(EnsembleReadout(pool="all").compute(ensemble_eval))
    # layer 2 with pool=all draws 3 of 7 units, 4 of them dead: the control gets worse, the gap opens
    assert every[("random_acc", 2, None, None)] < live[("random_acc", 2, None, None)] == 1.0
    assert every[("gap", 2, None, None)] > 0
    assert every[("ensemble_acc", 1, None, None)] == live[("ensemble_acc", 1, None, None)]


def test_ensemble_readout_deterministic_and_seeded(ensemble_eval):
    a = rows_of(EnsembleReadout(draws=3).compute(ensemble_eval))
    b = rows_of(EnsembleReadout(draws=3).compute(ensemble_eval))
    assert a.keys() == b.keys() and all(a[k] == b[k] or (math.isnan(a[k]) and math.isnan(b[k])) for k in a)
    other = rows_of(EnsembleReadout(draws=3, seed=1).compute(ensemble_eval))
    assert other[("random_acc", 1, None, None)] != a[("random_acc", 1, None, None)]  # other draws
    assert EnsembleReadout.higher_is_better is None
    assert EnsembleReadout.headline_stats() == ("ensemble_acc", "random_acc", "gap")


def test_concat_probes_layers_together_that_alone_miss_a_class():
    """Layer 2 holds only 'is a', layer 3 only 'is b': alone each confuses the other two classes
    (about 2/3 right), together they name every class (c = neither) -> concat_accuracy 1."""
    ytr, yte = labels(300, 1), labels(300, 2)

    def unit(y, c, seed):
        return torch.cat([(y == c).float()[:, None], noise(len(y), 2, seed)], dim=1)

    ev = split_eval(
        ytr,
        yte,
        [noise(300, 3, 3), unit(ytr, 0, 4), unit(ytr, 1, 5)],
        [noise(300, 3, 6), unit(yte, 0, 7), unit(yte, 1, 8)],
    )
    r = rows_of(LinearProbe(concat="2-3").compute(ev))
    assert r[("concat_accuracy", None, None, None)] == 1.0
    assert r[("concat_train_accuracy", None, None, None)] == 1.0
    assert all(r[("concat_accuracy", None, c, None)] == 1.0 for c in CLASSES)
    for layer in (2, 3):  # alone: the named class right, the other two a coin flip between them
        assert r[("accuracy", layer, None, None)] < 0.85
    assert rows_of(LinearProbe(concat="2+3").compute(ev))[("concat_accuracy", None, None, None)] == 1.0
    assert (
        rows_of(LinearProbe.from_spec("linear-probe[concat=2+3]").compute(ev))[("concat_accuracy", None, None, None)]
        == 1.0
    )
    assert ("concat_accuracy", None, None, None) not in rows_of(LinearProbe().compute(ev))  # off by default
    assert LinearProbe().identity == LinearProbe.from_spec("linear-probe").identity
    assert "concat" not in LinearProbe().identity and "concat=2-3" in LinearProbe(concat="2-3").identity
    for bad in ("2-", "4-2", "0-2", "x", "2+2", "3", "2,3"):  # refused when built, before any training
        with pytest.raises(ParameterError, match=re.escape(f"Bad value '{bad}' for parameter 'linear-probe.concat'")):
            LinearProbe(concat=bad)
    with pytest.raises(ParameterError, match="Bad value '2-5' .* the model has layers 1..3"):
        LinearProbe(concat="2-5").compute(ev)
