"""Transfer by linear probe (plugins/metrics/transfer.py): renormalisation by hand, the shape and
name errors, a tiny real model probed on another slice of the embedded data, conformance."""

from __future__ import annotations

import pytest
import torch

from ffbench.contracts import DatasetBundle, DataSplit, Evaluation, TrainContext
from ffbench.errors import ParameterError
from ffbench.registry import get_registry
from ffbench.testing import check_component, tiny_bundle, tiny_params
from ffbench_plugins.metrics import transfer as transfer_module
from ffbench_plugins.metrics.transfer import Transfer, as_model_input, renormalised

#: B: another stratified draw of the embedded Fashion-MNIST than the model's training data
TARGET = "fashion-mnist-mini[subset_seed=1,test_size=300,train_size=600]"


def bundle(shape, mean=(0.5,), std=(0.25,), x=None, name="b"):
    x = torch.zeros(2, *shape) if x is None else x
    split = DataSplit(x, torch.tensor([0, 1]))
    return DatasetBundle(name, split, split, ["p", "q"], shape, mean, std, "0" * 16)


def test_renormalised_by_hand():
    # pixel 2.0 under mean 0.5 / std 0.25 is raw 1.0; under MNIST's statistics (1 - 0.1307) / 0.3081
    b = bundle((1, 1, 2), x=torch.tensor([[[[2.0, -2.0]]], [[[0.0, 0.0]]]]))
    a = bundle((1, 1, 2), mean=(0.1307,), std=(0.3081,), name="a")
    out = renormalised(b.train, b, a).x
    expected = [(1.0 - 0.1307) / 0.3081, (0.0 - 0.1307) / 0.3081, (0.5 - 0.1307) / 0.3081]
    assert out[0, 0, 0].tolist() == pytest.approx(expected[:2], abs=1e-6)
    assert out[1, 0, 0, 0].item() == pytest.approx(expected[2], abs=1e-6)
    assert as_model_input(b, a, "own") is b
    assert as_model_input(b, a, "model").mean == (0.1307,)


def test_wrong_input_shape_is_a_clear_error(monkeypatch):
    ev = Evaluation(None, tiny_bundle(), torch.device("cpu"))  # the model is never reached
    monkeypatch.setattr(transfer_module, "load_target", lambda spec: bundle((1, 16, 16), name="bars"))
    with pytest.raises(
        ValueError, match=r"'fashion-mnist-mini' images of shape .*\(1, 28, 28\).*'bars' has \(1, 16, 16\)"
    ):
        Transfer.from_spec({}).compute(ev)


def test_unknown_dataset_is_refused_when_built():
    with pytest.raises(ParameterError, match="transfer.dataset.*Did you mean 'mnist'.*fashion-mnist-mini"):
        Transfer.from_spec("transfer[dataset=mnsit]")
    with pytest.raises(ParameterError, match="transfer.dataset.*no parameter 'size'"):
        Transfer.from_spec({"dataset": "fashion-mnist-mini[size=3]"})


def train(rule_spec: str, data):
    reg = get_registry()
    rule = reg.build("rule", rule_spec)
    good = reg.build("goodness", "l2") if rule.uses_goodness else None
    neg = reg.build("negatives", "wrong-label") if rule.uses_negatives else None
    return rule.fit(data, good, neg, TrainContext(torch.device("cpu"), 0, list(range(10)), 10))


@pytest.mark.parametrize(
    "rule", ["ff[batch_size=100,epochs=2,layers=2,width=32]", "bp[batch_size=100,epochs=3,layers=2,width=32]"]
)
def test_tiny_model_transfers_above_chance(rule):
    data = tiny_bundle()  # the model's dataset A: 300 / 100 embedded images
    ev = Evaluation(train(rule, data), data, torch.device("cpu"))
    result = Transfer.from_spec({"dataset": TARGET, "steps": 50}).compute(ev)
    rows = {(r.stat, r.layer): r.value for r in result.rows}
    assert set(rows) == {
        ("transfer_accuracy", 1),
        ("transfer_accuracy", 2),
        ("transfer_train_accuracy", 1),
        ("transfer_train_accuracy", 2),
        ("pixel_accuracy", None),
    }
    assert all(rows[("transfer_accuracy", layer)] > 0.4 for layer in (1, 2))  # chance is 0.1
    assert rows[("pixel_accuracy", None)] > 0.5
    settings = result.artifacts["settings"]
    assert settings["test_samples"] == 300 and settings["train_samples"] == 600
    assert settings["label_embedded"] == rule.startswith("ff")


def test_conformance():
    results = check_component(Transfer, params=tiny_params(Transfer))
    assert {r.status for r in results} == {"passed"}
