"""BP/FF: the FF network and label embedding, trained end to end by back-propagation on the FF
objective (docs/science.md): G_total(x) = sum over layers of G(h_l), loss = the FF loss on G_total
(threshold: the goodness's, for the summed width), one optimizer. Inference as FF.

With a goodness trained without negatives (dimensionality compression), the loss is the sum of
the goodness's layer losses, back-propagated end to end, and the goodness fits its readout.

Shares ff's network options (``layer_norm``) and optimizers (``optimizer=sgd``, ``momentum``);
peer normalisation is an ff option only.
"""

from __future__ import annotations

import dataclasses

import torch

import ffbench
from ffbench.component import Param
from ffbench.contracts import LearningRule, TrainContext
from ffbench_plugins.rules import flops
from ffbench_plugins.rules.ff import FF_PARAMS
from ffbench_plugins.rules.ff_pieces import components_fit, negatives_due, with_ff_advice
from ffbench_plugins.rules.ffnet import build_ffnet, draw_negative_samples
from ffbench_plugins.rules.mlp import hidden_dims
from ffbench_plugins.rules.training import ChecksOptimizerParams, minibatch_epochs


def _with_defaults(params: tuple[Param, ...], **defaults) -> tuple[Param, ...]:
    return tuple(dataclasses.replace(p, default=defaults.get(p.name, p.default)) for p in params)


class BPFFRule(ChecksOptimizerParams, LearningRule):
    name = "bp-ff"
    version = "2"  # 2: initial weights drawn from the run generator
    description = "the FF objective on goodness summed over layers, back-propagated end to end"
    params = _with_defaults(FF_PARAMS, lr=1e-4, epochs=300)
    #: quick: fewer epochs and smaller batches (enough steps on 10k images) at lr 1.5e-4, chosen by
    #: the measured sweep in docs/science.md (validation split); definitions unchanged
    presets = {"quick": {"epochs": 30, "batch_size": 256, "lr": 1.5e-4}}

    def training_flops(self, data, goodness, negatives):
        if not flops.trains_with_negatives(goodness, negatives):
            return None
        dims, n, epochs = hidden_dims(self.values, data), len(data.train), self.values["epochs"]
        return flops.bp_ff_flops(dims, n, epochs, data.num_classes, negatives.resamples, negatives.needs_scores)

    def has_baseline(self, goodness, negatives):
        return flops.trains_with_negatives(goodness, negatives)

    def fit_baseline(self, data, goodness, negatives, ctx):
        from ffbench_plugins.rules.baselines import baseline_bp_ff

        return baseline_bp_ff(self, data, goodness, negatives, ctx)

    def accepts(self, goodness, negatives):
        ok, reason = components_fit(self.name, goodness, negatives, batch_aware_ok=False)
        if not ok:
            return ok, reason
        # label-free and model-aware negatives: refused by the default (bp-ff embeds labels, passes no model)
        return with_ff_advice(super().accepts(goodness, negatives), negatives)

    def fit(self, data, goodness, negatives, ctx: TrainContext):
        self.require_accepts(goodness, negatives)
        net = build_ffnet(self.values, data, goodness, ctx.device, ctx.generator)
        x, y = data.train.flat(), data.train.y
        self_supervised = not goodness.needs_negatives
        pos = None if self_supervised else net.embedding(x, y)
        neg = None

        def draw(epoch: int) -> None:  # before the epoch's batch order, when negatives are due
            nonlocal neg
            upto = negatives_due("simultaneous", negatives.resamples, 0, epoch, net.num_layers)
            if not self_supervised and upto is not None:
                neg = net.embedding(*draw_negative_samples(net, negatives, x, y, ctx, upto))

        def step(idx):
            with ctx.autocast():  # the layers; goodness and loss below in float32 (no-op in fp32)
                if self_supervised:
                    hs = net.forward_all(goodness.augment(x[idx], ctx.generator))
                else:  # positives and negatives through one matmul per layer
                    hs = net.forward_all(torch.cat([pos[idx], neg[idx]]))
            hs = [h.float() for h in hs]
            if self_supervised:
                loss = sum(goodness.layer_loss(h, None) for h in hs)
            else:
                g = sum(goodness.score(h) for h in hs)
                loss = goodness.loss_from_scores(g[: len(idx)], g[len(idx) :], sum(h.shape[-1] for h in hs))
            return loss, loss

        losses = minibatch_epochs(
            self.values, net.parameters(), len(y), ctx, step, "end to end", before_epoch=draw, autocast=False
        )
        ctx.log(f"bp-ff: loss {losses[0].item():.4f} -> {losses[-1].item():.4f}")
        if self_supervised:
            net.readout = goodness.fit_readout(net, data, ctx)
        return net.eval()


@ffbench.hookimpl
def ffbench_register_rules(register):
    register(BPFFRule)
