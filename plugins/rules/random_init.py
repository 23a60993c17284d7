"""The random-network control (docs/science.md, "More learning rules and the random control"): the
BP rule's MLP left at its seeded initialisation; only a linear readout Linear(width, classes) on
the last hidden layer is trained, with cross-entropy and Adam. Every representation metric read
on a trained rule can be compared with the same metric on this untrained stack of the same shape.
Label-free: the input carries no label and the representations are the activity for the image
alone.

The frozen features of the training set are computed once (in chunks, without gradients), so the
readout's epochs cost a [N, width] x [width, classes] matmul each.

The stack is the bp rule's ``build_mlp``: weights and biases drawn from the run's ``ctx.generator``
(``ffnet.seeded_uniform_``, nn.Linear's default distribution U(-1/sqrt(fan_in), 1/sqrt(fan_in))),
so a seed's initialisation depends on its generator only. ``build_mlp`` and ``seeded_uniform_``
are re-exported here for code that imported them from this module.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

import ffbench
from ffbench.component import Param
from ffbench.contracts import LearningRule, TrainContext
from ffbench_plugins.rules.bp import build_mlp
from ffbench_plugins.rules.ffnet import OPTIMIZER_PARAMS, ChecksOptimizerParams, minibatch_epochs, seeded_uniform_

__all__ = ["CHUNK", "RandomRule", "build_mlp", "seeded_uniform_"]  # the last two: re-exported

#: rows per chunk when the frozen stack is applied to the whole training set
CHUNK = 4096


class RandomRule(ChecksOptimizerParams, LearningRule):
    name = "random"
    version = "1"
    description = (
        "control: the bp MLP left at its seeded random initialisation, only a linear readout "
        "on the last hidden layer trained (cross-entropy); label-free input and representations"
    )
    uses_goodness = False
    uses_negatives = False
    params = (
        Param("layers", int, 3, "number of hidden layers", min=1),
        Param("width", int, None, "units per hidden layer; auto = 1000 for 28x28, 3072 for 32x32x3", min=1),
        Param("lr", float, 1e-3, "learning rate of the readout", min=0.0),
        Param("batch_size", int, 2048, "batch size", min=1),
        Param("epochs", int, 80, "epochs of readout training", min=1),
    ) + OPTIMIZER_PARAMS
    #: quick: fewer epochs, smaller batches, a larger readout step; the hidden stack is never trained
    presets = {"quick": {"epochs": 20, "batch_size": 256, "lr": 1e-2}}

    def training_flops(self, data, goodness, negatives):
        from ffbench_plugins.rules import flops

        v = self.values
        return flops.random_readout_flops(flops.layer_dims(v, data), len(data.train), v["epochs"], data.num_classes)

    def fit(self, data, goodness, negatives, ctx: TrainContext):
        net = build_mlp(self.values, data, ctx)
        net.requires_grad_(False)
        net.head.requires_grad_(True)
        x, y = data.train.flat(), data.train.y
        with torch.no_grad(), ctx.autocast():
            feats = torch.cat([net.hidden(x[i : i + CHUNK])[-1] for i in range(0, len(y), CHUNK)]).float()

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
