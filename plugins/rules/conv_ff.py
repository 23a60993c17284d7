"""A convolutional Forward-Forward rule (``conv-ff``): FF's local, per-layer training on conv layers.

**Layer**: x -> x / ||x||_2 (per sample, over the whole input map: every channel and position,
as the FF MLP normalises every layer's input) -> Conv2d(channels, kernel k, stride s, zero
padding k // 2, bias) -> ReLU. Each layer has its own optimizer; no gradient crosses a layer.
Its goodness is the run's goodness function on the flattened feature map ([N, channels*H'*W'],
so ``threshold_for`` sees that many units), its loss the goodness's ``layer_loss`` on positives
and negatives, exactly as the ``ff`` rule.

**Label embedding: one-hot input channels.** Layer 1's input is the image with one extra channel
per class appended: ``label_value`` everywhere in the label's channel, 0 in the others (so every
kernel position sees the label; in the MLP embedding, the first pixels of the top row, only the
top-row kernels would). A channel's weights on the label channels act as a label-specific bias of
that channel, learned separately from its image weights, as the label columns of an FF MLP layer.
Why not the label spread over the image as a label-specific pattern added to it (Scodellaro et al.,
"Training convolutional neural networks with the Forward-Forward algorithm", Sci. Rep. 2025): with
a pattern P_c the label reaches a unit only as w . P_c, through the same kernel w as the image, so
a channel cannot gate on the label independently of what it detects. Measured here (fixed random
+-1 patterns, 2 layers x 16 channels, 10 epochs): 300 Fashion-MNIST images collapsed to equal
goodness for every label (loss 0.693, test accuracy 0.10-0.19; on the CIFAR-shaped synthetic
blocks of tests/test_conv_ff.py they did train: 0.50 at lr 0.01, 0.80 at lr 0.03); one-hot
channels do not collapse there (loss falls on every layer; synthetic blocks 0.385 at lr 0.01). The
defaults (lr 0.001, 3 x 32 channels, k 5, stride 2) and the quick preset are not swept.
``label_value`` is in std units of the normalised data (1 by default).

Schedules, negatives and inference are ``ff``'s (the public ``ff_pieces``; docs/rules.md): ``greedy``
(default) re-runs the frozen layers on every batch (no copy of the training set's feature maps is
kept) or ``simultaneous``; the negatives are drawn from the flattened training images when
``negatives_due`` says; per-label goodness [N, C, L] is combined by ``inference``/``skip_first``. A
goodness trained without negatives is refused: this rule has no label-free readout.
Representations are each layer's ReLU feature map with the true label embedded, flattened to
[N, channels*H'*W']. The model has no 2-D weight matrices (a kernel is shared by every position of
its channel, so a unit has no incoming row of its own): ``excitation`` reports a failed row.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

import ffbench
from ffbench.component import Param
from ffbench.contracts import DatasetBundle, Goodness, LearningRule, NegativeGenerator, TrainContext, TrainedModel
from ffbench_plugins.rules.ff_pieces import (
    EPS,
    INFERENCE_PARAMS,
    SCHEDULE_PARAM,
    LabelScores,
    components_fit,
    negatives_due,
    sample_negatives,
    with_ff_advice,
)
from ffbench_plugins.rules.mlp import seeded_uniform_
from ffbench_plugins.rules.training import (
    OPTIMIZER_PARAMS,
    ChecksOptimizerParams,
    batches,
    make_optimizer,
    optimizer_step,
)


def normalize_map(x: torch.Tensor) -> torch.Tensor:
    """x / ||x||_2 per sample, the norm over all of a sample's values (channels and positions)."""
    norm = torch.linalg.vector_norm(x.flatten(1), dim=1)
    return x / (norm + EPS).view(-1, *([1] * (x.dim() - 1)))


def out_size(size: int, kernel: int, stride: int) -> int:
    """Output height/width of a conv with zero padding kernel // 2."""
    return (size + 2 * (kernel // 2) - kernel) // stride + 1


class ConvFFNet(LabelScores, nn.Module, TrainedModel):
    """Conv FF layers plus goodness-per-label inference (see the module docstring)."""

    rule_name = "conv-ff"
    reads_label = True
    nonnegative_activity = True

    def __init__(
        self,
        shape: tuple[int, int, int],
        channels: int,
        layers: int,
        kernel: int,
        stride: int,
        num_classes: int,
        label_value: float,
        goodness: Goodness,
        inference: str = "softmax",
        skip_first: bool = False,
    ):
        super().__init__()
        ins = [shape[0] + num_classes] + [channels] * (layers - 1)
        self.convs = nn.ModuleList(nn.Conv2d(c, channels, kernel, stride, padding=kernel // 2) for c in ins)
        self.shape, self.goodness, self.label_value = tuple(shape), goodness, float(label_value)
        self.num_classes, self.inference, self.skip_first = num_classes, inference, skip_first

    @property
    def num_layers(self) -> int:
        return len(self.convs)

    def embed(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Images [N, C, H, W] with one channel per label appended, [N, C + classes, H, W]:
        ``label_value`` everywhere in the label's channel, 0 in the others."""
        codes = F.one_hot(labels, self.num_classes).to(x.dtype) * self.label_value
        return torch.cat([x, codes[:, :, None, None].expand(-1, -1, *x.shape[2:])], dim=1)

    def layer_forward(self, index: int, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.convs[index](normalize_map(x)))

    def forward_all(self, x: torch.Tensor, upto: int | None = None) -> list[torch.Tensor]:
        """Feature maps of layers 1..upto (all by default) for embedded images x."""
        hs = []
        for i in range(self.num_layers if upto is None else upto):
            x = self.layer_forward(i, x)
            hs.append(x)
        return hs

    def label_goodness(self, x: torch.Tensor, upto: int | None = None) -> torch.Tensor:
        """Goodness of every candidate label at every layer, [N, C, L] (one label at a time, so that
        memory is that of one forward pass)."""
        x = x.reshape(-1, *self.shape)
        per_label = []
        for c in range(self.num_classes):
            labels = torch.full((x.shape[0],), c, dtype=torch.long, device=x.device)
            hs = self.forward_all(self.embed(x, labels), upto)
            per_label.append(torch.stack([self.goodness.score(h.flatten(1)) for h in hs], dim=-1))
        return torch.stack(per_label, dim=1)

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.combine(self.label_goodness(x)).argmax(dim=1)

    @torch.no_grad()
    def representations(self, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
        """Each layer's ReLU feature map with the true label embedded, flattened to [N, D_l]."""
        return [h.flatten(1) for h in self.forward_all(self.embed(x.reshape(-1, *self.shape), y))]

    @torch.no_grad()
    def neutral_representations(self, x: torch.Tensor, neutral: str = "uniform") -> list[torch.Tensor]:
        """Flattened feature maps with a neutral label (for probes that must not read the answer):
        every label channel at ``label_value`` / classes (``uniform``, Hinton's neutral label) or 0
        (``zero``)."""
        x = x.reshape(-1, *self.shape)
        value = self.label_value / self.num_classes if neutral == "uniform" else 0.0
        codes = torch.full((x.shape[0], self.num_classes, *x.shape[2:]), value, dtype=x.dtype, device=x.device)
        return [h.flatten(1) for h in self.forward_all(torch.cat([x, codes], dim=1))]

    def kernels(self) -> list[torch.Tensor]:
        """Each layer's conv kernel [channels, C_in, k, k] (not a per-unit weight matrix)."""
        return [conv.weight.detach() for conv in self.convs]


class ConvFFRule(ChecksOptimizerParams, LearningRule):
    name = "conv-ff"
    version = "1"
    description = (
        "convolutional Forward-Forward: per-layer FF loss on conv feature maps, label as one-hot input channels"
    )
    params = (
        Param("layers", int, 3, "number of conv layers", min=1),
        Param("channels", int, 32, "output channels of every conv layer", min=1),
        Param("kernel", int, 5, "kernel size k (zero padding k // 2)", choices=(3, 5, 7)),
        Param("stride", int, 2, "stride of every conv layer", choices=(1, 2)),
        Param("lr", float, 0.001, "learning rate", min=0.0),
        Param("batch_size", int, 256, "positives per batch (each with its negative)", min=1),
        Param("epochs", int, 20, "epochs (per layer for the greedy schedule)", min=1),
        SCHEDULE_PARAM,
        *INFERENCE_PARAMS,
        Param(
            "label_value",
            float,
            1.0,
            "value of the label's one-hot input channel (in std of the normalised data)",
            min=0.0,
        ),
    ) + OPTIMIZER_PARAMS
    #: quick: a smaller, shorter network; tiny: what the conformance suite trains
    presets = {
        "quick": {"epochs": 5, "channels": 16, "batch_size": 128},
        "tiny": {"channels": 8, "kernel": 3},
    }

    def build(self, data: DatasetBundle, goodness: Goodness, ctx: TrainContext) -> ConvFFNet:
        v = self.values
        sizes = v["channels"], v["layers"], v["kernel"], v["stride"]
        net = ConvFFNet(
            data.shape, *sizes, data.num_classes, v["label_value"], goodness, v["inference"], v["skip_first"]
        ).to(ctx.device)
        seeded_uniform_(net.convs, ctx.generator)  # torch's default bound 1 / sqrt(C_in * k * k)
        return net

    def accepts(self, goodness, negatives):
        ok, reason = components_fit(self.name, goodness, negatives, batch_aware_ok=False)
        if ok and not goodness.needs_negatives:
            return False, (
                f"rule '{self.name}' trains with negative samples and has no label-free readout; goodness "
                f"'{goodness.name}' takes none: use a goodness that needs negatives (e.g. l2) or the ff rule"
            )
        if not ok:
            return ok, reason
        # label-free and model-aware negatives: refused by the default (conv-ff embeds labels, passes no model)
        return with_ff_advice(super().accepts(goodness, negatives), negatives)

    def fit(self, data, goodness, negatives, ctx):
        self.require_accepts(goodness, negatives)
        net = self.build(data, goodness, ctx)
        trainer = _Trainer(net, self.values, negatives, ctx, data.train.x, data.train.y)
        if self.values["schedule"] == "greedy":
            trainer.greedy()
        else:
            trainer.simultaneous()
        return net.eval()


class _Trainer:
    """The two FF schedules on a ConvFFNet."""

    def __init__(self, net: ConvFFNet, values: dict, negatives: NegativeGenerator, ctx: TrainContext, x, y):
        self.net, self.values, self.negatives, self.ctx = net, values, negatives, ctx
        self.x, self.y, self.n = x, y, len(y)
        steps = values["epochs"] * -(-self.n // values["batch_size"])
        self.opts = [make_optimizer(values, conv.parameters(), steps) for conv in net.convs]

    def draw(self, layer: int, epoch: int, last) -> tuple[torch.Tensor, torch.Tensor]:
        """(images [N, C, H, W], labels [N]) of the negatives of the whole training set, labels not
        yet embedded, drawn when ``ff_pieces.negatives_due`` says (else ``last``, the previous
        draw); hard negatives read layers 1..upto."""
        upto = negatives_due(self.values["schedule"], self.negatives.resamples, layer, epoch, self.net.num_layers)
        if upto is None:
            return last
        x_neg, y_neg = sample_negatives(
            self.negatives, self.x.flatten(1), self.y, self.ctx, lambda xb: self.net.label_log_probs(xb, upto)
        )
        return x_neg.view_as(self.x), y_neg

    def step(self, l: int, inp: torch.Tensor, bsz: int) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimizer step of layer l on input maps [2B, ...] (positives, then negatives);
        returns (its output maps, the loss), detached."""
        with self.ctx.autocast():
            h = self.net.layer_forward(l, inp)
            flat = h.flatten(1)
            loss = self.net.goodness.layer_loss(flat[:bsz], flat[bsz:])
        optimizer_step(*self.opts[l], loss)
        return h.detach(), loss.detach()

    def batch_input(self, neg: tuple[torch.Tensor, torch.Tensor], idx: torch.Tensor) -> torch.Tensor:
        """Embedded positives then negatives of batch idx, [2B, C + classes, H, W]."""
        x_neg, y_neg = neg
        return self.net.embed(torch.cat([self.x[idx], x_neg[idx]]), torch.cat([self.y[idx], y_neg[idx]]))

    def greedy(self) -> None:
        epochs, layers = self.values["epochs"], self.net.num_layers
        x_neg = None
        for l in range(layers):
            first = last = None
            for epoch in range(epochs):
                x_neg = self.draw(l, epoch, x_neg)
                total = torch.zeros((), device=self.x.device)
                for idx in batches(self.n, self.values["batch_size"], self.ctx.generator, self.ctx.device):
                    inp = self.batch_input(x_neg, idx)
                    with torch.no_grad(), self.ctx.autocast():
                        for k in range(l):  # the frozen layers below
                            inp = self.net.layer_forward(k, inp)
                    total = total + self.step(l, inp, len(idx))[1] * len(idx)
                last = total / self.n
                first = last if first is None else first
                self.ctx.check_loss(last, f"layer {l + 1}, epoch {epoch + 1}")
                self.ctx.progress(l * epochs + epoch + 1, layers * epochs, f"layer {l + 1}/{layers}")
            self.ctx.log(f"conv-ff layer {l + 1}: loss {first.item():.4f} -> {last.item():.4f}")

    def simultaneous(self) -> None:
        epochs, layers = self.values["epochs"], self.net.num_layers
        x_neg, first = None, None
        for epoch in range(epochs):
            x_neg = self.draw(0, epoch, x_neg)
            total = torch.zeros((), device=self.x.device)
            for idx in batches(self.n, self.values["batch_size"], self.ctx.generator, self.ctx.device):
                h = self.batch_input(x_neg, idx)
                for l in range(layers):
                    h, loss = self.step(l, h, len(idx))
                    total = total + loss * len(idx)
            mean = total / (self.n * layers)
            first = mean if first is None else first
            self.ctx.check_loss(mean, f"epoch {epoch + 1}")
            self.ctx.progress(epoch + 1, epochs, "all layers")
        self.ctx.log(f"conv-ff (simultaneous) mean layer loss {first.item():.4f} -> {mean.item():.4f}")


@ffbench.hookimpl
def ffbench_register_rules(register):
    register(ConvFFRule)
