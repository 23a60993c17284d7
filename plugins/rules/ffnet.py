"""The FF network of the ``ff`` and ``bp-ff`` rules (docs/science.md, "Models"): :class:`FFNet`,
built by :func:`build_ffnet`, with the label-free readout (:class:`LinearReadout`) and what a
negative generator is given of it (:func:`draw_negative_samples`, :class:`ModelGoodness`). The FF
mechanics it is made of (label embedding, normalisation, per-label inference, negatives) are the
public pieces of :mod:`ffbench_plugins.rules.ff_pieces`.

Each layer: x -> x / ||x||_2 (per sample; ``layer_norm``: or x / RMS(x)) -> Linear(bias) -> ReLU.
With a goodness that needs negatives, labels are embedded in the first pixels of the image and
inference scores every candidate label in one batched pass. With a goodness trained without
negatives (e.g. dimensionality compression) no label is embedded, the layer-1 input is the
goodness's ``augment`` (e.g. noisy copies), and inference is the goodness's own readout. A
goodness with per-layer state (``Goodness.init_state``) has one state module per layer inside the
FFNet (``goodness_states``), passed to its ``score`` and ``layer_loss``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ffbench.contracts import DatasetBundle, Goodness, NegativeGenerator, TrainContext, TrainedModel
from ffbench_plugins.rules.ff_pieces import (
    ACTIVATIONS,
    LAYER_NORMS,
    LabelEmbedding,
    LabelScores,
    layer_norm_fn,
    rms_normalize,
    sample_negatives,
)
from ffbench_plugins.rules.mlp import hidden_dims, seeded_uniform_


class FFNet(LabelScores, nn.Module, TrainedModel):
    """An MLP of FF layers plus goodness-per-label inference (``inference``, ``skip_first``:
    ``ff_pieces.combine_label_goodness``). ``layer_norm``: 'l2' or 'rms' (``LAYER_NORMS``);
    ``activation``: 'relu' or 'relu-st' (``ACTIVATIONS``: the same forward, so only the gradient
    of a training through :meth:`layer_forward` depends on it). Without an embedding the network
    reads the image alone, and inference is ``readout``: the goodness's (trained without negatives,
    on its ``augment``-ed input) or, for *label-free FF* (:attr:`label_free`), a
    :class:`LinearReadout` on the clean image's activity."""

    def __init__(
        self,
        dims: list[int],
        embedding: LabelEmbedding | None,
        goodness: Goodness,
        num_classes: int,
        inference: str = "softmax",
        skip_first: bool = False,
        layer_norm: str = "l2",
        activation: str = "relu",
    ):
        super().__init__()
        layer_norm_fn(layer_norm)  # a clear error for an unknown name
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}: valid values are {', '.join(ACTIVATIONS)}")
        self.layer_norm, self.activation = layer_norm, activation
        self.layers = nn.ModuleList(nn.Linear(dims[i], dims[i + 1]) for i in range(len(dims) - 1))
        self.embedding, self.goodness = embedding, goodness
        self.num_classes, self.inference, self.skip_first = num_classes, inference, skip_first
        #: the goodness's per-layer states (``Goodness.init_state``), keyed by the 0-based layer
        #: index as text; empty for a goodness without state. Inside the model, so they move with
        #: ``.to(device)`` and are saved and loaded with it.
        states = ((str(l), goodness.init_state(l, dims[l + 1])) for l in range(len(self.layers)))
        self.goodness_states = nn.ModuleDict({k: st for k, st in states if st is not None})
        #: set by the rule for goodness functions trained without negatives (no label embedding)
        self.readout = None

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    @property
    def norm(self) -> Callable[[torch.Tensor], torch.Tensor]:
        """The normalisation applied to every layer's input (``layer_norm``)."""
        return LAYER_NORMS[self.layer_norm]

    @property
    def act(self) -> Callable[[torch.Tensor], torch.Tensor]:
        """Every layer's activation (``activation``; a network saved before it existed: relu)."""
        return ACTIVATIONS[getattr(self, "activation", "relu")]

    @property
    def label_free(self) -> bool:
        """Label-free FF: a goodness trained with negatives, and no label embedded (``ff[label=none]``)."""
        return self.embedding is None and self.goodness.needs_negatives

    @property
    def reads_label(self) -> bool:  # type: ignore[override]
        """Whether :meth:`representations` read y: exactly when a label is embedded."""
        return self.embedding is not None

    def goodness_state(self, index: int) -> nn.Module | None:
        """The goodness's state of layer ``index`` (0-based), or None when it has none."""
        states = getattr(self, "goodness_states", None)
        return None if states is None else states._modules.get(str(index))

    def goodness_score(self, index: int, h: torch.Tensor) -> torch.Tensor:
        """The goodness of layer ``index``'s activity h [N, D], per sample: ``goodness.score``,
        with the layer's state when the goodness has one."""
        state = self.goodness_state(index)
        return self.goodness.score(h) if state is None else self.goodness.score(h, state)

    def goodness_loss(self, index: int, h_pos: torch.Tensor, h_neg: torch.Tensor | None) -> torch.Tensor:
        """The goodness's training loss of layer ``index`` on a batch (it may update the layer's
        state), with the state passed only when the goodness has one."""
        state = self.goodness_state(index)
        if state is None:
            return self.goodness.layer_loss(h_pos, h_neg)
        return self.goodness.layer_loss(h_pos, h_neg, state=state)

    def layer_forward(self, index: int, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.layers[index](self.norm(x)))

    def forward_all(self, x: torch.Tensor, upto: int | None = None, start: int = 0) -> list[torch.Tensor]:
        """Activity of layers start+1..upto (all by default) for inputs to layer start+1
        (already-embedded images when start = 0)."""
        hs = []
        for i in range(start, self.num_layers if upto is None else upto):
            x = self.layer_forward(i, x)
            hs.append(x)
        return hs

    # -- inference ----------------------------------------------------------------------
    def first_layer_all_labels(self, flat: torch.Tensor) -> torch.Tensor:
        """Layer-1 activity for every candidate label, [C * N, D_1] (label-major, as
        ``LabelEmbedding.all_labels``), from one matmul over the N images (``LabelEmbedding.fold``)."""
        x0n, scale = self.embedding.fold(flat, self.layer_norm)
        layer = self.layers[0]
        base = F.linear(x0n, layer.weight, layer.bias)  # [N, D_1]
        labels = self.embedding.label_columns(layer.weight).T  # [C, D_1]
        h = torch.addcmul(base.unsqueeze(0), scale[None, :, None], labels.unsqueeze(1)).relu_()
        return h.reshape(-1, h.shape[-1])

    def label_goodness(self, x: torch.Tensor, upto: int | None = None) -> torch.Tensor:
        """Goodness of every candidate label at every layer: [N, C, L], all labels in one
        batched pass (layer 1 from one matmul over the images)."""
        flat = x.reshape(x.shape[0], -1)
        h1 = self.first_layer_all_labels(flat)
        hs = [h1] + self.forward_all(h1, upto, start=1)
        g = torch.stack([self.goodness_score(l, h) for l, h in enumerate(hs)], dim=-1)  # [C*N, L]
        return g.reshape(self.num_classes, flat.shape[0], -1).transpose(0, 1)

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        if self.embedding is None:  # label-free FF: the clean image; self-supervised goodness: its augment
            flat = x.reshape(x.shape[0], -1)
            inp = flat if self.label_free else self.goodness.augment(flat)
            return self.readout.predict(self.forward_all(inp), flat.shape[0])
        return self.combine(self.label_goodness(x)).argmax(dim=1)

    @torch.no_grad()
    def representations(self, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
        """Activity with the true label embedded; without an embedding (self-supervised goodness,
        label-free FF), activity on the clean image (no augmentation noise)."""
        flat = x.reshape(x.shape[0], -1)
        return self.forward_all(flat if self.embedding is None else self.embedding(flat, y))

    @torch.no_grad()
    def neutral_representations(self, x: torch.Tensor, neutral: str = "uniform") -> list[torch.Tensor]:
        """Activity with a neutral label (``LabelEmbedding.neutral``); without an embedding, the
        activity on the clean image (as :meth:`representations`)."""
        flat = x.reshape(x.shape[0], -1)
        return self.forward_all(flat if self.embedding is None else self.embedding.neutral(flat, neutral))

    def weights(self) -> list[torch.Tensor]:
        return [layer.weight.detach() for layer in self.layers]


def build_ffnet(
    values: dict,
    data: DatasetBundle,
    goodness: Goodness,
    device: torch.device,
    generator: torch.Generator | None = None,
) -> FFNet:
    """An FFNet sized by the rule's ``layers``/``width``, embedding labels when the goodness needs
    negatives (value: the maximum of the normalised training data) unless ``label`` is 'none'
    (label-free FF). With ``generator`` (on ``device``) the weights and biases are drawn from it
    (``mlp.seeded_uniform_``): a seed's initialisation then depends on its own generator only,
    whether it is trained alone or stacked with other seeds. Without it, torch's default
    initialisation from the global generator (for tests that build a throwaway net)."""
    dims = hidden_dims(values, data)
    embedded = goodness.needs_negatives and values.get("label", "embed") == "embed"
    embedding = LabelEmbedding.for_data(data) if embedded else None
    # rules without the layer_norm / activation parameters (and hand-written value dicts) get l2 / relu
    layer_norm, activation = values.get("layer_norm", "l2"), values.get("activation", "relu")
    net = FFNet(
        dims, embedding, goodness, data.num_classes, values["inference"], values["skip_first"], layer_norm, activation
    ).to(device)
    if generator is not None:
        seeded_uniform_(net.layers, generator)
    return net


# --- Label-free FF: the linear readout ---

#: the label-free readout's training (full batch, Adam): epochs and learning rate, the
#: negatives study's linear probe (``train_linear_probe`` of its complete_strategy_comparison.py)
READOUT_EPOCHS = 100
READOUT_LR = 0.01


class LinearReadout(nn.Module):
    """The prediction of label-free FF (``ff[label=none]``): argmax of W z + b (softmax over the
    classes in training), z = the concatenation over the read layers l of h_l / (RMS(h_l) + EPS)
    (``rms_normalize``, per sample), h_l the post-ReLU activity of layer l for the image alone.
    The RMS normalisation is the goodness study's classifier input (its ``_layer_norm``), whatever
    the network's ``layer_norm``: every layer's features then have RMS 1, whatever its width (the
    l2-normalised features, 1/sqrt(D) as large, leave 100 Adam steps far from a fit). ``layers``:
    the 0-based layers read (all; without layer 1 when the rule's ``skip_first`` is set)."""

    def __init__(self, in_features: int, num_classes: int, layers: list[int]):
        super().__init__()
        self.linear = nn.Linear(in_features, num_classes)
        self.read = list(layers)

    def features(self, hs: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat([rms_normalize(hs[l].float()) for l in self.read], dim=1)

    def predict(self, hs: list[torch.Tensor], n: int) -> torch.Tensor:
        """Labels [n] from the layers' activity ``hs`` (each [n, D_l])."""
        return self.linear(self.features(hs)).argmax(dim=1)


def fit_linear_readout(
    net: FFNet,
    x: torch.Tensor,
    y: torch.Tensor,
    generator: torch.Generator,
    skip_first: bool = False,
    log: Callable[[str], None] | None = None,
) -> LinearReadout:
    """Train the :class:`LinearReadout` of a label-free FF network after FF training, on the frozen
    network's activity for the training images x [N, D] (flattened) with labels y [N]:

    - initial W, b drawn from ``generator`` (nn.Linear's distribution U(-1/sqrt(F), 1/sqrt(F)),
      F = the number of features), so the readout depends on the seed only;
    - full batch (all N training images at once), Adam (lr ``READOUT_LR`` = 0.01, default betas,
      no weight decay), ``READOUT_EPOCHS`` = 100 steps of mean cross-entropy, in float32;
    - nothing else is random: a seed gives the same readout, trained alone or stacked.

    The negatives study's linear probe trains the same way (full batch, Adam lr 0.01, 100 epochs)
    on the concatenated raw (un-normalised) activity of all layers. On 1 000 Fashion-MNIST images
    (ff[label=none,layers=2,width=128], ns-class-aware-mix) it reaches 0.74 test accuracy where the
    ``linear-probe`` metric's L-BFGS probe on the same features reaches 0.75."""
    read = list(range(1 if skip_first and net.num_layers > 1 else 0, net.num_layers))
    with torch.no_grad():
        hs = [torch.cat(c) for c in zip(*[net.forward_all(x[i : i + 8192]) for i in range(0, len(x), 8192)])]
    readout = LinearReadout(sum(hs[l].shape[1] for l in read), net.num_classes, read).to(x.device)
    seeded_uniform_([readout.linear], generator)
    with torch.no_grad():
        z = readout.features(hs)
    del hs
    opt = torch.optim.Adam(readout.parameters(), lr=READOUT_LR)
    losses = []
    with torch.enable_grad():
        for _ in range(READOUT_EPOCHS):
            loss = F.cross_entropy(readout.linear(z), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.detach())
    if log is not None:
        log(f"label-free readout: cross-entropy {losses[0].item():.4f} -> {losses[-1].item():.4f}")
    return readout.eval()


class ModelGoodness:
    """What a model-aware negative generator (``NegativeGenerator.needs_model``) is given as
    ``model``: ``model(x, labels)`` = the goodness of layers 1..``upto`` of ``net``, summed over
    those layers, per sample [N], for images x (any shape with N rows; flattened here) with
    ``labels`` embedded (``net.embedding``; a label-free network reads the image alone and
    ignores ``labels``). Differentiable with respect to x (the embedding overwrites the label
    pixels, whose gradient is then 0); the network's parameters are not to be updated by it."""

    def __init__(self, net: FFNet, upto: int):
        self.net, self.upto = net, upto

    def __call__(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        net, flat = self.net, x.reshape(x.shape[0], -1)
        inp = flat if net.embedding is None else net.embedding(flat, labels)
        hs = net.forward_all(inp, self.upto)
        return torch.stack([net.goodness_score(l, h) for l, h in enumerate(hs)]).sum(0)


def draw_negative_samples(
    net: FFNet, negatives: NegativeGenerator, x: torch.Tensor, y: torch.Tensor, ctx: TrainContext, upto: int
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(x_neg, y_neg) for the training set, labels not yet embedded (y_neg None for label-free
    negatives), by ``ff_pieces.sample_negatives``: hard negatives read the label scores of the
    layers trained so far (1..upto), model-aware negatives their goodness (:class:`ModelGoodness`)."""
    return sample_negatives(negatives, x, y, ctx, lambda xb: net.label_log_probs(xb, upto), ModelGoodness(net, upto))
