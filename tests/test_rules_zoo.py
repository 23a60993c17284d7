"""The label-free rules beyond the papers (docs/rules.md): each learns on a small real subset
(1 000 Fashion-MNIST training images) well above chance, and each does the one thing that
defines it, checked by hand on tiny tensors."""

import pytest
import torch
import torch.nn.functional as F
from conftest import accuracy

from ffbench.contracts import TrainContext
from ffbench_plugins.rules.bp import build_mlp
from ffbench_plugins.rules.cafo import CaFoNet, CaFoRule
from ffbench_plugins.rules.dfa import DFARule, build_dfa_net, dfa_surrogate
from ffbench_plugins.rules.mlp import seeded_uniform_
from ffbench_plugins.rules.mono_forward import MonoForwardRule
from ffbench_plugins.rules.pepita import PepitaRule, build_pepita_net, pepita_updates
from ffbench_plugins.rules.random_init import RandomRule

SMALL = dict(width=256, layers=2, batch_size=100)


def make_ctx(seed=0):
    return TrainContext(torch.device("cpu"), seed, list(range(10)), 10)


@pytest.mark.parametrize(
    "rule, floor",
    [
        (RandomRule(epochs=10, **{**SMALL, "lr": 1e-2}), 0.6),
        (MonoForwardRule(epochs=5, **{**SMALL, "lr": 1e-3}), 0.6),
        (MonoForwardRule(epochs=5, predict="sum", **{**SMALL, "lr": 1e-3}), 0.6),
        (DFARule(epochs=5, **{**SMALL, "lr": 1e-3}), 0.6),
        (CaFoRule(epochs=3, **{**SMALL, "lr": 1e-3}), 0.6),
        (CaFoRule(epochs=5, frozen=True, **{**SMALL, "lr": 1e-2}), 0.6),
        (PepitaRule(epochs=5, width=256, layers=2), 0.5),
    ],
    ids=["random", "mono-forward", "mono-forward-sum", "dfa", "cafo", "cafo-frozen", "pepita"],
)
def test_rule_learns(tiny_data, rule, floor):
    model = rule.fit(tiny_data, None, None, make_ctx())
    acc = accuracy(model, tiny_data)
    assert acc > floor, f"{rule.short_identity}: test accuracy {acc:.3f} <= {floor}"
    x, y = tiny_data.test.x[:7], tiny_data.test.y[:7]
    reps = model.representations(x, y)
    assert [r.shape for r in reps] == [(7, 256), (7, 256)]
    assert all((r >= 0).all() for r in reps)  # post-ReLU
    # label-free: the representations do not depend on the label passed in
    assert all(torch.equal(a, b) for a, b in zip(reps, model.representations(x, (y + 1) % 10)))
    assert [w.shape for w in model.weights()] == [(256, 784), (256, 256)]


# -- random: only the readout learns --------------------------------------------------------


def test_random_hidden_weights_are_the_seeded_initialisation(tiny_data):
    rule = RandomRule(epochs=2, **SMALL)
    model = rule.fit(tiny_data, None, None, make_ctx(3))
    fresh = build_mlp(rule.values, tiny_data, make_ctx(3))
    for trained, init in zip(model.layers, fresh.layers):
        assert torch.equal(trained.weight, init.weight) and torch.equal(trained.bias, init.bias)
    assert not torch.equal(model.head.weight, fresh.head.weight)  # the readout did train
    other = build_mlp(rule.values, tiny_data, make_ctx(4))
    assert not torch.equal(fresh.layers[0].weight, other.layers[0].weight)


# -- mono-forward: no gradient between layers ------------------------------------------------


def test_mono_forward_layer_loss_reaches_only_its_own_layer(tiny_data):
    rule = MonoForwardRule(**SMALL)
    net = rule.build(tiny_data, make_ctx())
    x, y = tiny_data.train.x[:32], tiny_data.train.y[:32]
    logits = net.layer_logits(net.hidden(x, detach=True))
    F.cross_entropy(logits[1], y).backward()  # layer 2's loss only
    assert net.layers[0].weight.grad is None and net.projections[0].grad is None
    assert net.layers[1].weight.grad.abs().sum() > 0 and net.projections[1].grad.abs().sum() > 0


def test_mono_forward_predict_modes(tiny_data):
    net = MonoForwardRule(**SMALL).build(tiny_data, make_ctx())
    x = tiny_data.test.x[:50]
    logits = net.layer_logits(net.hidden(x))
    assert torch.equal(net.predict(x), logits[-1].argmax(1))
    net.predict_mode = "sum"
    assert torch.equal(net.predict(x), (logits[0] + logits[1]).argmax(1))


# -- dfa: fixed random feedback, the update by hand -------------------------------------------


def test_dfa_feedback_is_fixed_and_seeded(tiny_data):
    rule = DFARule(epochs=2, **SMALL)
    model = rule.fit(tiny_data, None, None, make_ctx(5))
    fresh = build_dfa_net(rule.values, tiny_data, make_ctx(5))
    assert [tuple(b.shape) for b in model.feedback] == [(10, 256), (10, 256)]
    assert all(torch.equal(a, b) for a, b in zip(model.feedback, fresh.feedback))
    assert not torch.equal(model.layers[0].weight, fresh.layers[0].weight)  # the layers did train


def test_dfa_update_matches_the_formula(tiny_data):
    net = build_dfa_net(DFARule(width=16, layers=2).values, tiny_data, make_ctx())
    x, y = tiny_data.train.flat()[:8], tiny_data.train.y[:8]
    _, surrogate = dfa_surrogate(net, x, y)
    surrogate.backward()
    with torch.no_grad():
        W1, b1, W2, b2, Wo, bo = (
            net.layers[0].weight,
            net.layers[0].bias,
            net.layers[1].weight,
            net.layers[1].bias,
            net.head.weight,
            net.head.bias,
        )
        a1 = x @ W1.T + b1
        h1 = a1.clamp(min=0)
        a2 = h1 @ W2.T + b2
        h2 = a2.clamp(min=0)
        e = torch.softmax(h2 @ Wo.T + bo, 1) - F.one_hot(y, 10).float()
        d1 = (e @ net.feedback[0]) * (a1 > 0)
        d2 = (e @ net.feedback[1]) * (a2 > 0)
        expected = [d1.T @ x / 8, d1.mean(0), d2.T @ h1 / 8, d2.mean(0), e.T @ h2 / 8, e.mean(0)]
    for p, g in zip([W1, b1, W2, b2, Wo, bo], expected):
        torch.testing.assert_close(p.grad, g, rtol=1e-4, atol=1e-6)


# -- cafo: frozen blocks stay random ---------------------------------------------------------


def test_cafo_frozen_blocks_stay_at_initialisation(tiny_data):
    frozen = CaFoRule(epochs=1, frozen=True, **SMALL).fit(tiny_data, None, None, make_ctx(2))
    trained = CaFoRule(epochs=1, **SMALL).fit(tiny_data, None, None, make_ctx(2))
    ref = CaFoNet([784, 256, 256], 10)
    seeded_uniform_(list(ref.layers) + list(ref.predictors), make_ctx(2).generator)
    for a, b in zip(frozen.layers, ref.layers):
        assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)
    assert not torch.equal(frozen.predictors[0].weight, ref.predictors[0].weight)  # predictors learn
    assert not torch.equal(trained.layers[0].weight, ref.layers[0].weight)  # frozen=false trains blocks


# -- pepita: the two-pass update by hand ------------------------------------------------------


def test_pepita_update_matches_the_formula(tiny_data):
    values = PepitaRule(width=16, layers=2).values
    net = build_pepita_net(values, tiny_data, make_ctx())
    bound = 0.05 * (6 / 784) ** 0.5
    assert net.F.shape == (784, 10) and net.F.abs().max() <= bound
    x, y = tiny_data.train.flat()[:8], tiny_data.train.y[:8]
    grads, _ = pepita_updates(net, x, y)
    W1, W2, Wo = net.layers[0].weight, net.layers[1].weight, net.head.weight
    with torch.no_grad():
        h1 = (x @ W1.T).clamp(min=0)
        h2 = (h1 @ W2.T).clamp(min=0)
        e = torch.softmax(h2 @ Wo.T, 1) - F.one_hot(y, 10).float()
        xm = x + e @ net.F.T
        h1m = (xm @ W1.T).clamp(min=0)
        h2m = (h1m @ W2.T).clamp(min=0)
        expected = [(h1 - h1m).T @ xm / 8, (h2 - h2m).T @ h1m / 8, e.T @ h2m / 8]
    for g, ex in zip(grads, expected):
        torch.testing.assert_close(g, ex, rtol=1e-4, atol=1e-7)
    assert grads[0].abs().sum() > 0  # the perturbation does move the hidden layers
