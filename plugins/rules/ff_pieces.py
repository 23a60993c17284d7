"""The Forward-Forward mechanics of the built-in ``ff``, ``bp-ff`` and ``conv-ff`` rules, public for
rule authors (``from ffbench_plugins.rules.ff_pieces import ...``): a plugin rule built on them
measures what ``ff`` measures, and differs only where it means to (docs/plugins.md, "A rule with
its own loss"). Every piece is plain torch on flattened images ``[N, D]``:

- **Label embedding** (:class:`LabelEmbedding`): the first ``C`` pixels of the top row of every
  channel hold the label, one-hot at the maximum of the normalised training data
  (:meth:`LabelEmbedding.for_data`); :meth:`~LabelEmbedding.neutral` shows no label (probes).
- **Normalisation of every layer's input** (:data:`LAYER_NORMS`): each layer, the first
  included, reads ``x / ||x||_2`` of its input per sample (``layer_norm=rms``: ``x / RMS(x)``),
  so a layer cannot pass its goodness on to the next one through the activity's length.
- **Negatives** (:func:`negatives_due`, :func:`sample_negatives`): when the FF rules draw them,
  and how the run's generator is called (with label scores for a generator that needs them).
- **Per-label inference** (:func:`per_label_goodness`, :func:`combine_label_goodness`): the
  goodness of every layer for every candidate label, combined over layers.
- The **parameters** the FF rules share (:data:`SCHEDULE_PARAM`, :data:`INFERENCE_PARAMS`,
  :data:`LAYER_NORM_PARAM`, :data:`ACTIVATION_PARAM`), the **compatibility** check they share
  (:func:`components_fit`; :func:`with_ff_advice`: where ff trains what another rule refuses) and
  the goodness study's **peer normalisation** (:func:`peer_norm_loss`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ffbench.component import Param
from ffbench.contracts import DatasetBundle, Goodness, NegativeGenerator, TrainContext
from ffbench_plugins.rules.training import forward_in_chunks

EPS = 1e-8

# --- Normalisation and activation of every layer ---


def normalize(x: torch.Tensor) -> torch.Tensor:
    """x / ||x||_2 per sample (row)."""
    return x / (torch.linalg.vector_norm(x, dim=-1, keepdim=True) + EPS)


def rms_normalize(x: torch.Tensor) -> torch.Tensor:
    """x / (RMS(x) + EPS) per sample (row), RMS(x) = (mean_i x_i^2)^0.5 = ||x||_2 / sqrt(D): the
    "In Search of Goodness" study's ``_layer_norm`` (eps outside the square root, as there). Every
    normalised row has RMS 1, i.e. squared norm D, whatever the layer's width."""
    return x / (x.square().mean(dim=-1, keepdim=True).sqrt() + EPS)


#: ``layer_norm`` value -> the normalisation of every layer's input
LAYER_NORMS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"l2": normalize, "rms": rms_normalize}

LAYER_NORM_PARAM = Param(
    "layer_norm",
    str,
    "l2",
    "normalisation of every layer's input, per sample: l2 (x / ||x||_2, Hinton) or rms "
    "(x / RMS(x) = sqrt(D) x / ||x||_2, the goodness study)",
    choices=tuple(LAYER_NORMS),
    omit_at_default=True,  # added after boards were published: default configurations keep their ids
)


def layer_norm_fn(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """The normalisation called ``name`` ('l2' or 'rms'), or a ValueError naming the valid ones."""
    try:
        return LAYER_NORMS[name]
    except KeyError:
        raise ValueError(f"unknown layer_norm {name!r}: valid values are {', '.join(LAYER_NORMS)}") from None


class StraightThroughReLU(torch.autograd.Function):
    """ReLU forward, identity backward: y = max(x, 0), dL/dx = dL/dy for every x, negative ones
    included (the gradient passes "straight through" where the ReLU is off). This is
    ``ReLU_full_grad`` of Loewe's FF code, which the goodness study trains with
    (github.com/aryashah2k/In-Search-of-Goodness ``src/ff_model.py``, commit 28b310b0: forward
    ``input.clamp(min=0)``, backward ``grad_output.clone()``). Only the gradient differs from
    ReLU's; the activity (and every number read from it) is the post-ReLU activity."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad


def relu_st(x: torch.Tensor) -> torch.Tensor:
    """The straight-through ReLU (:class:`StraightThroughReLU`)."""
    return StraightThroughReLU.apply(x)


#: ``activation`` value -> the activation of every layer (same forward; ``relu-st``: identity backward)
ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"relu": F.relu, "relu-st": relu_st}

ACTIVATION_PARAM = Param(
    "activation",
    str,
    "relu",
    "relu, or relu-st: ReLU forward whose backward passes the gradient unchanged everywhere "
    "(straight-through, the goodness study's ReLU_full_grad); the activity is post-ReLU either way",
    choices=tuple(ACTIVATIONS),
    omit_at_default=True,  # added after boards were published: default configurations keep their ids
)

# --- The label embedding ---

#: the neutral labels a probe may ask for (``TrainedModel.neutral_representations``)
NEUTRAL_LABELS = ("uniform", "zero")


class LabelEmbedding:
    """Zero the first ``num_classes`` values of the top row in every channel, then set the value at
    index ``label`` to ``value`` (the maximum of the normalised training data)."""

    def __init__(self, shape: tuple[int, int, int], num_classes: int, value: float):
        channels, height, width = shape
        if num_classes > width:
            raise ValueError(f"cannot embed {num_classes} labels in a top row of {width} pixels")
        self.offsets = [c * height * width for c in range(channels)]
        self.num_classes, self.value = num_classes, float(value)

    @classmethod
    def for_data(cls, data: DatasetBundle) -> LabelEmbedding:
        """The embedding the FF rules use on ``data``: its image shape and classes, and the value
        of the maximum of its normalised training images (a label as bright as the brightest pixel)."""
        return cls(data.shape, data.num_classes, float(data.train.x.max()))

    def __call__(self, x_flat: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        out = x_flat.clone()
        rows = torch.arange(out.shape[0], device=out.device)
        for off in self.offsets:
            out[:, off : off + self.num_classes] = 0.0
            out[rows, off + labels] = self.value
        return out

    def all_labels(self, x_flat: torch.Tensor, num_classes: int) -> torch.Tensor:
        """[C * N, D]: every sample embedded with label 0, then every sample with label 1, ..."""
        n = x_flat.shape[0]
        labels = torch.arange(num_classes, device=x_flat.device).repeat_interleave(n)
        return self(x_flat.repeat(num_classes, 1), labels)

    def neutral(self, x_flat: torch.Tensor, neutral: str = "uniform") -> torch.Tensor:
        """The images with no label shown: every label pixel of every channel at value / C
        (``uniform``, Hinton 2022's neutral label: the one-hot label's mass spread evenly over the
        C classes) or at 0 (``zero``)."""
        if neutral not in NEUTRAL_LABELS:
            raise ValueError(f"unknown neutral label {neutral!r}: valid values are {', '.join(NEUTRAL_LABELS)}")
        value = self.value / self.num_classes if neutral == "uniform" else 0.0
        out = x_flat.clone()
        for off in self.offsets:
            out[:, off : off + self.num_classes] = value
        return out

    def fold(self, x_flat: torch.Tensor, layer_norm: str = "l2") -> tuple[torch.Tensor, torch.Tensor]:
        """(x0 / n [N, D], value / n [N]) with x0 the images with their label pixels zeroed and
        n = (||x0||^2 + channels * value^2)^0.5 + EPS, the norm the embedded image has for *any*
        label (``layer_norm`` 'rms': n = ((||x0||^2 + channels * value^2) / D)^0.5 + EPS, its RMS).
        Then norm(embed(x, c)) = x0 / n + (value / n) * e_c (e_c: label c's pixel in every
        channel), so a layer on the normalised embedded input is
        (x0 / n) W^T + (value / n) * label_columns(W)[:, c] + b for every label c at once: one
        matmul over the images serves the positive, the negative and every candidate label."""
        layer_norm_fn(layer_norm)  # a clear error for an unknown name
        x0 = x_flat.clone()
        for off in self.offsets:
            x0[:, off : off + self.num_classes] = 0.0
        sq = torch.linalg.vector_norm(x0, dim=-1).square() + len(self.offsets) * self.value**2
        if layer_norm == "rms":
            sq = sq / x_flat.shape[-1]
        n = sq.sqrt() + EPS
        return x0.div_(n.unsqueeze(-1)), self.value / n

    def label_columns(self, weight: torch.Tensor) -> torch.Tensor:
        """[..., D_out, C]: the weight columns that label pixels meet, summed over channels."""
        cols = [weight[..., off : off + self.num_classes] for off in self.offsets]
        return cols[0] if len(cols) == 1 else torch.stack(cols).sum(0)


# --- Negatives: when and how they are drawn ---

#: FF training schedule, shared by the FF-style rules (ff, conv-ff)
SCHEDULE_PARAM = Param(
    "schedule",
    str,
    "greedy",
    "greedy (layer by layer, Tosato) or simultaneous (Hinton)",
    choices=("greedy", "simultaneous"),
)


def negatives_due(schedule: str, resamples: bool, layer: int, epoch: int, layers: int) -> int | None:
    """Whether the FF rules draw negatives for the whole training set at the start of ``epoch``
    (0-based) of ``layer`` (0-based; with the simultaneous schedule every epoch trains all
    ``layers`` and ``layer`` is 0), and if so, how many layers (1..upto) the draw may read: None
    when no draw is due, else ``upto``.

    Drawn once, before the first epoch, unless the generator ``resamples`` (``NegativeGenerator.
    resamples``): then afresh at the start of every epoch (greedy: of every layer's every epoch).
    A draw reads the layers trained so far: greedy, layers 1..layer+1 (the layer in training
    included); simultaneous, all of them."""
    if not (resamples or (layer == 0 and epoch == 0)):
        return None
    return layers if schedule == "simultaneous" else layer + 1


def sample_negatives(
    negatives: NegativeGenerator,
    x: torch.Tensor,
    y: torch.Tensor,
    ctx: TrainContext,
    label_scores: Callable[[torch.Tensor], torch.Tensor] | None = None,
    model: Callable[..., torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(x_neg, y_neg) from ``negatives.generate`` for the images x [N, D] (flattened) with labels y,
    drawn from ``ctx.generator`` with labels from ``ctx.allowed_labels``; labels are not yet
    embedded (y_neg is None for label-free negatives).

    A generator with ``needs_scores`` (hard negatives) is given ``scores`` [N, C] =
    ``label_scores(x)`` computed in chunks of 2 048 rows without gradients; the FF rules pass the
    current network's summed per-layer log-softmax over labels of the goodness of the layers
    trained so far (``LabelScores.label_log_probs``). A generator with ``needs_model`` is given
    ``model`` (``model(x, labels) -> [N]``, the network's goodness summed over those layers)."""
    if (negatives.needs_scores and label_scores is None) or (negatives.needs_model and model is None):
        raise ValueError(f"negatives '{negatives.name}' need the model's label scores or the model, not given")
    scores = forward_in_chunks(label_scores, x, chunk=2048) if negatives.needs_scores else None
    extra = {"model": model} if negatives.needs_model else {}  # passed only to a generator that takes it
    return negatives.generate(x, y, allowed=ctx.allowed_labels, generator=ctx.generator, scores=scores, **extra)


# --- Per-label inference ---

#: how per-layer label goodness becomes a prediction (every FF-style rule)
INFERENCE_PARAMS = (
    Param(
        "inference",
        str,
        "softmax",
        "per-layer label scores: softmax over labels, or raw goodness",
        choices=("softmax", "raw"),
    ),
    Param("skip_first", bool, False, "leave layer 1 out of inference (Hinton)"),
)


def per_label_goodness(
    x_flat: torch.Tensor,
    embedding: LabelEmbedding,
    forward_all: Callable[[torch.Tensor], list[torch.Tensor]],
    score: Callable[[torch.Tensor], torch.Tensor],
) -> torch.Tensor:
    """The goodness of every layer for every candidate label, [N, C, L]: each image embedded with
    each label (:meth:`LabelEmbedding.all_labels`, one batch of C * N rows), ``forward_all`` (the
    embedded images -> every layer's activity, each layer normalising its input), ``score`` of each
    layer's activity (``Goodness.score``, per sample). ``FFNet`` computes the same numbers with
    layer 1 folded into one matmul over the images."""
    n, classes = x_flat.shape[0], embedding.num_classes
    hs = forward_all(embedding.all_labels(x_flat, classes))
    g = torch.stack([score(h) for h in hs], dim=-1)  # [C * N, L]
    return g.reshape(classes, n, -1).transpose(0, 1)


def combine_label_goodness(g: torch.Tensor, inference: str = "softmax", skip_first: bool = False) -> torch.Tensor:
    """Per-label scores [N, C] from per-layer goodness [N, C, L]; the prediction is their argmax.
    ``softmax`` (Tosato): softmax over the labels within each layer, summed over layers; ``raw``:
    goodness summed over layers. ``skip_first`` (Hinton) leaves layer 1 out (when L > 1)."""
    if skip_first and g.shape[-1] > 1:
        g = g[..., 1:]
    if inference == "softmax":
        return torch.softmax(g, dim=1).sum(dim=-1)
    return g.sum(dim=-1)


class LabelScores:
    """Inference from per-label goodness, shared by the FF-style networks (FFNet, ConvFFNet):
    a subclass provides ``label_goodness(x, upto) -> [N, C, L]`` and the attributes
    ``skip_first`` and ``inference``."""

    skip_first: bool
    inference: str

    def combine(self, g: torch.Tensor) -> torch.Tensor:
        """Per-label scores [N, C] from per-layer goodness [N, C, L] (:func:`combine_label_goodness`)."""
        return combine_label_goodness(g, self.inference, self.skip_first)

    def label_log_probs(self, x: torch.Tensor, upto: int | None = None) -> torch.Tensor:
        """Summed per-layer log-softmax over labels [N, C]: what hard negatives sample from;
        ``x`` may be flattened images."""
        return torch.log_softmax(self.label_goodness(x, upto), dim=1).sum(dim=-1)


# --- Compatibility and peer normalisation ---


def components_fit(
    rule_name: str, goodness: Goodness | None, negatives: NegativeGenerator | None, *, batch_aware_ok: bool = True
) -> tuple[bool, str]:
    """The part of an FF-family rule's :meth:`~ffbench.contracts.LearningRule.accepts` they all
    share: a goodness and a negative generator are given, they pair, and (``batch_aware_ok``
    False: rules that pass no goodness state) the goodness is not batch-aware."""
    if goodness is None or negatives is None:
        return False, (
            f"the {rule_name} rule needs a goodness function and a negative generator "
            "('none' for goodness functions trained without negatives)"
        )
    if not batch_aware_ok and goodness.batch_aware:
        return False, (
            f"{rule_name}: goodness '{goodness.name}' scores the whole batch or keeps per-layer state "
            f"(batch_aware), which {rule_name} does not pass it: use the ff rule, or a per-sample goodness (e.g. l2)"
        )
    return goodness.pairs_with(negatives)


def with_ff_advice(verdict: tuple[bool, str], negatives: NegativeGenerator | None) -> tuple[bool, str]:
    """``verdict``, the default :meth:`~ffbench.contracts.LearningRule.accepts` of a rule that
    embeds labels and passes no model, with the rule that trains what it refused: label-free
    negatives, ``ff[label=none]``; model-aware ones (``needs_model``), ``ff``."""
    ok, reason = verdict
    if ok or negatives is None:
        return verdict
    if negatives.label_free:
        return False, f"{reason}; use ff[label=none] (label-free FF)"
    if negatives.needs_model:
        return False, f"{reason}; use the ff rule, which passes its model"
    return verdict


#: momentum of the running mean activity that peer normalisation reads (Hinton's FF code, the study)
PEER_MOMENTUM = 0.9
#: initial running mean activity of every unit (Hinton's FF code, the study: 0.5)
PEER_INIT = 0.5


def peer_norm_loss(
    running: torch.Tensor, h_pos: torch.Tensor, momentum: float = PEER_MOMENTUM
) -> tuple[torch.Tensor, torch.Tensor]:
    """Peer normalisation (Hinton 2022; the goodness study's ``_calc_peer_normalization_loss``,
    github.com/aryashah2k/In-Search-of-Goodness ``src/ff_model.py``, commit 28b310b0): push every
    unit's running mean activity towards the layer's mean of them, so that no unit is always on or
    always off.

    ``running`` [..., D]: each unit's running mean activity before this batch (a constant);
    ``h_pos`` [..., B, D]: the layer's activity on the batch's *positives* only. With
    m = mean_b h_pos[b] (one value per unit) and r = momentum * running + (1 - momentum) * m,
    the loss is mean_j (mean_k r_k - r_j)^2 (a mean over the D units, not a sum), differentiated
    through m (this batch) only. Returns (loss [...], r detached: the next batch's ``running``).
    The rule adds ``peer_norm`` * this loss to each layer's loss."""
    r = running * momentum + h_pos.float().mean(dim=-2) * (1.0 - momentum)
    loss = (r.mean(dim=-1, keepdim=True) - r).square().mean(dim=-1)
    return loss, r.detach()
