"""The Forward-Forward rule (Hinton 2022; Tosato et al. defaults): local, per-layer training.

Greedy schedule (default): layer 1 is trained for all epochs, then layer 2 on layer 1's frozen
outputs, and so on. Each frozen layer's outputs are computed once per pass over the data (once in
total when negatives are fixed; with resampled negatives the positives' outputs are cached and
only the fresh negatives go through the frozen layers, once per epoch). Positives and negatives
go through each layer in one matmul. Simultaneous schedule (Hinton): every layer updated on
every batch, inputs detached between layers.

With a goodness trained without negatives (dimensionality compression), each batch is the
goodness's ``augment`` of the images (fresh noise every batch, so frozen layers are re-run per
batch), the layer loss is the goodness's, and the goodness fits its readout at the end.
"""

from __future__ import annotations

import torch

import ffbench
from ffbench.component import Param
from ffbench.contracts import LearningRule, TrainContext
from ffbench_plugins.rules.ffnet import (
    OPTIMIZER_PARAMS, FFNet, batches, build_ffnet, check_components, draw_negatives, forward_in_chunks,
    make_optimizer,
)

FF_PARAMS = (
    Param("layers", int, 3, "number of hidden layers", min=1),
    Param("width", int, None, "units per hidden layer; auto = 1000 for 28x28, 3072 for 32x32x3", min=1),
    Param("lr", float, 0.01, "learning rate", min=0.0),
    Param("batch_size", int, 1024, "positives per batch (each with its negative)", min=1),
    Param("epochs", int, 100, "epochs (per layer for the greedy schedule)", min=1),
    Param("inference", str, "softmax", "per-layer label scores: softmax over labels, or raw goodness",
          choices=("softmax", "raw")),
    Param("skip_first", bool, False, "leave layer 1 out of inference (Hinton)"),
) + OPTIMIZER_PARAMS


class FFRule(LearningRule):
    name = "ff"
    version = "1"
    description = "Forward-Forward: per-layer FF loss, per-layer optimizer, no gradient between layers"
    params = FF_PARAMS + (
        Param("schedule", str, "greedy", "greedy (layer by layer, Tosato) or simultaneous (Hinton)",
              choices=("greedy", "simultaneous")),
    )
    #: quick: fewer epochs and smaller batches (enough steps on 10k images); definitions unchanged
    presets = {"quick": {"epochs": 10, "batch_size": 256}}

    def fit(self, data, goodness, negatives, ctx):
        check_components(self.name, goodness, negatives)
        net = build_ffnet(self.values, data, goodness, ctx.device)
        x, y = data.train.flat(), data.train.y
        if not goodness.needs_negatives:
            self._self_supervised(net, x, ctx)
            net.readout = goodness.fit_readout(net, data, ctx)
        elif self.values["schedule"] == "greedy":
            self._greedy(net, net.embedding(x, y), x, y, negatives, ctx)
        else:
            self._simultaneous(net, net.embedding(x, y), x, y, negatives, ctx)
        return net.eval()

    def _optimizers(self, net: FFNet, n: int):
        steps = self.values["epochs"] * -(-n // self.values["batch_size"])
        return [make_optimizer(self.values, layer.parameters(), steps) for layer in net.layers]

    def _step(self, opt, sched, loss: torch.Tensor) -> None:
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()

    def _greedy(self, net, pos, x, y, negatives, ctx: TrainContext):
        epochs, n_layers, bs = self.values["epochs"], net.num_layers, self.values["batch_size"]
        resample = negatives.resamples
        inp_pos = pos
        inp_neg = None if resample else draw_negatives(net, negatives, x, y, ctx, upto=1)
        for l, (opt, sched) in enumerate(self._optimizers(net, len(y))):
            losses = []
            for epoch in range(epochs):
                if resample:  # fresh negatives through the frozen layers, once per epoch
                    inp_neg = draw_negatives(net, negatives, x, y, ctx, upto=l + 1)
                    for k in range(l):
                        inp_neg = forward_in_chunks(lambda b, k=k: net.layer_forward(k, b), inp_neg)
                total = torch.zeros((), device=ctx.device)
                for idx in batches(len(y), bs, ctx.generator, ctx.device):
                    h = net.layer_forward(l, torch.cat([inp_pos[idx], inp_neg[idx]]))
                    loss = net.goodness.layer_loss(h[: len(idx)], h[len(idx):])
                    self._step(opt, sched, loss)
                    total += loss.detach() * len(idx)
                losses.append(total / len(y))
                ctx.progress(l * epochs + epoch + 1, n_layers * epochs, f"layer {l + 1}/{n_layers}")
            ctx.log(f"ff layer {l + 1}: loss {losses[0].item():.4f} -> {losses[-1].item():.4f}")
            if l == n_layers - 1:
                break
            inp_pos = forward_in_chunks(lambda b: net.layer_forward(l, b), inp_pos)
            if not resample:
                inp_neg = forward_in_chunks(lambda b: net.layer_forward(l, b), inp_neg)

    def _simultaneous(self, net, pos, x, y, negatives, ctx: TrainContext):
        epochs, bs = self.values["epochs"], self.values["batch_size"]
        opts = self._optimizers(net, len(y))
        neg, losses = None, []
        for epoch in range(epochs):
            if neg is None or negatives.resamples:
                neg = draw_negatives(net, negatives, x, y, ctx, upto=net.num_layers)
            total = torch.zeros((), device=ctx.device)
            for idx in batches(len(y), bs, ctx.generator, ctx.device):
                inp = torch.cat([pos[idx], neg[idx]])
                for l, (opt, sched) in enumerate(opts):
                    h = net.layer_forward(l, inp)
                    loss = net.goodness.layer_loss(h[: len(idx)], h[len(idx):])
                    self._step(opt, sched, loss)
                    total += loss.detach() * len(idx)
                    inp = h.detach()
            losses.append(total / (len(y) * net.num_layers))
            ctx.progress(epoch + 1, epochs, "all layers")
        ctx.log(f"ff (simultaneous): mean layer loss {losses[0].item():.4f} -> {losses[-1].item():.4f}")

    def _self_supervised(self, net, x, ctx: TrainContext):
        """Layer-local training on the goodness's augmented input, no negatives. Greedy: layer l
        trains for all epochs on the frozen layers' outputs of freshly augmented batches;
        simultaneous: every layer on every batch."""
        epochs, n_layers, bs = self.values["epochs"], net.num_layers, self.values["batch_size"]
        opts = self._optimizers(net, len(x))
        greedy = self.values["schedule"] == "greedy"
        stages = [[l] for l in range(n_layers)] if greedy else [list(range(n_layers))]
        for s, trained in enumerate(stages):
            for epoch in range(epochs):
                total = torch.zeros((), device=ctx.device)
                for idx in batches(len(x), bs, ctx.generator, ctx.device):
                    inp = net.goodness.augment(x[idx], ctx.generator)
                    with torch.no_grad():
                        for k in range(trained[0]):
                            inp = net.layer_forward(k, inp)
                    for l in trained:
                        h = net.layer_forward(l, inp)
                        loss = net.goodness.layer_loss(h, None)
                        self._step(*opts[l], loss)
                        total += loss.detach()
                        inp = h.detach()
                ctx.progress(s * epochs + epoch + 1, len(stages) * epochs, f"stage {s + 1}/{len(stages)}")
            ctx.log(f"ff ({net.goodness.name}) stage {s + 1}: last epoch loss sum {total.item():.4f}")


@ffbench.hookimpl
def ffbench_register_rules(register):
    register(FFRule)
