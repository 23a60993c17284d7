"""The random-network control (docs/science.md, "More learning rules and the random control";
docs/rules.md): the bp rule's MLP (``build_mlp``, seeded from the run's generator) left at its
initialisation; only a linear readout Linear(width, classes) on the last hidden layer is trained,
with cross-entropy and Adam. Every representation metric read on a trained rule can be compared
with the same metric on this untrained stack of the same shape.

The frozen features of the training set are computed once (in chunks, without gradients), so the
readout's epochs cost a [N, width] x [width, classes] matmul each.
"""

from __future__ import annotations

import torch.nn.functional as F

import ffbench
from ffbench.contracts import TrainContext
from ffbench_plugins.rules import flops
from ffbench_plugins.rules.bp import build_mlp
from ffbench_plugins.rules.mlp import MLPRule, mlp_params
from ffbench_plugins.rules.training import forward_in_chunks, minibatch_epochs

#: rows per chunk when the frozen stack is applied to the whole training set
CHUNK = 4096


class RandomRule(MLPRule):
    name = "random"
    version = "1"
    description = (
        "control: the bp MLP left at its seeded random initialisation, only a linear readout "
        "on the last hidden layer trained (cross-entropy); label-free input and representations"
    )
    params = mlp_params(
        lr=1e-3,
        batch_size=2048,
        epochs=80,
        lr_help="learning rate of the readout",
        epochs_help="epochs of readout training",
    )
    #: quick: fewer epochs, smaller batches, a larger readout step; the hidden stack is never trained
    presets = {"quick": {"epochs": 20, "batch_size": 256, "lr": 1e-2}}
    #: --precision bf16 on a CPU: float32 and bfloat16 training measured equal within seed noise
    #: (docs/precision.md: 3 paired seeds of the quick preset; no stat shifted, accuracy equivalent)
    bf16_cpu_verified = True

    count_flops = staticmethod(flops.random_readout_flops)

    def fit(self, data, goodness, negatives, ctx: TrainContext):
        net = build_mlp(self.values, data, ctx)
        net.requires_grad_(False)
        net.head.requires_grad_(True)
        x, y = data.train.flat(), data.train.y
        with ctx.autocast():
            feats = forward_in_chunks(lambda xb: net.hidden(xb)[-1], x, CHUNK).float()

        def step(idx):
            loss = F.cross_entropy(net.head(feats[idx]), y[idx])
            return loss, loss

        losses = minibatch_epochs(self.values, net.head.parameters(), len(y), ctx, step, "readout")
        ctx.log(f"random: readout loss {losses[0].item():.4f} -> {losses[-1].item():.4f}")
        net.requires_grad_(True)
        return net.eval()


@ffbench.hookimpl
def ffbench_register_rules(register):
    register(RandomRule)
