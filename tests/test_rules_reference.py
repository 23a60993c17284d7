"""Hand-written reference checks of two zoo rules (issue 13): Mono-Forward and CaFo, 2 layers.

Each test starts from the rule's own seeded initialisation, then trains the plugin and an
independent reference written here from the papers' equations - explicit gradients (no
autograd) in float64 and a hand-written Adam - on the same tiny real data, full batch (one step
per epoch, so the plugin's shuffling only reorders a sum), and compares every weight. A gradient
that leaks across layers (Mono-Forward) or blocks (CaFo), a missing bias update, a wrong
cross-entropy or a different schedule makes the weights differ by about the learning rate; the
tolerance is ~1e-3 of it (float32 plugin vs float64 reference, after a few Adam steps).
"""

from __future__ import annotations

import torch

from ffbench.contracts import TrainContext
from ffbench.testing import tiny_bundle
from ffbench_plugins.rules.cafo import CaFoNet, CaFoRule
from ffbench_plugins.rules.mlp import seeded_uniform_
from ffbench_plugins.rules.mono_forward import MonoForwardRule

LR, BETA1, BETA2, EPS = 1e-2, 0.9, 0.999, 1e-8


class Adam:
    """Adam (Kingma & Ba) written out: m, v moments, bias correction, eps outside the root."""

    def __init__(self, params: dict[str, torch.Tensor]):
        self.p = {k: v.double().clone() for k, v in params.items()}
        self.m = {k: torch.zeros_like(v) for k, v in self.p.items()}
        self.v = {k: torch.zeros_like(v) for k, v in self.p.items()}
        self.t = 0

    def step(self, grads: dict[str, torch.Tensor]) -> None:
        self.t += 1
        for k, g in grads.items():
            self.m[k] = BETA1 * self.m[k] + (1 - BETA1) * g
            self.v[k] = BETA2 * self.v[k] + (1 - BETA2) * g * g
            m_hat = self.m[k] / (1 - BETA1**self.t)
            v_hat = self.v[k] / (1 - BETA2**self.t)
            self.p[k] -= LR * m_hat / (v_hat.sqrt() + EPS)


def ce_grad(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """d mean_i CE(z_i, y_i) / dz = (softmax(z) - onehot(y)) / N."""
    return (torch.softmax(z, dim=1) - torch.nn.functional.one_hot(y, z.shape[1]).double()) / len(y)


def ctx_for(seed: int) -> TrainContext:
    return TrainContext(device=torch.device("cpu"), seed=seed, train_classes=list(range(10)), num_classes=10)


def data_and_inputs():
    data = tiny_bundle()
    return data, data.train.flat().double(), data.train.y


def assert_weights_match(trained: torch.Tensor, reference: torch.Tensor, what: str) -> None:
    err = (trained.double() - reference).abs().max().item()
    assert err < 1e-3 * LR, f"{what}: max |plugin - reference| = {err:.2e} (learning rate {LR})"


def test_mono_forward_matches_hand_written_local_cross_entropy():
    """h1 = relu(W1 x + b1), h2 = relu(W2 h1 + b2); loss_i = CE(h_i M_i, y); W1, b1, M1 learn from
    loss_1 only, W2, b2, M2 from loss_2 only (h1 enters layer 2 as a constant)."""
    data, x, y = data_and_inputs()
    params = {"layers": 2, "width": 12, "lr": LR, "epochs": 3, "batch_size": len(y)}
    rule = MonoForwardRule.from_spec(params)
    init = rule.build(data, ctx_for(7))
    ref = Adam(
        {
            "W1": init.layers[0].weight,
            "b1": init.layers[0].bias,
            "M1": init.projections[0],
            "W2": init.layers[1].weight,
            "b2": init.layers[1].bias,
            "M2": init.projections[1],
        }
    )
    for _ in range(params["epochs"]):
        p, grads, inp = ref.p, {}, x
        for i in (1, 2):
            a = inp @ p[f"W{i}"].T + p[f"b{i}"]
            h = a.clamp_min(0)
            dz = ce_grad(h @ p[f"M{i}"], y)
            grads[f"M{i}"] = h.T @ dz
            da = (dz @ p[f"M{i}"].T) * (a > 0)
            grads[f"W{i}"], grads[f"b{i}"] = da.T @ inp, da.sum(0)
            inp = h  # the next layer reads this layer's output as data (detached)
        ref.step(grads)
    net = rule.fit(data, None, None, ctx_for(7))
    for i in (1, 2):
        assert_weights_match(net.layers[i - 1].weight, ref.p[f"W{i}"], f"W{i}")
        assert_weights_match(net.layers[i - 1].bias, ref.p[f"b{i}"], f"b{i}")
        assert_weights_match(net.projections[i - 1], ref.p[f"M{i}"], f"M{i}")
    # and the weights did move: the comparison is not between two untouched initialisations
    assert (net.layers[1].weight - init.layers[1].weight).abs().max() > 0.5 * LR


def cafo_init(data, seed: int, width: int) -> CaFoNet:
    """CaFo's initialisation, drawn exactly as the rule draws it (blocks, then predictors)."""
    net = CaFoNet([data.input_dim, width, width], data.num_classes)
    with torch.no_grad():
        seeded_uniform_(list(net.layers) + list(net.predictors), ctx_for(seed).generator)
    return net


def test_cafo_matches_hand_written_greedy_cascade():
    """Block i and its predictor (z_i = P_i h_i + c_i, CE) train for all epochs, then block i+1
    trains on block i's final, frozen output. Inference sums the blocks' softmax outputs."""
    data, x, y = data_and_inputs()
    params = {"layers": 2, "width": 12, "lr": LR, "epochs": 3, "batch_size": len(y)}
    init = cafo_init(data, 11, params["width"])
    inp, refs = x, []
    for i in range(2):
        block, pred = init.layers[i], init.predictors[i]
        ref = Adam({"W": block.weight, "b": block.bias, "P": pred.weight, "c": pred.bias})
        for _ in range(params["epochs"]):
            p = ref.p
            a = inp @ p["W"].T + p["b"]
            h = a.clamp_min(0)
            dz = ce_grad(h @ p["P"].T + p["c"], y)
            da = (dz @ p["P"]) * (a > 0)
            ref.step({"P": dz.T @ h, "c": dz.sum(0), "W": da.T @ inp, "b": da.sum(0)})
        refs.append(ref.p)
        inp = (inp @ ref.p["W"].T + ref.p["b"]).clamp_min(0)  # the next block's (fixed) input
    net = CaFoRule.from_spec(params).fit(data, None, None, ctx_for(11))
    for i, p in enumerate(refs):
        assert_weights_match(net.layers[i].weight, p["W"], f"block {i + 1} W")
        assert_weights_match(net.layers[i].bias, p["b"], f"block {i + 1} b")
        assert_weights_match(net.predictors[i].weight, p["P"], f"predictor {i + 1} P")
        assert_weights_match(net.predictors[i].bias, p["c"], f"predictor {i + 1} c")
    # inference: argmax of the summed softmax of both predictors, from the reference weights
    xt = data.test.flat().double()
    h1 = (xt @ refs[0]["W"].T + refs[0]["b"]).clamp_min(0)
    h2 = (h1 @ refs[1]["W"].T + refs[1]["b"]).clamp_min(0)
    probs = sum(torch.softmax(h @ p["P"].T + p["c"], dim=1) for h, p in zip((h1, h2), refs))
    agree = (net.predict(data.test.x) == probs.argmax(1)).float().mean().item()
    assert agree > 0.99, f"plugin and reference predictions agree on {agree:.1%} of the test images"


def test_cafo_frozen_trains_only_the_predictors():
    data, x, y = data_and_inputs()
    params = {"layers": 2, "width": 12, "lr": LR, "epochs": 2, "batch_size": len(y), "frozen": True}
    init = cafo_init(data, 3, params["width"])
    net = CaFoRule.from_spec(params).fit(data, None, None, ctx_for(3))
    for i in range(2):
        assert torch.equal(net.layers[i].weight, init.layers[i].weight)
        assert not torch.equal(net.predictors[i].weight, init.predictors[i].weight)
