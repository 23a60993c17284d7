"""The built-in rules written the straightforward way (``LearningRule.fit_baseline``): what
``ffbench bench`` times the fast trainers against. Same network, loss and negatives as the rule;
a shuffling DataLoader, separate positive and negative passes, frozen layers re-run on every batch
(greedy FF), one ``.item()`` per step for the running loss. Forward passes run under
``ctx.autocast()`` with goodness and loss in float32, as in the fast trainers, so that
``ffbench bench --precision bf16`` times the same work in both precisions."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from ffbench.contracts import DatasetBundle, Goodness, LearningRule, NegativeGenerator, TrainContext, TrainedModel
from ffbench_plugins.rules.bp import build_mlp
from ffbench_plugins.rules.ff_pieces import negatives_due
from ffbench_plugins.rules.ffnet import build_ffnet, draw_negative_samples


def _loader(tensors: list[torch.Tensor], batch_size: int, seed: int) -> DataLoader:
    """A shuffling DataLoader over CPU tensors, as usually written."""
    return DataLoader(
        TensorDataset(*[t.cpu() for t in tensors]),
        batch_size=batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )


def _usual_optimizer(values: dict, params) -> torch.optim.Optimizer:
    if values["optimizer"] == "sgd":
        return torch.optim.SGD(
            params, lr=values["lr"], momentum=values.get("momentum", 0.0), weight_decay=values["weight_decay"]
        )
    cls = torch.optim.AdamW if values["optimizer"] == "adamw" else torch.optim.Adam
    return cls(params, lr=values["lr"], weight_decay=values["weight_decay"])


def baseline_ff(
    rule: LearningRule, data: DatasetBundle, goodness: Goodness, negatives: NegativeGenerator, ctx: TrainContext
) -> TrainedModel:
    """FF as usually written: a DataLoader, labels embedded per batch, positives and negatives
    through separate forward passes, the frozen layers re-run on every batch (greedy), one
    ``.item()`` per step for the running loss. Same network, loss and negatives as FFRule."""
    v = rule.values
    net = build_ffnet(v, data, goodness, ctx.device, ctx.generator)
    x, y = data.train.flat(), data.train.y
    layers = net.num_layers
    stages = [[l] for l in range(layers)] if v["schedule"] == "greedy" else [list(range(layers))]
    opts = [_usual_optimizer(v, layer.parameters()) for layer in net.layers]
    for trained in stages:
        for epoch in range(v["epochs"]):
            upto = negatives_due(v["schedule"], negatives.resamples, trained[0], epoch, layers)
            if upto is not None:
                x_neg, y_neg = draw_negative_samples(net, negatives, x, y, ctx, upto)
            running = 0.0
            for xb, yb, xnb, ynb in _loader([x, y, x_neg, y_neg], v["batch_size"], ctx.seed + epoch):
                pos = net.embedding(xb.to(ctx.device), yb.to(ctx.device))
                neg = net.embedding(xnb.to(ctx.device), ynb.to(ctx.device))
                with torch.no_grad(), ctx.autocast():
                    for k in range(trained[0]):
                        pos, neg = net.layer_forward(k, pos), net.layer_forward(k, neg)
                for l in trained:
                    with ctx.autocast():  # bf16 under --precision bf16 (a no-op otherwise); the loss in float32
                        h_pos, h_neg = net.layer_forward(l, pos), net.layer_forward(l, neg)
                    loss = goodness.layer_loss(h_pos.float(), h_neg.float())
                    opts[l].zero_grad()
                    loss.backward()
                    opts[l].step()
                    running += loss.item()
                    pos, neg = h_pos.detach(), h_neg.detach()
    return net.eval()


def baseline_bp_ff(
    rule: LearningRule, data: DatasetBundle, goodness: Goodness, negatives: NegativeGenerator, ctx: TrainContext
) -> TrainedModel:
    """BP/FF as usually written: DataLoader, separate positive and negative passes, ``.item()``."""
    v = rule.values
    net = build_ffnet(v, data, goodness, ctx.device, ctx.generator)
    x, y = data.train.flat(), data.train.y
    opt = _usual_optimizer(v, net.parameters())
    for epoch in range(v["epochs"]):
        upto = negatives_due("simultaneous", negatives.resamples, 0, epoch, net.num_layers)
        if upto is not None:
            x_neg, y_neg = draw_negative_samples(net, negatives, x, y, ctx, upto)
        running = 0.0
        for xb, yb, xnb, ynb in _loader([x, y, x_neg, y_neg], v["batch_size"], ctx.seed + epoch):
            with ctx.autocast():  # bf16 under --precision bf16 (a no-op otherwise); goodness and loss in float32
                hs_pos = net.forward_all(net.embedding(xb.to(ctx.device), yb.to(ctx.device)))
                hs_neg = net.forward_all(net.embedding(xnb.to(ctx.device), ynb.to(ctx.device)))
            g_pos = sum(goodness.score(h.float()) for h in hs_pos)
            g_neg = sum(goodness.score(h.float()) for h in hs_neg)
            loss = goodness.loss_from_scores(g_pos, g_neg, sum(h.shape[-1] for h in hs_pos))
            opt.zero_grad()
            loss.backward()
            opt.step()
            running += loss.item()
    return net.eval()


def baseline_bp(rule: LearningRule, data: DatasetBundle, goodness, negatives, ctx: TrainContext) -> TrainedModel:
    """BP as usually written: DataLoader, cross-entropy, ``.item()`` per step."""
    v = rule.values
    net = build_mlp(v, data, ctx)
    opt = _usual_optimizer(v, net.parameters())
    for epoch in range(v["epochs"]):
        running = 0.0
        for xb, yb in _loader([data.train.flat(), data.train.y], v["batch_size"], ctx.seed + epoch):
            with ctx.autocast():  # bf16 under --precision bf16; cross-entropy is autocast's float32 op
                loss = F.cross_entropy(net(xb.to(ctx.device)), yb.to(ctx.device))
            opt.zero_grad()
            loss.backward()
            opt.step()
            running += loss.item()
    return net.eval()
