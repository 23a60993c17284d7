"""Plain back-propagation baseline (docs/science.md "BP"): the same hidden stack without input
normalisation or label embedding, plus Linear(width, classes), cross-entropy, one Adam.
Reads no goodness and no negatives. Weights and biases are drawn from the run's generator
(``build_mlp``), with nn.Linear's default distribution U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""

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


class BPNet(nn.Module, TrainedModel):
    def __init__(self, dims: list[int], num_classes: int):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(dims[i], dims[i + 1]) for i in range(len(dims) - 1))
        self.head = nn.Linear(dims[-1], num_classes)

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    def hidden(self, x: torch.Tensor) -> list[torch.Tensor]:
        hs, h = [], x.reshape(x.shape[0], -1)
        for layer in self.layers:
            h = F.relu(layer(h))
            hs.append(h)
        return hs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.hidden(x)[-1])

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self(x).argmax(dim=1)

    @torch.no_grad()
    def representations(self, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
        return self.hidden(x)

    def weights(self) -> list[torch.Tensor]:
        return [layer.weight.detach() for layer in self.layers]


def build_mlp(values: dict, data, ctx: TrainContext) -> BPNet:
    """The BP rule's MLP (``layers`` hidden layers of ``width`` + Linear head), on ``ctx.device``,
    initialised from ``ctx.generator``: hidden layers in order, then the head."""
    width = values["width"] or default_width(data)
    net = BPNet([data.input_dim] + [width] * values["layers"], data.num_classes).to(ctx.device)
    seeded_uniform_(list(net.layers) + [net.head], ctx.generator)
    return net


class BPRule(ChecksOptimizerParams, LearningRule):
    name = "bp"
    version = "2"  # 2: initial weights drawn from the run generator (was torch's global generator)
    description = "back-propagation MLP with a linear classifier head and cross-entropy (baseline)"
    uses_goodness = False
    uses_negatives = False
    params = (
        Param("layers", int, 3, "number of hidden layers", min=1),
        Param("width", int, None, "units per hidden layer; auto = 1000 for 28x28, 3072 for 32x32x3", min=1),
        Param("lr", float, 1e-4, "learning rate", min=0.0),
        Param("batch_size", int, 2048, "batch size", min=1),
        Param("epochs", int, 80, "epochs", min=1),
    ) + OPTIMIZER_PARAMS
    #: quick: fewer epochs and smaller batches (enough steps on 10k images); definitions unchanged
    presets = {"quick": {"epochs": 10, "batch_size": 256}}

    def training_flops(self, data, goodness, negatives):
        from ffbench_plugins.rules import flops

        v = self.values
        return flops.bp_flops(flops.layer_dims(v, data), len(data.train), v["epochs"], data.num_classes)

    def has_baseline(self, goodness, negatives):
        return True

    def fit_baseline(self, data, goodness, negatives, ctx):
        from ffbench_plugins.rules.baselines import baseline_bp

        return baseline_bp(self, data, goodness, negatives, ctx)

    def fit(self, data, goodness, negatives, ctx: TrainContext):
        net = build_mlp(self.values, data, ctx)
        x, y = data.train.flat(), data.train.y

        def step(idx):
            loss = F.cross_entropy(net(x[idx]), y[idx])
            return loss, loss

        losses = minibatch_epochs(self.values, net.parameters(), len(y), ctx, step, "end to end")
        ctx.log(f"bp: loss {losses[0].item():.4f} -> {losses[-1].item():.4f}")
        return net.eval()


@ffbench.hookimpl
def ffbench_register_rules(register):
    register(BPRule)
