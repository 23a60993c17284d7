"""Mono-Forward (Gong et al. 2025, arXiv:2501.09238): every hidden layer learns from its own
local cross-entropy, through its own projection to class logits; no gradient crosses a layer.

Layer i: h_i = ReLU(W_i h_{i-1} + b_i), logits_i = h_i M_i with M_i [width, classes] (no bias);
loss_i = CE(logits_i, y) trains W_i, b_i and M_i only: layer i+1 reads h_i detached. All layers
are updated on every batch (simultaneously). One Adam holds every parameter and is stepped on
sum_i loss_i: since the layers share no parameter and no gradient, and Adam is elementwise, this
is exactly one Adam per layer with the same hyper-parameters.

Inference: ``predict=last`` (default, the paper's) uses the last layer's logits; ``sum`` adds
every layer's logits.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

import ffbench
from ffbench.component import Param
from ffbench.contracts import TrainContext
from ffbench_plugins.rules import flops
from ffbench_plugins.rules.mlp import MLPRule, ReLUStack, hidden_dims, mlp_params, seeded
from ffbench_plugins.rules.training import minibatch_epochs


class MonoForwardNet(ReLUStack):
    """The hidden stack plus a projection M_l [width, classes] per layer (no bias)."""

    def __init__(self, dims: list[int], num_classes: int, predict: str = "last"):
        super().__init__(dims)
        self.projections = nn.ParameterList(nn.Parameter(torch.empty(d, num_classes)) for d in dims[1:])
        self.predict_mode = predict

    def layer_logits(self, hs: list[torch.Tensor]) -> list[torch.Tensor]:
        return [h @ m for h, m in zip(hs, self.projections)]

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.layer_logits(self.hidden(x))
        scores = logits[-1] if self.predict_mode == "last" else torch.stack(logits).sum(0)
        return scores.argmax(dim=1)


class MonoForwardRule(MLPRule):
    name = "mono-forward"
    version = "1"
    description = (
        "Mono-Forward (Gong et al. 2025): per-layer projection to class logits, local "
        "cross-entropy, no gradient between layers; label-free input and representations"
    )
    params = mlp_params(
        lr=1e-4,
        batch_size=2048,
        epochs=80,
        epochs_help="epochs (all layers trained on every batch)",
        extra=(
            Param(
                "predict",
                str,
                "last",
                "inference: the last layer's logits, or the sum of every layer's",
                choices=("last", "sum"),
            ),
        ),
    )
    #: quick: fewer epochs and smaller batches (enough steps on 10k images); definitions unchanged
    presets = {"quick": {"epochs": 10, "batch_size": 256, "lr": 1e-3}}

    count_flops = staticmethod(flops.mono_forward_flops)

    def build(self, data, ctx: TrainContext) -> MonoForwardNet:
        net = seeded(MonoForwardNet(hidden_dims(self.values, data), data.num_classes, self.values["predict"]), ctx)
        with torch.no_grad():  # M_i like a bias-free Linear(width, classes): U(-1/sqrt(width), 1/sqrt(width))
            for m in net.projections:
                bound = m.shape[0] ** -0.5
                m.uniform_(-bound, bound, generator=ctx.generator)
        return net

    def fit(self, data, goodness, negatives, ctx: TrainContext):
        net = self.build(data, ctx)
        x, y = data.train.flat(), data.train.y

        def step(idx):
            logits = net.layer_logits(net.hidden(x[idx], detach=True))
            layer_losses = torch.stack([F.cross_entropy(z.float(), y[idx]) for z in logits])
            return layer_losses.sum(), layer_losses

        losses = minibatch_epochs(self.values, net.parameters(), len(y), ctx, step, "all layers")
        first, last = losses[0].tolist(), losses[-1].tolist()
        ctx.log("mono-forward: layer losses " + ", ".join(f"{a:.4f} -> {b:.4f}" for a, b in zip(first, last)))
        return net.eval()


@ffbench.hookimpl
def ffbench_register_rules(register):
    register(MonoForwardRule)
