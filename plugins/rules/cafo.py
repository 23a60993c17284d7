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
from ffbench_plugins.rules.random_init import CHUNK
from ffbench_plugins.rules.training import forward_in_chunks, minibatch_epochs


class CaFoNet(ReLUStack):
    """The hidden stack (the blocks) plus a Linear(width, classes) predictor per block."""

    def __init__(self, dims: list[int], num_classes: int):
        super().__init__(dims)
        self.predictors = nn.ModuleList(nn.Linear(d, num_classes) for d in dims[1:])

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        probs = [torch.softmax(p(h).float(), dim=1) for p, h in zip(self.predictors, self.hidden(x))]
        return torch.stack(probs).sum(0).argmax(dim=1)


class CaFoRule(MLPRule):
    name = "cafo"
    version = "1"
    description = (
        "CaFo (Zhao et al. 2023): cascaded blocks trained one after the other, each with its own "
        "cross-entropy label predictor, predictions summed; label-free input and representations"
    )
    params = mlp_params(
        lr=1e-4,
        batch_size=2048,
        epochs=80,
        layers_help="number of blocks (hidden layers)",
        epochs_help="epochs per block",
        extra=(
            Param("frozen", bool, False, "keep the blocks at their random initialisation (train the predictors only)"),
        ),
    )
    #: quick: fewer epochs and smaller batches (enough steps on 10k images); definitions unchanged
    presets = {"quick": {"epochs": 5, "batch_size": 256, "lr": 1e-3}}

    def training_flops(self, data, goodness, negatives):
        v = self.values
        return flops.cafo_flops(hidden_dims(v, data), len(data.train), v["epochs"], data.num_classes, v["frozen"])

    def fit(self, data, goodness, negatives, ctx: TrainContext):
        v = self.values
        net = CaFoNet(hidden_dims(v, data), data.num_classes)
        seeded(net, ctx, *net.predictors)
        if v["frozen"]:
            net.layers.requires_grad_(False)
        inp, y = data.train.flat(), data.train.y
        n_blocks = net.num_layers
        for i, (layer, pred) in enumerate(zip(net.layers, net.predictors)):
            params = list(pred.parameters()) + ([] if v["frozen"] else list(layer.parameters()))

            def block(xb, layer=layer):
                return F.relu(layer(xb))

            feats = None
            if v["frozen"]:  # a random block's output is fixed: compute it once
                with ctx.autocast():
                    feats = forward_in_chunks(block, inp, CHUNK)

            def step(idx, block=block, pred=pred, inp=inp, feats=feats):
                h = feats[idx] if feats is not None else block(inp[idx])
                loss = F.cross_entropy(pred(h).float(), y[idx])
                return loss, loss

            stage, where = f"block {i + 1}/{n_blocks}", f"block {i + 1}, "
            losses = minibatch_epochs(v, params, len(y), ctx, step, stage, part=(i, n_blocks), where=where)
            ctx.log(f"cafo block {i + 1}: loss {losses[0].item():.4f} -> {losses[-1].item():.4f}")
            if i + 1 < n_blocks:  # the next block's input: this block's output, detached
                if feats is None:
                    with ctx.autocast():
                        feats = forward_in_chunks(block, inp, CHUNK)
                inp = feats.float()
        net.requires_grad_(True)
        return net.eval()


@ffbench.hookimpl
def ffbench_register_rules(register):
    register(CaFoRule)
