"""The example rule greedy-layerwise: the conformance suite, and what a rule must honour (it
learns, its initial weights come from ctx.generator, ctx.autocast / ctx.compile / ctx.check_loss,
reads_label)."""

from __future__ import annotations

import pytest
import torch
from ffbench_plugin_example.bars import Bars
from ffbench_plugin_example.greedy import GreedyLayerwise, GreedyNet

from ffbench.contracts import DataSplit, TrainContext
from ffbench.errors import TrainingDivergedError
from ffbench.testing import conformance_suite, tiny_bundle, tiny_params

TestGreedyLayerwiseConformance = conformance_suite(GreedyLayerwise, params=tiny_params(GreedyLayerwise))

#: small enough for a test (300 training images: 6 batches of 50 per epoch), large enough to learn
SMALL = {"epochs": 5, "width": 64, "batch_size": 50, "lr": 1e-2}


def context(data, seed: int = 0, **options) -> TrainContext:
    return TrainContext(torch.device("cpu"), seed, list(range(data.num_classes)), data.num_classes, **options)


def accuracy(model, data) -> float:
    return float((model.predict(data.test.x) == data.test.y).float().mean())


def test_learns_fashion_mnist_far_above_chance():
    data = tiny_bundle()  # 300 / 100 embedded Fashion-MNIST images; chance is 0.1
    model = GreedyLayerwise(**SMALL).fit(data, None, None, context(data))
    assert accuracy(model, data) > 0.6  # 0.76 measured


def test_learns_the_bars_dataset():
    data = Bars(train_size=300, test_size=100).load()  # chance is 0.25
    assert accuracy(GreedyLayerwise(**SMALL).fit(data, None, None, context(data)), data) > 0.9  # 0.97 measured


def test_initial_weights_come_from_the_run_generator():
    data = tiny_bundle()
    one_epoch = {**SMALL, "epochs": 1}
    first = GreedyLayerwise(**one_epoch).fit(data, None, None, context(data, seed=3))
    ctx = context(data, seed=3)
    torch.manual_seed(12345)  # the global generator is not what the rule draws from
    again = GreedyLayerwise(**one_epoch).fit(data, None, None, ctx)
    other = GreedyLayerwise(**one_epoch).fit(data, None, None, context(data, seed=4))
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), again.state_dict().values()))
    assert not torch.equal(first.layers[0].weight, other.layers[0].weight)


def test_bf16_precision_goes_through_ctx_autocast():
    # on the CPU, ctx.autocast() with precision bf16 runs the forward passes in bfloat16: the
    # weights then differ from an fp32 training of the same seed, and the model still learns
    data = tiny_bundle()
    fp32 = GreedyLayerwise(**SMALL).fit(data, None, None, context(data))
    bf16 = GreedyLayerwise(**SMALL).fit(data, None, None, context(data, precision="bf16"))
    assert not torch.equal(fp32.layers[0].weight, bf16.layers[0].weight)
    assert bf16.layers[0].weight.dtype == torch.float32  # autocast computes in bf16, keeps fp32 weights
    assert accuracy(bf16, data) > 0.6


def test_compile_wraps_the_training_step_only_when_asked(monkeypatch):
    compiled = []
    monkeypatch.setattr(torch, "compile", lambda fn, **kw: compiled.append(fn) or fn)
    data = tiny_bundle()
    rule = GreedyLayerwise(**{**SMALL, "epochs": 1, "layers": 3})
    rule.fit(data, None, None, context(data))
    assert compiled == []
    rule.fit(data, None, None, context(data, compile=True))
    assert len(compiled) == 3  # one step function per layer


def test_a_diverging_loss_stops_training_at_once():
    data = tiny_bundle()
    x = data.train.x.clone()
    x[0, 0, 0, 0] = float("nan")  # one bad pixel makes the first batch's loss NaN
    broken = type(data)(
        data.name,
        DataSplit(x, data.train.y),
        data.test,
        data.classes,
        data.shape,
        data.mean,
        data.std,
        data.content_hash,
    )
    with pytest.raises(TrainingDivergedError, match="training diverged at layer 1, epoch 1"):
        GreedyLayerwise(**SMALL).fit(broken, None, None, context(data))


def test_representations_do_not_read_the_label():
    data = tiny_bundle()
    model = GreedyLayerwise(**{**SMALL, "epochs": 1}).fit(data, None, None, context(data))
    assert GreedyNet.reads_label is False
    x, y = data.test.x[:20], data.test.y[:20]
    for a, b in zip(model.representations(x, y), model.representations(x, (y + 1) % 10)):
        assert torch.equal(a, b)
    assert [h.shape[1] for h in model.representations(x, y)] == [64, 64]
