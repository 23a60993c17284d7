"""Mono-Forward (Gong et al. 2025, arXiv:2501.09238): every hidden layer learns from its own
local cross-entropy, through its own projection to class logits; no gradient crosses a layer.

Layer i: h_i = ReLU(W_i h_{i-1} + b_i), logits_i = h_i M_i with M_i [width, classes] (no bias);
loss_i = CE(logits_i, y) trains W_i, b_i and M_i only: layer i+1 reads h_i detached. All layers
are updated on every batch (simultaneously). One Adam holds every parameter and is stepped on
sum_i loss_i: since the layers share no parameter and no gradient, and Adam is elementwise, this
is exactly one Adam per layer with the same hyper-parameters. Label-free: the input carries no
label; representations are the activity for the image alone.

Inference: ``predict=last`` (default, the paper's) uses the last layer's logits; ``sum`` adds
every layer's logits.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

import ffbench
from ffbench.component import Param
from ffbench.contracts import LearningRule, TrainContext, TrainedModel
from ffbench_plugins.rules.ffnet import (
    OPTIMIZER_PARAMS,
    ChecksOptimizerParams,
    default_width,
    minibatch_epochs,
    seeded_uniform_,
)


class MonoForwardNet(nn.Module, TrainedModel):
    def __init__(self, dims: list[int], num_classes: int, predict: str = "last"):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(dims[i], dims[i + 1]) for i in range(len(dims) - 1))
        self.projections = nn.ParameterList(nn.Parameter(torch.empty(d, num_classes)) for d in dims[1:])
        self.predict_mode = predict

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    def hidden(self, x: torch.Tensor, detach: bool = False) -> list[torch.Tensor]:
        """Activity per layer; with ``detach`` each layer reads its predecessor detached (training)."""
        hs, h = [], x.reshape(x.shape[0], -1)
        for layer in self.layers:
            h = F.relu(layer(h.detach() if detach else h))
            hs.append(h)
        return hs

    def layer_logits(self, hs: list[torch.Tensor]) -> list[torch.Tensor]:
        return [h @ m for h, m in zip(hs, self.projections)]

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.layer_logits(self.hidden(x))
        scores = logits[-1] if self.predict_mode == "last" else torch.stack(logits).sum(0)
        return scores.argmax(dim=1)

    @torch.no_grad()
    def representations(self, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
        return self.hidden(x)

    def weights(self) -> list[torch.Tensor]:
        return [layer.weight.detach() for layer in self.layers]


class MonoForwardRule(ChecksOptimizerParams, LearningRule):
    name = "mono-forward"
    version = "1"
    description = (
        "Mono-Forward (Gong et al. 2025): per-layer projection to class logits, local "
        "cross-entropy, no gradient between layers; label-free input and representations"
    )
    uses_goodness = False
    uses_negatives = False
    params = (
        Param("layers", int, 3, "number of hidden layers", min=1),
        Param("width", int, None, "units per hidden layer; auto = 1000 for 28x28, 3072 for 32x32x3", min=1),
        Param("lr", float, 1e-4, "learning rate", min=0.0),
        Param("batch_size", int, 2048, "batch size", min=1),
        Param("epochs", int, 80, "epochs (all layers trained on every batch)", min=1),
        Param(
            "predict",
            str,
            "last",
            "inference: the last layer's logits, or the sum of every layer's",
            choices=("last", "sum"),
        ),
    ) + OPTIMIZER_PARAMS
    #: quick: fewer epochs and smaller batches (enough steps on 10k images); definitions unchanged
    presets = {"quick": {"epochs": 10, "batch_size": 256, "lr": 1e-3}}

    def training_flops(self, data, goodness, negatives):
        from ffbench_plugins.rules import flops

        v = self.values
        return flops.mono_forward_flops(flops.layer_dims(v, data), len(data.train), v["epochs"], data.num_classes)

    def build(self, data, ctx: TrainContext) -> MonoForwardNet:
        width = self.values["width"] or default_width(data)
        dims = [data.input_dim] + [width] * self.values["layers"]
        net = MonoForwardNet(dims, data.num_classes, self.values["predict"]).to(ctx.device)
        seeded_uniform_(net.layers, ctx.generator)
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
