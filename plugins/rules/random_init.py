"""The random-network control (SCIENCE.md, "Going further"): the BP rule's MLP left at its seeded
initialisation; only a linear readout Linear(width, classes) on the last hidden layer is trained,
with cross-entropy and Adam. Every representation metric read on a trained rule can be compared
with the same metric on this untrained stack of the same shape. Label-free: the input carries no
label and the representations are the activity for the image alone.

The frozen features of the training set are computed once (in chunks, without gradients), so the
readout's epochs cost a [N, width] x [width, classes] matmul each.

``seeded_uniform_`` is shared with the other label-free rules (dfa, pepita, mono-forward, cafo):
it draws weights and biases from the rule's ``ctx.generator`` with nn.Linear's default
distribution U(-1/sqrt(fan_in), 1/sqrt(fan_in)), so a seed's initialisation depends on its
generator only (as ``ffnet.build_ffnet`` does for the FF network).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

import ffbench
from ffbench.component import Param
from ffbench.contracts import LearningRule, TrainContext
from ffbench_plugins.rules.bp import BPNet
from ffbench_plugins.rules.ffnet import default_width, minibatch_epochs, OPTIMIZER_PARAMS

#: rows per chunk when the frozen stack is applied to the whole training set
CHUNK = 4096


@torch.no_grad()
def seeded_uniform_(modules, generator: torch.Generator, gain: float = 1.0) -> None:
    """Re-draw each Linear's weight (and bias, if any) from U(-b, b), b = gain / sqrt(fan_in),
    using ``generator`` (which must live on the modules' device), in module order."""
    for m in modules:
        bound = gain * m.in_features ** -0.5
        m.weight.uniform_(-bound, bound, generator=generator)
        if m.bias is not None:
            m.bias.uniform_(-bound, bound, generator=generator)


def build_mlp(values: dict, data, ctx: TrainContext) -> BPNet:
    """The BP rule's MLP (hidden stack + Linear head), initialised from ``ctx.generator``."""
    width = values["width"] or default_width(data)
    net = BPNet([data.input_dim] + [width] * values["layers"], data.num_classes).to(ctx.device)
    seeded_uniform_(list(net.layers) + [net.head], ctx.generator)
    return net


class RandomRule(LearningRule):
    name = "random"
    version = "1"
    description = ("control: the bp MLP left at its seeded random initialisation, only a linear readout "
                   "on the last hidden layer trained (cross-entropy); label-free input and representations")
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
