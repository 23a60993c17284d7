"""The Forward-Forward rule (Hinton 2022; Tosato et al. defaults): local, per-layer training.

Greedy schedule (default): layer 1 is trained for all epochs, then layer 2 on layer 1's frozen
outputs, and so on. Each frozen layer's outputs are computed once per pass over the data (once in
total when negatives are fixed; with resampled negatives the positives' outputs are cached and
only the fresh negatives go through the frozen layers, once per epoch). Simultaneous schedule
(Hinton): every layer updated on every batch, inputs detached between layers.
"""

from __future__ import annotations

import torch

import ffbench
from ffbench.component import Param
from ffbench.contracts import DatasetBundle, Goodness, LearningRule, NegativeGenerator, TrainContext
from ffbench_plugins.rules.ffnet import FFNet, LabelEmbedding, default_width, forward_in_chunks

FF_PARAMS = (
    Param("layers", int, 3, "number of hidden layers", min=1),
    Param("width", int, None, "units per hidden layer; auto = 1000 for 28x28, 3072 for 32x32x3"),
    Param("lr", float, 0.01, "Adam learning rate", min=0.0),
    Param("batch_size", int, 1024, "positives per batch (each with its negative)", min=1),
    Param("epochs", int, 100, "epochs (per layer for the greedy schedule)", min=1),
    Param("inference", str, "softmax", "per-layer label scores: softmax over labels, or raw goodness",
          choices=("softmax", "raw")),
    Param("skip_first", bool, False, "leave layer 1 out of inference (Hinton)"),
)


def build_ffnet(rule: LearningRule, data: DatasetBundle, goodness: Goodness, device: torch.device) -> FFNet:
    width = rule.values["width"] or default_width(data)
    dims = [data.input_dim] + [width] * rule.values["layers"]
    embedding = LabelEmbedding(data.shape, data.num_classes, float(data.train.x.max()))
    net = FFNet(dims, embedding, goodness, data.num_classes, rule.values["inference"], rule.values["skip_first"])
    return net.to(device)


def draw_negatives(net: FFNet, negatives: NegativeGenerator, x: torch.Tensor, y: torch.Tensor,
                   ctx: TrainContext, upto: int) -> torch.Tensor:
    """Negative inputs (labels embedded) for the training set; hard negatives read the label
    scores of the layers trained so far (1..upto)."""
    scores = None
    if negatives.needs_scores:
        scores = forward_in_chunks(lambda xb: net.label_log_probs(xb, upto), x, chunk=2048)
    x_neg, y_neg = negatives.generate(x, y, allowed=ctx.allowed_labels, generator=ctx.generator, scores=scores)
    return net.embedding(x_neg, y_neg)


class FFRule(LearningRule):
    name = "ff"
    version = "1"
    description = "Forward-Forward: per-layer FF loss, per-layer Adam, no gradient between layers"
    params = FF_PARAMS + (
        Param("schedule", str, "greedy", "greedy (layer by layer, Tosato) or simultaneous (Hinton)",
              choices=("greedy", "simultaneous")),
    )
    #: quick: fewer epochs and smaller batches (enough steps on 10k images); definitions unchanged
    presets = {"quick": {"epochs": 10, "batch_size": 256}}

    def fit(self, data, goodness, negatives, ctx):
        if goodness is None or negatives is None:
            raise ValueError("the ff rule needs a goodness function and a negative generator")
        net = build_ffnet(self, data, goodness, ctx.device)
        x, y = data.train.flat(), data.train.y
        pos = net.embedding(x, y)
        if self.values["schedule"] == "greedy":
            self._greedy(net, pos, x, y, negatives, ctx)
        else:
            self._simultaneous(net, pos, x, y, negatives, ctx)
        return net.eval()

    def _batches(self, n: int, ctx: TrainContext):
        perm = torch.randperm(n, generator=ctx.generator, device=ctx.device)
        return perm.split(self.values["batch_size"])

    def _greedy(self, net, pos, x, y, negatives, ctx):
        epochs, n_layers = self.values["epochs"], net.num_layers
        neg = None if negatives.resamples else draw_negatives(net, negatives, x, y, ctx, upto=1)
        inp_pos, inp_neg = pos, neg
        for l in range(n_layers):
            opt = torch.optim.Adam(net.layers[l].parameters(), lr=self.values["lr"])
            losses = []
            for epoch in range(epochs):
                if negatives.resamples:  # fresh negatives through the frozen layers, once per epoch
                    fresh = draw_negatives(net, negatives, x, y, ctx, upto=l + 1)
                    inp_neg = fresh
                    for k in range(l):
                        inp_neg = forward_in_chunks(lambda b, k=k: net.layer_forward(k, b), inp_neg)
                total = torch.zeros((), device=ctx.device)
                for idx in self._batches(len(y), ctx):
                    h = net.layer_forward(l, torch.cat([inp_pos[idx], inp_neg[idx]]))
                    loss = net.goodness.layer_loss(h[: len(idx)], h[len(idx):])
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    total += loss.detach() * len(idx)
                losses.append(total / len(y))
                ctx.progress(l * epochs + epoch + 1, n_layers * epochs, f"layer {l + 1}/{n_layers}")
            ctx.log(f"ff layer {l + 1}: loss {losses[0].item():.4f} -> {losses[-1].item():.4f}")
            if l == n_layers - 1:
                break
            inp_pos = forward_in_chunks(lambda b: net.layer_forward(l, b), inp_pos)
            if not negatives.resamples:
                inp_neg = forward_in_chunks(lambda b: net.layer_forward(l, b), inp_neg)

    def _simultaneous(self, net, pos, x, y, negatives, ctx):
        epochs = self.values["epochs"]
        opts = [torch.optim.Adam(layer.parameters(), lr=self.values["lr"]) for layer in net.layers]
        neg = None
        losses = []
        for epoch in range(epochs):
            if neg is None or negatives.resamples:
                neg = draw_negatives(net, negatives, x, y, ctx, upto=net.num_layers)
            total = torch.zeros((), device=ctx.device)
            for idx in self._batches(len(y), ctx):
                inp = torch.cat([pos[idx], neg[idx]])
                for l, opt in enumerate(opts):
                    h = net.layer_forward(l, inp)
                    loss = net.goodness.layer_loss(h[: len(idx)], h[len(idx):])
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    total += loss.detach() * len(idx)
                    inp = h.detach()
            losses.append(total / (len(y) * net.num_layers))
            ctx.progress(epoch + 1, epochs, "all layers")
        ctx.log(f"ff (simultaneous): mean layer loss {losses[0].item():.4f} -> {losses[-1].item():.4f}")


@ffbench.hookimpl
def ffbench_register_rules(register):
    register(FFRule)
