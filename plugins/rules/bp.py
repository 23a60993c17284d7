"""Plain back-propagation baseline (docs/science.md "BP"): the same hidden stack without input
normalisation or label embedding, plus Linear(width, classes), cross-entropy, one Adam.
Reads no goodness and no negatives. Weights and biases are drawn from the run's generator
(``build_mlp``), with nn.Linear's default distribution U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

import ffbench
from ffbench.contracts import TrainContext
from ffbench_plugins.rules import flops
from ffbench_plugins.rules.mlp import MLPRule, ReLUStack, hidden_dims, mlp_params, seeded
from ffbench_plugins.rules.training import minibatch_epochs


class BPNet(ReLUStack):
    """The hidden stack plus a Linear(width, classes) head (``bias``: of every layer and the head)."""

    def __init__(self, dims: list[int], num_classes: int, bias: bool = True):
        super().__init__(dims, bias)
        self.head = nn.Linear(dims[-1], num_classes, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.hidden(x)[-1])

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self(x).argmax(dim=1)


def build_mlp(values: dict, data, ctx: TrainContext) -> BPNet:
    """The BP rule's MLP (``layers`` hidden layers of ``width`` + Linear head), on ``ctx.device``,
    initialised from ``ctx.generator``: hidden layers in order, then the head."""
    net = BPNet(hidden_dims(values, data), data.num_classes)
    return seeded(net, ctx, net.head)


class BPRule(MLPRule):
    name = "bp"
    version = "2"  # 2: initial weights drawn from the run generator (was torch's global generator)
    description = "back-propagation MLP with a linear classifier head and cross-entropy (baseline)"
    params = mlp_params(lr=1e-4, batch_size=2048, epochs=80)
    #: quick: fewer epochs and smaller batches (enough steps on 10k images); definitions unchanged
    presets = {"quick": {"epochs": 10, "batch_size": 256}}
    #: --precision bf16 on a CPU: float32 and bfloat16 training measured equal within seed noise
    #: (docs/precision.md: 3 paired seeds of the quick preset; no stat shifted, accuracy equivalent)
    bf16_cpu_verified = True

    count_flops = staticmethod(flops.bp_flops)

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
