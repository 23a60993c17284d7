"""The Forward-Forward rule (Hinton 2022; Tosato et al. defaults): local, per-layer training.

Greedy schedule (default): layer 1 is trained for all epochs, then layer 2 on layer 1's frozen
outputs, and so on. Simultaneous schedule (Hinton): every layer updated on every batch, inputs
detached between layers.

How the trainer avoids waste, the definitions unchanged (benchmarks/README.md, "What the fast FF
trainer does"): data stay on the device and a batch is an index gather; positives and negatives go
through each layer in one matmul, and layer 1 in one matmul over the *images* when the negatives
are the positives' images with other labels (``LabelEmbedding.fold``); every layer's input is
stored normalised and frozen layers' outputs are computed once (resampled negatives: only the
fresh negatives go through the frozen layers); no host-device synchronisation inside the loop.
Several seeds of one configuration train as one stacked model (``fit_seeds``: weights
[S, in, out], torch.baddbmm, one fused Adam over the stack with the loss summed over seeds, which is
S independent Adams); every seed draws its initialisation, negatives and batch order from its own
generator in the same order as alone, so seed s of a stack equals seed s trained alone. ``fit``
is a stack of one. Under ``--precision bf16`` every stored layer input is cast to bfloat16 once
(``AutocastCopy``), and the activation runs on the bfloat16 pre-activation before it is widened to
float32 for the goodness: the numbers are those of casting each batch, bit for bit.

The goodness study's options (``optimizer=sgd`` with ``momentum``, ``layer_norm=rms``,
``peer_norm``, ``activation=relu-st``, ``lr_schedule=cooldown``; docs/science.md, "FF options from
the goodness study") are per seed and elementwise, so stacked seeds still equal seeds trained
alone. Label-free FF (``label=none``, docs/science.md): no label is embedded, layer 1 is never
folded, and after FF training every seed gets a linear readout (``ffnet.fit_linear_readout``)
from its own generator; a labelled generator is accepted only when its negatives are not the
training images themselves (:meth:`FFRule.accepts`).

A batch-aware goodness (``Goodness.batch_aware``) gets each seed's whole batch and that seed's
state of the layer (kept in the seed's FFNet, so saved with the model) through
``layer_loss(h_pos, h_neg, state=...)``: seeds are scored one by one inside the stack, never across
seeds, and the head is not compiled. A goodness trained without negatives (dimensionality
compression) trains on its ``augment`` of each batch (fresh noise, so frozen layers are re-run per
batch), seed after seed, and fits its readout at the end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

import ffbench
from ffbench.component import Param, ParameterError
from ffbench.contracts import Goodness, LearningRule, TrainContext
from ffbench_plugins.rules import flops
from ffbench_plugins.rules.ff_pieces import (
    ACTIVATION_PARAM,
    ACTIVATIONS,
    INFERENCE_PARAMS,
    LAYER_NORM_PARAM,
    PEER_INIT,
    SCHEDULE_PARAM,
    LabelEmbedding,
    components_fit,
    negatives_due,
    normalize,
    peer_norm_loss,
)
from ffbench_plugins.rules.ffnet import READOUT_EPOCHS, FFNet, build_ffnet, draw_negative_samples, fit_linear_readout
from ffbench_plugins.rules.mlp import hidden_dims, mlp_params
from ffbench_plugins.rules.training import ChecksOptimizerParams, batches, make_optimizer, optimizer_step

FF_PARAMS = mlp_params(
    lr=0.01,
    batch_size=1024,
    epochs=100,
    batch_help="positives per batch (each with its negative)",
    epochs_help="epochs (per layer for the greedy schedule)",
    extra=(*INFERENCE_PARAMS, LAYER_NORM_PARAM),
)

#: rows per chunk when frozen layers are applied to the whole training set
CHUNK = 8192


def keeps_training_images(negatives) -> bool:
    """Whether a (labelled) negative generator's images are training images left unchanged
    (``wrong-label``, ``hard``, ``ns-class-confusion``, ``ns-same-class``: only the label makes
    them negative). Tried on a fixed synthetic batch (12 random rows of 16 values, 4 classes,
    uniform label scores where the generator asks for them): True when every returned image
    equals one of the inputs. A generator that fails on it is given the benefit of the doubt."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(12, 16, generator=g), torch.arange(12) % 4
    scores = torch.zeros(12, 4) if negatives.needs_scores else None
    try:
        x_neg, _ = negatives.generate(x, y, allowed=torch.arange(4), generator=g, scores=scores)
        return bool((x_neg.reshape(12, 1, 16) == x.unsqueeze(0)).all(-1).any(1).all())
    except Exception:
        return False


class FFRule(ChecksOptimizerParams, LearningRule):
    name = "ff"
    #: 2: with the greedy schedule, resampled negatives and layer_norm=rms, some layer inputs were
    #: L2- instead of RMS-normalised (fixed); every other configuration is bit-identical to 1
    version = "2"
    description = "Forward-Forward: per-layer FF loss, per-layer optimizer, no gradient between layers"
    params = FF_PARAMS + (
        SCHEDULE_PARAM,
        Param(
            "peer_norm",
            float,
            0.0,
            "coefficient of the peer-normalisation loss added to each layer's loss (0 = off; "
            "the goodness study: 0.03); running mean activity with momentum 0.9, from 0.5",
            min=0.0,
            omit_at_default=True,  # added after boards were published: default configurations keep their ids
        ),
        ACTIVATION_PARAM,
        Param(
            "label",
            str,
            "embed",
            "embed: the label is embedded in positives and negatives (FF); none: label-free FF, positives "
            "are the raw images, negatives the generator's images, prediction a linear readout trained "
            "after FF training on the frozen activity",
            choices=("embed", "none"),
            omit_at_default=True,  # added after boards were published: default configurations keep their ids
        ),
    )
    #: quick: fewer epochs and smaller batches (enough steps on 10k images); definitions unchanged
    presets = {"quick": {"epochs": 20, "batch_size": 256}}
    stacks_seeds = True
    #: --precision bf16 on a CPU: float32 and bfloat16 training measured equal within seed noise
    #: (docs/precision.md: 5 paired seeds of the quick preset; no stat shifted, accuracy equivalent)
    bf16_cpu_verified = True

    def __init_component__(self) -> None:
        super().__init_component__()
        if self.values["label"] == "none" and self.values["inference"] != "softmax":
            raise ParameterError(
                f"Parameter 'ff.inference' = {self.values['inference']!r} combines per-label goodness, which "
                "label=none has none of (it predicts with a linear readout): leave inference at softmax."
            )

    @property
    def label_free(self) -> bool:
        return self.values["label"] == "none"

    def training_flops(self, data, goodness, negatives):
        if not flops.trains_with_negatives(goodness, negatives) or getattr(negatives, "needs_model", False):
            return None  # model-aware negatives (their gradient passes) are not counted
        v, dims, n = self.values, hidden_dims(self.values, data), len(data.train)
        folded = not self.label_free and flops.generator_keeps_images(negatives, data)
        total = flops.ff_flops(
            dims, n, v["epochs"], data.num_classes, v["schedule"], folded, negatives.resamples, negatives.needs_scores
        )
        if self.label_free:  # the readout: one forward pass for the features, then full-batch epochs
            first = 1 if v["skip_first"] and len(dims) > 2 else 0
            features = sum(dims[l + 1] for l in range(first, len(dims) - 1))
            total += sum(flops.mm(n, dims[l], dims[l + 1]) for l in range(len(dims) - 1))
            total += READOUT_EPOCHS * 2 * flops.mm(n, features, data.num_classes)
        return total

    def has_baseline(self, goodness, negatives):
        # the straightforward baseline (baselines.baseline_ff) has no peer normalisation, scores
        # each half without the goodness's batch or per-layer state, and embeds labels
        return (
            flops.trains_with_negatives(goodness, negatives)
            and not self.values["peer_norm"]
            and not goodness.batch_aware
            and not self.label_free
            and not getattr(negatives, "needs_model", False)
        )

    def fit_baseline(self, data, goodness, negatives, ctx):
        from ffbench_plugins.rules.baselines import baseline_ff

        return baseline_ff(self, data, goodness, negatives, ctx)

    def baseline_flops(self, data, goodness, negatives):
        if not flops.trains_with_negatives(goodness, negatives):
            return None
        v, dims, n = self.values, hidden_dims(self.values, data), len(data.train)
        return flops.baseline_ff_flops(
            dims, n, v["epochs"], data.num_classes, v["schedule"], negatives.resamples, negatives.needs_scores
        )

    def accepts(self, goodness, negatives):
        ok, reason = components_fit(self.name, goodness, negatives)
        if ok and self.values["peer_norm"] and not goodness.needs_negatives:
            return False, (
                f"ff: peer_norm={self.values['peer_norm']} is implemented for goodness functions trained "
                f"with negatives (its mean activity is over the positives), not for '{goodness.name}', "
                "which trains without negatives: set peer_norm=0"
            )
        if not ok:
            return ok, reason
        unlabelled = negatives.label_free
        if not self.label_free:
            if unlabelled:
                return False, (
                    f"ff: negatives '{negatives.name}' carry no label (label_free), but ff embeds a label in "
                    "every positive and negative: use ff[label=none] (label-free FF)"
                )
            return ok, reason
        if not goodness.needs_negatives:
            return False, (
                f"ff: label=none is label-free FF with negatives; goodness '{goodness.name}' trains without "
                "negatives and embeds no label anyway: leave label at embed"
            )
        if not unlabelled and keeps_training_images(negatives):
            return False, (
                f"ff: with label=none no label is embedded, and negatives '{negatives.name}' are training "
                "images left unchanged (only their labels make them negative), so its negatives would "
                "equal positives: use a label-free generator (ns-image-mix, ns-class-aware-mix, "
                "ns-random-noise, ns-mask) or one that alters the image"
            )
        if negatives.needs_scores:
            return False, (
                f"ff: negatives '{negatives.name}' need the model's label scores, which a label-free network "
                "(label=none) does not compute: use a generator without needs_scores"
            )
        return ok, reason

    def fit(self, data, goodness, negatives, ctx):
        self.require_accepts(goodness, negatives)
        if goodness.needs_negatives:
            return self.fit_seeds(data, goodness, negatives, [ctx])[0]
        net = build_ffnet(self.values, data, goodness, ctx.device, ctx.generator)
        self._self_supervised(net, data.train.flat(), ctx)
        net.readout = goodness.fit_readout(net, data, ctx)
        return net.eval()

    def fit_seeds(self, data, goodness, negatives, ctxs):
        self.require_accepts(goodness, negatives)
        if not goodness.needs_negatives:
            return [self.fit(data, goodness, negatives, ctx) for ctx in ctxs]
        nets = [build_ffnet(self.values, data, goodness, ctx.device, ctx.generator) for ctx in ctxs]
        x, y = data.train.flat(), data.train.y
        trainer = StackedFF(nets, self.values, negatives, ctxs, x, y)
        if self.values["schedule"] == "greedy":
            trainer.greedy()
        else:
            trainer.simultaneous()
        trainer.export()
        if self.label_free:  # each seed's readout, from its own generator after its training
            for net, ctx in zip(nets, ctxs):
                net.readout = fit_linear_readout(net, x, y, ctx.generator, self.values["skip_first"], ctx.log)
        return [net.eval() for net in nets]

    def _self_supervised(self, net, x, ctx: TrainContext):
        """Layer-local training on the goodness's augmented input, no negatives. Greedy: layer l
        trains for all epochs on the frozen layers' outputs of freshly augmented batches;
        simultaneous: every layer on every batch."""
        epochs, n_layers, bs = self.values["epochs"], net.num_layers, self.values["batch_size"]
        opts = [make_optimizer(self.values, layer.parameters(), epochs * -(-len(x) // bs)) for layer in net.layers]
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
                        with ctx.autocast():
                            h = net.layer_forward(l, inp)
                        loss = net.goodness_loss(l, h.float(), None)  # the goodness's loss in float32
                        optimizer_step(*opts[l], loss)
                        total += loss.detach()
                        inp = h.detach()
                ctx.check_loss(total, f"stage {s + 1}, epoch {epoch + 1}")
                ctx.progress(s * epochs + epoch + 1, len(stages) * epochs, f"stage {s + 1}/{len(stages)}")
            ctx.log(f"ff ({net.goodness.name}) stage {s + 1}: last epoch loss sum {total.item():.4f}")


# --- Layer inputs for S stacked seeds ---


def _linear(w: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Stacked affine map: x [S, R, in] -> [S, R, out] with w [S, in, out] (the transposed
    weights: the backward then yields their gradient contiguous, with no transposing copy)."""
    return torch.baddbmm(b.unsqueeze(1), x, w)


def autocast_dtype(kind: str) -> torch.dtype | None:
    """The dtype autocast casts to on device type ``kind`` while it is on there, else None."""
    if hasattr(torch, "get_autocast_dtype"):  # torch >= 2.4
        return torch.get_autocast_dtype(kind) if torch.is_autocast_enabled(kind) else None
    if kind == "cpu":
        return torch.get_autocast_cpu_dtype() if torch.is_autocast_cpu_enabled() else None
    return torch.get_autocast_gpu_dtype() if kind == "cuda" and torch.is_autocast_enabled() else None


class AutocastCopy:
    """A stored layer input as the matmuls read it: inside an autocast region (``--precision
    bf16``) a copy of ``x`` in autocast's dtype, cast once and kept until ``x`` is written in place
    (its version counter moves, e.g. fresh negatives); outside one, ``x`` itself. Batches are
    then gathered from the copy: half the bytes, and no cast of every batch. A cast is elementwise,
    so the gathered rows equal autocast's cast of the float32 rows bit for bit."""

    def __init__(self) -> None:
        self.key: tuple | None = None
        self.copy: torch.Tensor | None = None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        dtype = autocast_dtype(x.device.type)
        if dtype is None:
            return x
        key = (dtype, x.data_ptr(), x._version)
        if key != self.key:
            self.copy, self.key = None, None  # free the old copy first
            self.copy, self.key = x.to(dtype), key
        return self.copy


@dataclass
class RowInput:
    """A layer's input as rows, already normalised: x [S, 2N, D], positives then negatives;
    ``norm``: the normalisation applied to the layer outputs that :meth:`frozen` passes on."""

    x: torch.Tensor
    norm: Callable[[torch.Tensor], torch.Tensor] = normalize
    #: x as the matmuls of :meth:`pre` read it (bfloat16 under autocast)
    matmul_x: AutocastCopy = field(default_factory=AutocastCopy, repr=False, compare=False)

    def pre(self, w: torch.Tensor, b: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """Pre-activation [S, 2B, out] of the positives idx [S, B] and their negatives: one
        gather, one (batched) matmul."""
        s, n2, d = self.x.shape
        offsets = torch.arange(s, device=idx.device).unsqueeze(1) * n2
        rows = torch.cat([idx, idx + n2 // 2], dim=1) + offsets
        return _linear(w, b, self.matmul_x(self.x).view(s * n2, d)[rows.view(-1)].view(s, -1, d))

    def frozen(self, w: torch.Tensor, b: torch.Tensor) -> RowInput:
        """The next layer's input: norm(relu(layer(x))) for all rows, chunk by chunk."""
        s, n2, _ = self.x.shape
        out = torch.empty(s, n2, w.shape[2], device=self.x.device, dtype=self.x.dtype)
        with torch.no_grad():
            for i in range(0, n2, CHUNK):
                out[:, i : i + CHUNK] = self.norm(_linear(w, b, self.x[:, i : i + CHUNK]).relu_())
        return RowInput(out, self.norm)


@dataclass
class FoldedInput:
    """Layer 1's input when every negative is its positive's image with another label: the
    folded images x0n [N, D] and scales [N] (``LabelEmbedding.fold``, shared by all seeds) plus
    the positive labels y [N] and each seed's negative labels y_neg [S, N]. A layer's
    pre-activation is one matmul over the B images of a batch plus a label-code matmul (K = C).
    ``norm``: the normalisation of layer 2's input (:meth:`frozen`); x0n and scales must come from
    ``fold`` with the same ``layer_norm``."""

    x0n: torch.Tensor
    scale: torch.Tensor
    y: torch.Tensor
    y_neg: torch.Tensor
    embedding: LabelEmbedding
    norm: Callable[[torch.Tensor], torch.Tensor] = normalize
    #: x0n as the matmuls of :meth:`pre` read it (bfloat16 under autocast)
    matmul_x0n: AutocastCopy = field(default_factory=AutocastCopy, repr=False, compare=False)

    def _codes(self, idx: torch.Tensor) -> torch.Tensor:
        """[S, 2B, C]: value/n at each sample's label (positives, then negatives), else 0."""
        labels = torch.cat([self.y[idx], self.y_neg.gather(1, idx)], dim=1)
        scale = self.scale[idx].repeat(1, 2)
        codes = torch.zeros(*labels.shape, self.embedding.num_classes, device=idx.device, dtype=scale.dtype)
        return codes.scatter_(2, labels.unsqueeze(2), scale.unsqueeze(2))

    def pre(self, w: torch.Tensor, b: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """(x0n W^T + b) for the B images, once for the positives and once for the negatives,
        plus codes [S, 2B, C] @ the label columns [S, C, out]. The two copies are a concatenation,
        not a ``repeat``: the same numbers, and their gradient is the sum of the two halves'
        gradients by one addition (repeat's backward reduces over a strided view, slow in bfloat16)."""
        s, bsz = idx.shape
        base = _linear(w, b, self.matmul_x0n(self.x0n)[idx.reshape(-1)].view(s, bsz, -1))
        return torch.baddbmm(torch.cat([base, base], dim=1), self._codes(idx), self._label_rows(w))

    def _label_rows(self, w: torch.Tensor) -> torch.Tensor:
        """[S, C, out]: the rows of the transposed weights w [S, in, out] that label pixels meet,
        summed over channels (``LabelEmbedding.label_columns`` of the weights, transposed). Sliced
        from w's rows directly, not through transposes: the same numbers, and their gradient
        lands in w's layout, so adding it to the image matmul's gradient is a contiguous sum."""
        rows = [w[:, off : off + self.embedding.num_classes] for off in self.embedding.offsets]
        return rows[0] if len(rows) == 1 else torch.stack(rows).sum(0)

    def image_matmul(self, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """(x0n W^T + b) for all N images, [S, N, out]: the label-independent part of layer 1."""
        s = w.shape[0]
        with torch.no_grad():
            return torch.cat(
                [_linear(w, b, self.x0n[i : i + CHUNK].expand(s, -1, -1)) for i in range(0, len(self.x0n), CHUNK)],
                dim=1,
            )

    def frozen(
        self, w: torch.Tensor, b: torch.Tensor, base: torch.Tensor | None = None, halves: str = "both"
    ) -> RowInput:
        """Layer 2's input, normalised layer-1 activity of the positives then the negatives
        (``halves`` "both"), or of one half ("positives", "negatives"), from the image matmul
        ``base`` (computed here unless given) plus each sample's label row, scaled: elementwise,
        no further matmul."""
        base = self.image_matmul(w, b) if base is None else base
        s, n, _ = base.shape
        labels = self._label_rows(w)
        halves = {
            "both": [self.y.expand(s, n), self.y_neg],
            "positives": [self.y.expand(s, n)],
            "negatives": [self.y_neg],
        }[halves]
        out = torch.empty(s, len(halves) * n, w.shape[2], device=base.device, dtype=base.dtype)
        seeds = torch.arange(s, device=base.device).unsqueeze(1)
        with torch.no_grad():
            for k, ys in enumerate(halves):
                for i in range(0, n, CHUNK):
                    cols = labels[seeds, ys[:, i : i + CHUNK]]  # [S, chunk, out]
                    pre = torch.addcmul(base[:, i : i + CHUNK], self.scale[i : i + CHUNK, None], cols)
                    out[:, k * n + i : k * n + i + cols.shape[1]] = self.norm(pre.relu_())
        return RowInput(out, self.norm)


def _same_images(pairs: list[tuple[torch.Tensor, torch.Tensor]], x: torch.Tensor) -> bool:
    return all(xn is x or (xn.shape == x.shape and torch.equal(xn, x)) for xn, _ in pairs)


# --- The stacked trainer ---


class StackedFF:
    """FF training of S networks of one configuration at once (S = 1 for a single seed).

    ``nets``: freshly built FFNets, one per seed (their initial weights are stacked here and the
    trained weights copied back by :meth:`export`); ``ctxs``: one TrainContext per seed.
    """

    def __init__(
        self, nets: list[FFNet], values: dict, negatives, ctxs: list[TrainContext], x: torch.Tensor, y: torch.Tensor
    ):
        self.nets, self.values, self.negatives, self.ctxs = nets, values, negatives, ctxs
        self.x, self.y, self.n = x, y, len(y)
        self.goodness, self.embedding = nets[0].goodness, nets[0].embedding
        self.num_layers = nets[0].num_layers
        self.layer_norm, self.norm = nets[0].layer_norm, nets[0].norm
        #: every layer's activation in training (relu, or the straight-through relu-st)
        self.act = ACTIVATIONS[values.get("activation", "relu")]
        #: the activation commutes with widening bfloat16 to float32 (max(x, 0): exact in any precision)
        self.act_exact = values.get("activation", "relu") in ("relu", "relu-st")
        #: label-free FF (``label=none``): positives are the raw images, no label anywhere
        self.label_free = nets[0].label_free
        self._positives: torch.Tensor | None = None  # norm(x), once (label-free)
        #: transposed weights [S, in, out] and biases [S, out] of every layer
        per_layer = list(zip(*[net.layers for net in nets]))  # [layer][seed] Linear
        self.w = [torch.nn.Parameter(torch.stack([m.weight.detach().T for m in ms])) for ms in per_layer]
        self.b = [torch.nn.Parameter(torch.stack([m.bias.detach() for m in ms])) for ms in per_layer]
        steps = values["epochs"] * -(-self.n // values["batch_size"])
        self.opts = [make_optimizer(values, [w, b], steps) for w, b in zip(self.w, self.b)]
        self._fold: tuple[torch.Tensor, torch.Tensor] | None = None  # LabelEmbedding.fold(x), once
        #: peer normalisation: its coefficient, and each layer's running mean activity [S, out]
        self.peer = values.get("peer_norm", 0.0)
        self.running = [torch.full_like(b.detach(), PEER_INIT, dtype=torch.float32) for b in self.b]
        #: each seed's goodness state of every layer ([layer][seed], None where it has none): the
        #: states live in the seeds' FFNets, and training updates them in place
        self.states = [[net.goodness_state(l) for net in nets] for l in range(self.num_layers)]
        self.stateful = any(st is not None for layer in self.states for st in layer)
        #: the goodness's layer loss is the default one (FF loss on its per-sample scores, no
        #: batch-wide score and no state), so scores can be taken over all seeds' rows at once;
        #: a batch-aware goodness (Goodness.batch_aware) is trained seed by seed
        self.scores_only = type(self.goodness).layer_loss is Goodness.layer_loss and not self.goodness.batch_aware
        self.head = self._head
        if ctxs[0].compile and not self.goodness.batch_aware:  # states are updated in place: not compiled
            self.head = torch.compile(self._head, dynamic=False)

    # -- pieces ----------------------------------------------------------------------------
    def export(self) -> None:
        """Copy the stacked weights into the per-seed FFNets."""
        with torch.no_grad():
            for s, net in enumerate(self.nets):
                for l, layer in enumerate(net.layers):
                    layer.weight.copy_(self.w[l][s].T)
                    layer.bias.copy_(self.b[l][s])

    def _batches(self):
        """[S, B] index batches, each seed shuffled by its own generator."""
        per_seed = [batches(self.n, self.values["batch_size"], c.generator, c.device) for c in self.ctxs]
        return [torch.stack(b) for b in zip(*per_seed)]

    def _draw_negatives(self, upto: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Each seed's (x_neg, y_neg); hard and model-aware negatives read that seed's layers 1..upto."""
        if self.negatives.needs_scores or getattr(self.negatives, "needs_model", False):
            self.export()
        return [
            draw_negative_samples(net, self.negatives, self.x, self.y, c, upto) for net, c in zip(self.nets, self.ctxs)
        ]

    def _first_input(self, pairs) -> FoldedInput | RowInput:
        """Layer 1's input for these negatives: folded when they are the positives' images (with
        labels); label-free: the normalised raw images, then the normalised negatives."""
        if self.label_free:
            if self._positives is None:
                self._positives = self.norm(self.x)
            return RowInput(torch.stack([torch.cat([self._positives, self.norm(xn)]) for xn, _ in pairs]), self.norm)
        if _same_images(pairs, self.x):
            if self._fold is None:
                self._fold = self.embedding.fold(self.x, self.layer_norm)
            y_neg = torch.stack([yn for _, yn in pairs])
            return FoldedInput(*self._fold, self.y, y_neg, self.embedding, self.norm)
        pos, norm = self.norm(self.embedding(self.x, self.y)), self.norm
        return RowInput(torch.stack([torch.cat([pos, norm(self.embedding(xn, yn))]) for xn, yn in pairs]), norm)

    def _head(
        self, pre: torch.Tensor, bsz: int, running: torch.Tensor | None = None, states: list | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(activity [S, 2B, D], per-seed losses [S], updated running means or None) from
        pre-activations; the goodness's own layer loss of each seed on its positives (first B
        rows) and negatives, plus ``peer_norm`` times the peer-normalisation loss when
        ``running`` (each seed's running mean activity [S, D]) is given. ``states``: each seed's
        goodness state of this layer (or None), passed to the goodness's layer loss. ``pre`` may
        be bfloat16 (autocast): relu and relu-st then run on it and their output is widened to
        float32, which equals the activation of the widened ``pre`` bit for bit, forward and
        backward, with half the memory traffic; any other activation runs on the widened ``pre``."""
        h = self.act(pre).float() if self.act_exact else self.act(pre.float())
        s, rows, width = h.shape
        if self.scores_only:  # one score over all rows: no per-seed slices of h in the backward
            g = self.goodness.score(h.view(s * rows, width)).view(s, rows)
            losses = [self.goodness.loss_from_scores(gs[:bsz], gs[bsz:], width) for gs in g.unbind(0)]
        else:  # a goodness with its own layer loss: split/unbind, whose backward concatenates
            pos, neg = h.split(bsz, dim=1)
            states = states or [None] * s
            losses = [
                self.goodness.layer_loss(hp, hn) if st is None else self.goodness.layer_loss(hp, hn, state=st)
                for hp, hn, st in zip(pos.unbind(0), neg.unbind(0), states)
            ]
        losses = torch.stack(losses)
        if running is None:
            return h, losses, None
        peer, running = peer_norm_loss(running, h[:, :bsz])
        return h, losses + self.peer * peer, running

    def _train_step(self, l: int, inp, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimizer step of layer l on batch idx; returns (activity, per-seed losses), detached."""
        running = self.running[l] if self.peer else None
        with self.ctxs[0].autocast():  # the matmuls; activity, goodness and loss in float32 (no-op in fp32)
            pre = inp.pre(self.w[l], self.b[l], idx)
        states = self.states[l] if self.stateful else None
        h, losses, running = self.head(pre, idx.shape[1], running, states)  # h and losses in float32
        if running is not None:
            self.running[l] = running
        optimizer_step(*self.opts[l], losses.sum())
        return h.detach(), losses.detach()

    def _progress(self, done: int, total: int, what: str) -> None:
        for c in self.ctxs:
            c.progress(done, total, what)

    def _log(self, what: str, first: torch.Tensor, last: torch.Tensor) -> None:
        for s, c in enumerate(self.ctxs):
            c.log(f"ff {what}: loss {first[s].item():.4f} -> {last[s].item():.4f}")

    # -- schedules --------------------------------------------------------------------------
    def greedy(self) -> None:
        epochs, n_layers = self.values["epochs"], self.num_layers
        resample = self.negatives.resamples
        inp: FoldedInput | RowInput | None = None
        image_matmul = None  # layer 1's label-independent matmul, kept when negatives are resampled
        for l in range(n_layers):
            losses = []
            for epoch in range(epochs):
                upto = negatives_due("greedy", resample, l, epoch, n_layers)
                if upto is not None and l == 0:
                    inp = self._first_input(self._draw_negatives(upto))
                elif upto is not None:
                    inp = self._resampled_input(l, inp, image_matmul)
                total = torch.zeros(len(self.ctxs), device=self.x.device)
                for idx in self._batches():
                    total += self._train_step(l, inp, idx)[1] * idx.shape[1]
                losses.append(total / self.n)
                self.ctxs[0].check_loss(losses[-1], f"layer {l + 1}, epoch {epoch + 1}")
                self._progress(l * epochs + epoch + 1, n_layers * epochs, f"layer {l + 1}/{n_layers}")
            self._log(f"layer {l + 1}", losses[0], losses[-1])
            if l == n_layers - 1:
                break
            if not resample:
                inp = inp.frozen(self.w[l], self.b[l])
                continue
            # resampled: only the positives go through the layer now frozen; the next layer's
            # negatives are drawn (and passed through the frozen layers) at each of its epochs
            if isinstance(inp, FoldedInput):
                image_matmul = inp.image_matmul(self.w[0], self.b[0])
                pos = inp.frozen(self.w[0], self.b[0], image_matmul, halves="positives")
            else:
                pos = RowInput(inp.x[:, : self.n], self.norm).frozen(self.w[l], self.b[l])
            inp = RowInput(torch.cat([pos.x, torch.empty_like(pos.x)], dim=1), self.norm)

    def _resampled_input(self, l: int, inp: RowInput, image_matmul: torch.Tensor | None) -> RowInput:
        """Layer l's (>= 2) input with fresh negatives: the cached positives' half is kept; only
        the negatives go through layer 1 (just its label term when folded, from the cached image
        matmul) and the frozen layers 2..l-1."""
        fresh = self._first_input(self._draw_negatives(upto=l + 1))
        if isinstance(fresh, FoldedInput):
            rows = fresh.frozen(self.w[0], self.b[0], image_matmul, halves="negatives")
        else:
            rows = RowInput(fresh.x[:, self.n :], self.norm).frozen(self.w[0], self.b[0])
        for k in range(1, l):
            rows = rows.frozen(self.w[k], self.b[k])
        inp.x[:, self.n :] = rows.x
        return inp

    def simultaneous(self) -> None:
        epochs, n_layers = self.values["epochs"], self.num_layers
        first, losses = None, []
        for epoch in range(epochs):
            upto = negatives_due("simultaneous", self.negatives.resamples, 0, epoch, n_layers)
            if upto is not None:
                first = self._first_input(self._draw_negatives(upto))
            total = torch.zeros(len(self.ctxs), device=self.x.device)
            for idx in self._batches():
                h, loss = self._train_step(0, first, idx)
                total += loss * idx.shape[1]
                for l in range(1, n_layers):
                    h, loss = self._train_step(l, _Detached(self.norm(h)), idx)
                    total += loss * idx.shape[1]
            losses.append(total / (self.n * n_layers))
            self.ctxs[0].check_loss(losses[-1], f"epoch {epoch + 1}")
            self._progress(epoch + 1, epochs, "all layers")
        self._log("(simultaneous) mean layer", losses[0], losses[-1])


@dataclass
class _Detached:
    """The previous layer's normalised activity on the current batch as the next layer's input
    (simultaneous schedule): the batch rows are already selected."""

    x: torch.Tensor

    def pre(self, w: torch.Tensor, b: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        return _linear(w, b, self.x)


@ffbench.hookimpl
def ffbench_register_rules(register):
    register(FFRule)
