"""CaFo, the Cascaded Forward algorithm (Zhao et al. 2023, arXiv:2303.09728), fully connected form.

A cascade of blocks, block i: h_i = ReLU(W_i h_{i-1} + b_i), each with its own label predictor
z_i = P_i h_i + c_i (a Linear(width, classes)) trained with cross-entropy CE(z_i, y). Blocks are
trained one after the other (greedy, like the cascade in the paper): block i and its predictor
for all epochs, then block i+1 on block i's frozen (detached) outputs. No gradient crosses a
block. Inference: p = sum_i softmax(z_i), argmax.

``frozen=true`` (the released code's variant): the blocks stay at their seeded random
initialisation and only the predictors learn, each on its block's detached output.
``frozen=false`` (default): each block is trained together with its predictor, by the
predictor's cross-entropy (the gradient reaches block i's W_i, b_i and stops there). The
paper's trained-block variant pre-trains blocks with DFA instead; see docs/rules.md.
Label-free: the input carries no label; representations are the activity for the image alone.
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
    batches,
    default_width,
    make_optimizer,
    seeded_uniform_,
)
from ffbench_plugins.rules.random_init import CHUNK


class CaFoNet(nn.Module, TrainedModel):
    def __init__(self, dims: list[int], num_classes: int):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(dims[i], dims[i + 1]) for i in range(len(dims) - 1))
        self.predictors = nn.ModuleList(nn.Linear(d, num_classes) for d in dims[1:])

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    def hidden(self, x: torch.Tensor) -> list[torch.Tensor]:
        hs, h = [], x.reshape(x.shape[0], -1)
        for layer in self.layers:
            h = F.relu(layer(h))
            hs.append(h)
        return hs

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        probs = [torch.softmax(p(h).float(), dim=1) for p, h in zip(self.predictors, self.hidden(x))]
        return torch.stack(probs).sum(0).argmax(dim=1)

    @torch.no_grad()
    def representations(self, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
        return self.hidden(x)

    def weights(self) -> list[torch.Tensor]:
        return [layer.weight.detach() for layer in self.layers]


class CaFoRule(ChecksOptimizerParams, LearningRule):
    name = "cafo"
    version = "1"
    description = (
        "CaFo (Zhao et al. 2023): cascaded blocks trained one after the other, each with its own "
        "cross-entropy label predictor, predictions summed; label-free input and representations"
    )
    uses_goodness = False
    uses_negatives = False
    params = (
        Param("layers", int, 3, "number of blocks (hidden layers)", min=1),
        Param("width", int, None, "units per hidden layer; auto = 1000 for 28x28, 3072 for 32x32x3", min=1),
        Param("lr", float, 1e-4, "learning rate", min=0.0),
        Param("batch_size", int, 2048, "batch size", min=1),
        Param("epochs", int, 80, "epochs per block", min=1),
        Param("frozen", bool, False, "keep the blocks at their random initialisation (train the predictors only)"),
    ) + OPTIMIZER_PARAMS
    #: quick: fewer epochs and smaller batches (enough steps on 10k images); definitions unchanged
    presets = {"quick": {"epochs": 5, "batch_size": 256, "lr": 1e-3}}

    def training_flops(self, data, goodness, negatives):
        from ffbench_plugins.rules import flops

        v = self.values
        return flops.cafo_flops(flops.layer_dims(v, data), len(data.train), v["epochs"], data.num_classes, v["frozen"])

    def fit(self, data, goodness, negatives, ctx: TrainContext):
        v = self.values
        width = v["width"] or default_width(data)
        net = CaFoNet([data.input_dim] + [width] * v["layers"], data.num_classes).to(ctx.device)
        seeded_uniform_(list(net.layers) + list(net.predictors), ctx.generator)
        if v["frozen"]:
            net.layers.requires_grad_(False)
        inp, y = data.train.flat(), data.train.y
        epochs, bs, n_blocks = v["epochs"], v["batch_size"], net.num_layers
        for i, (layer, pred) in enumerate(zip(net.layers, net.predictors)):
            params = list(pred.parameters()) + ([] if v["frozen"] else list(layer.parameters()))
            opt, sched = make_optimizer(v, params, epochs * -(-len(y) // bs))
            feats = None
            if v["frozen"]:  # a random block's output is fixed: compute it once
                with torch.no_grad(), ctx.autocast():
                    feats = torch.cat([F.relu(layer(inp[j : j + CHUNK])) for j in range(0, len(y), CHUNK)])
            first = last = None
            for epoch in range(epochs):
                total = torch.zeros((), device=ctx.device)
                for idx in batches(len(y), bs, ctx.generator, ctx.device):
                    with ctx.autocast():
                        h = feats[idx] if feats is not None else F.relu(layer(inp[idx]))
                        loss = F.cross_entropy(pred(h).float(), y[idx])
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    if sched is not None:
                        sched.step()
                    total += loss.detach() * len(idx)
                first = total / len(y) if first is None else first
                last = total / len(y)
                ctx.check_loss(last, f"block {i + 1}, epoch {epoch + 1}")
                ctx.progress(i * epochs + epoch + 1, n_blocks * epochs, f"block {i + 1}/{n_blocks}")
            ctx.log(f"cafo block {i + 1}: loss {first.item():.4f} -> {last.item():.4f}")
            if i + 1 < n_blocks:  # the next block's input: this block's output, detached
                with torch.no_grad(), ctx.autocast():
                    inp = (
                        feats
                        if feats is not None
                        else torch.cat([F.relu(layer(inp[j : j + CHUNK])) for j in range(0, len(y), CHUNK)])
                    )
                inp = inp.float()
        net.requires_grad_(True)
        return net.eval()


@ffbench.hookimpl
def ffbench_register_rules(register):
    register(CaFoRule)
