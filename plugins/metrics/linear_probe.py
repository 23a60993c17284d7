"""Linear-probe accuracy per hidden layer (docs/science.md, "Metrics", going further): how much of the
class a *linear* readout can find in a layer's activity, whatever the rule's own inference does.

**The probe** (one place for it: ``ensemble-readout`` imports :func:`fit_probe` and
:func:`probe_features` from here). A multinomial logistic regression z -> softmax(W z + b) on
standardised features z = (h - mean) / std (mean and population std per unit over the probe's
training samples; a unit with std 0 gets std 1, so it is 0 everywhere and carries nothing), trained
full batch by L-BFGS (strong Wolfe line search, history 20) on

    mean_i cross_entropy(W z_i + b, y_i) + (weight_decay / 2) * ||W||_F^2      (no decay on b)

from W = 0, b = 0, for at most ``steps`` iterations (default 100; it stops earlier only once
converged: max |gradient| < 1e-7 or a change of loss or step below 1e-9). Zero initialisation and a
full batch leave nothing random in the fit itself.

**Data.** The probe is trained on the representations of the TRAINING split (at most
``train_samples`` images, default 10 000: a subset drawn by a generator seeded with ``seed``, so the
probe stays cheap on 60 000-image sets) and scored on ALL test samples (a probe asks what the layer
encodes, not what the model got right, so no "correctly classified" filter).

**Neutral label.** Rules that embed the label in the input (FF, BP/FF: the first pixels of the top
row; conv-ff: one input channel per class) would hand the probe the answer if probed with the true
label (the evaluation's usual representations). Their layers are therefore read with a NEUTRAL
label, chosen by ``neutral``, through the model's own ``neutral_representations(x, neutral)``
(``TrainedModel``): ``uniform`` (default, Hinton 2022's neutral label) sets every label input to
value / C (the one-hot label's mass spread evenly over the C classes), ``zero`` sets them all to 0
(no label at all); the layers then read it exactly as they read an embedded image. A model that
does not provide them (BP and the other label-free rules) is read through its own
``representations(x, y)``; the metric first checks, on a few samples, that these do not depend on
``y`` (true vs shifted labels) and refuses the model otherwise, since it cannot make such a model's
label neutral.

**Rows.** Per layer: ``accuracy`` (test accuracy of the probe; also per class) and
``train_accuracy`` (on the probe's training samples: a large gap means the probe overfits). Layer
None: ``pixel_accuracy``, the same probe on the normalised, flattened images themselves (no label),
the baseline a layer's features are compared with. Headline: ``accuracy``; higher is better.

**Several layers at once** (``concat``, off by default): ``concat=2-4`` (or ``2+3+4``) also fits one
probe on the concatenated activity of those layers (each unit standardised as above, so layers of
different scale weigh alike) and adds ``concat_accuracy`` (also per class) and
``concat_train_accuracy`` at layer None: the readout of the goodness study (a linear classifier on
the normalised activity of layers 2-4 for a neutral label; docs/goodness_study.md), with this
probe's fit instead of the study's jointly trained SGD layer.

**Cost.** One forward pass over ``train_samples`` training images and the test images, then per
layer one L-BFGS fit: each iteration is about two passes of an [n, D] x [D, C] product (n <=
``train_samples``, C classes), so ``steps`` = 100 on 10 000 x 1000 features is a few seconds on
one CPU core; the pixel baseline costs one more fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

import ffbench
from ffbench.component import Param
from ffbench.contracts import Evaluation, Metric, MetricResult, MetricRow, TrainedModel
from ffbench.errors import ParameterError

#: the probe's parameters, shared with ``ensemble-readout``
PROBE_PARAMS = (
    Param(
        "train_samples",
        int,
        10000,
        "at most this many training images train the probe (a seeded random subset when the split is larger)",
        min=1,
    ),
    Param("steps", int, 100, "maximum L-BFGS iterations of the full-batch probe fit", min=1),
    Param(
        "weight_decay",
        float,
        1e-4,
        "L2 penalty (weight_decay / 2) ||W||^2 on the probe weights, added to the mean cross-entropy",
        min=0.0,
    ),
    Param(
        "neutral",
        str,
        "uniform",
        "label shown to rules that embed it: every label pixel value / C (uniform), or all label pixels 0 (zero)",
        choices=("uniform", "zero"),
    ),
    Param("seed", int, 0, "seed of the training subset (and of ensemble-readout's random unit draws)"),
)
#: linear-probe's own parameter (not ensemble-readout's); omitted from the id at its default, so
#: the ids of rows made before it existed stay the same
CONCAT = Param(
    "concat",
    str,
    "none",
    "also probe these layers' activity concatenated: a range 2-4 or a list 2+3+4 (the goodness study's readout); "
    "none: off",
    omit_at_default=True,
)


def parse_concat(spec: str) -> list[int]:
    """The 1-based layers named by ``concat`` ("none" -> []): a range ``A-B`` (A < B) or a list
    ``A+B+...`` of distinct layers."""
    if spec == "none":
        return []
    layers: list[int] = []
    try:
        if "-" in spec:
            lo, hi = (int(t) for t in spec.split("-"))
            layers = list(range(lo, hi + 1)) if lo < hi else []
        else:
            layers = [int(t) for t in spec.split("+")]
    except ValueError:
        layers = []
    if len(layers) < 2 or min(layers) < 1 or len(set(layers)) != len(layers):
        raise ParameterError(
            f"Bad value '{spec}' for parameter 'linear-probe.concat': give two or more distinct layers "
            "(1-based) as a range A-B with A < B (e.g. 2-4) or a list A+B+... (e.g. 2+4), or none."
        )
    return layers


def concat_layers(spec: str, num_layers: int) -> list[int]:
    """:func:`parse_concat`, checked against the model's number of layers."""
    layers = parse_concat(spec)
    if layers and max(layers) > num_layers:
        raise ParameterError(
            f"Bad value '{spec}' for parameter 'linear-probe.concat': the model has layers 1..{num_layers}."
        )
    return layers


#: samples on which a model without a label embedding is checked not to read y
LABEL_CHECK_SAMPLES = 64


# ---------------------------------------------------------------------------------------
# The probe
# ---------------------------------------------------------------------------------------


@dataclass
class Probe:
    """A fitted multinomial logistic regression on standardised features."""

    mean: torch.Tensor
    std: torch.Tensor
    weight: torch.Tensor  # [C, D]
    bias: torch.Tensor  # [C]

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        return ((h.float() - self.mean) / self.std) @ self.weight.T + self.bias

    def predict(self, h: torch.Tensor) -> torch.Tensor:
        return self.logits(h).argmax(dim=1)


def fit_probe(
    h: torch.Tensor, y: torch.Tensor, num_classes: int, steps: int = 100, weight_decay: float = 1e-4
) -> Probe:
    """Fit the probe (module docstring) on features h [n, D] with labels y [n]."""
    h = h.float()
    with torch.no_grad():
        mean = h.mean(dim=0)
        std = h.std(dim=0, unbiased=False)
        std = torch.where(std > 0, std, torch.ones_like(std))
        z = (h - mean) / std
    weight = torch.zeros(num_classes, h.shape[1], device=h.device, requires_grad=True)
    bias = torch.zeros(num_classes, device=h.device, requires_grad=True)
    opt = torch.optim.LBFGS(
        [weight, bias],
        lr=1.0,
        max_iter=steps,
        history_size=20,
        tolerance_grad=1e-7,
        tolerance_change=1e-9,
        line_search_fn="strong_wolfe",
    )

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(z @ weight.T + bias, y) + 0.5 * weight_decay * weight.square().sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    return Probe(mean, std, weight.detach(), bias.detach())


def probe_correct(
    train_h: torch.Tensor,
    train_y: torch.Tensor,
    test_h: torch.Tensor,
    test_y: torch.Tensor,
    num_classes: int,
    steps: int,
    weight_decay: float,
) -> tuple[torch.Tensor, float]:
    """([N_test] bool: the probe fitted on the training features is right on each test sample,
    accuracy on its own training samples)."""
    probe = fit_probe(train_h, train_y, num_classes, steps, weight_decay)
    with torch.no_grad():
        train_acc = float((probe.predict(train_h) == train_y).float().mean())
        return (probe.predict(test_h) == test_y).cpu(), train_acc


# ---------------------------------------------------------------------------------------
# Neutral-label features
# ---------------------------------------------------------------------------------------


def neutral_representations(model: TrainedModel, x: torch.Tensor, y: torch.Tensor, neutral: str) -> list[torch.Tensor]:
    """Per-layer activity [N, D_l] of images x [N, C, H, W] with no usable label in the input: the
    model's ``neutral_representations`` where it provides them, else its own (label-independent)
    representations."""
    with torch.no_grad():
        if model.has_neutral_representations:
            return model.neutral_representations(x, neutral)
        return model.representations(x, y)


def probed_with_neutral_label(model: TrainedModel) -> bool:
    """Whether the model reads its label and is probed with a neutral one instead."""
    return bool(model.reads_label) and model.has_neutral_representations


def check_label_free(model: TrainedModel, x: torch.Tensor, y: torch.Tensor, num_classes: int) -> None:
    """Refuse a model whose representations read ``y`` in a way this metric cannot neutralise."""
    if model.has_neutral_representations or num_classes < 2:
        return
    x, y = x[:LABEL_CHECK_SAMPLES], y[:LABEL_CHECK_SAMPLES]
    with torch.no_grad():
        a = model.representations(x, y)
        b = model.representations(x, (y + 1) % num_classes)
    if any(not torch.equal(u, v) for u, v in zip(a, b)):
        raise ValueError(
            f"{type(model).__name__}'s representations depend on the label y, and it has no "
            "neutral_representations(x, neutral) to show a neutral label: a probe of them would read the "
            "answer. Define neutral_representations on the model or make its representations label-free."
        )


def representations_of(ev: Evaluation, x: torch.Tensor, y: torch.Tensor, neutral: str) -> list[torch.Tensor]:
    """Neutral-label features of images x, computed in batches on the evaluation's device (CPU, float32)."""
    chunks: list[list[torch.Tensor]] = []
    for i in range(0, len(x), ev.batch_size):
        xb, yb = x[i : i + ev.batch_size].to(ev.device), y[i : i + ev.batch_size].to(ev.device)
        chunks.append([r.float().cpu() for r in neutral_representations(ev.model, xb, yb, neutral)])
    return [torch.cat([c[l] for c in chunks]) for l in range(len(chunks[0]))]


@dataclass
class ProbeData:
    """Neutral-label features of the probe's training subset and of every test sample."""

    train: list[torch.Tensor]
    train_y: torch.Tensor
    test: list[torch.Tensor]
    test_y: torch.Tensor
    train_index: torch.Tensor  # which training images were used (sorted)


def train_subset(n: int, cap: int, seed: int) -> torch.Tensor:
    """Sorted indices of at most ``cap`` of n training images (all when n <= cap), seeded."""
    if n <= cap:
        return torch.arange(n)
    gen = torch.Generator().manual_seed(seed)
    return torch.randperm(n, generator=gen)[:cap].sort().values


def probe_features(ev: Evaluation, train_samples: int, seed: int, neutral: str) -> ProbeData:
    """The probe's inputs for one evaluation (see the module docstring)."""
    train, test = ev.data.train, ev.data.test
    idx = train_subset(len(train), train_samples, seed)
    tx, ty = train.x[idx.to(train.x.device)], train.y[idx.to(train.y.device)]
    n = LABEL_CHECK_SAMPLES
    check_label_free(ev.model, test.x[:n].to(ev.device), test.y[:n].to(ev.device), len(ev.classes))
    return ProbeData(
        representations_of(ev, tx, ty, neutral),
        ty.cpu(),
        representations_of(ev, test.x, test.y, neutral),
        test.y.cpu(),
        idx,
    )


def accuracy_rows(
    stat: str, correct: torch.Tensor, y: torch.Tensor, classes: list[str], layer: int | None
) -> list[MetricRow]:
    """The overall accuracy row and one per class present in y."""
    rows = [MetricRow(stat, float(correct.float().mean()), layer=layer)]
    for c, name in enumerate(classes):
        mask = y == c
        if mask.any():
            rows.append(MetricRow(stat, float(correct[mask].float().mean()), layer=layer, cls=name))
    return rows


# ---------------------------------------------------------------------------------------
# The metric
# ---------------------------------------------------------------------------------------


class LinearProbe(Metric):
    name = "linear-probe"
    version = "1"
    description = (
        "test accuracy of a logistic-regression probe trained on each layer's training-set "
        "activity (neutral label for rules that embed it), per layer and class; pixel baseline"
    )
    higher_is_better = True
    headline = ("accuracy",)
    stat_help = {
        "accuracy": "test accuracy of a linear probe on the layer's activity (neutral label), 0 .. 1",
    }
    params = PROBE_PARAMS + (CONCAT,)

    def __init_component__(self) -> None:
        parse_concat(self.values["concat"])  # a malformed value fails before any training

    def compute(self, ev: Evaluation) -> MetricResult:
        v = self.values
        data = probe_features(ev, v["train_samples"], v["seed"], v["neutral"])
        concat = concat_layers(v["concat"], len(data.train))
        num_classes, rows = len(ev.classes), []
        for layer, (a, b) in enumerate(zip(data.train, data.test), start=1):
            correct, train_acc = probe_correct(
                a.to(ev.device),
                data.train_y.to(ev.device),
                b.to(ev.device),
                data.test_y.to(ev.device),
                num_classes,
                v["steps"],
                v["weight_decay"],
            )
            rows += accuracy_rows("accuracy", correct, data.test_y, ev.classes, layer)
            rows.append(MetricRow("train_accuracy", train_acc, layer=layer))
        if concat:
            correct, train_acc = probe_correct(
                torch.cat([data.train[l - 1] for l in concat], dim=1).to(ev.device),
                data.train_y.to(ev.device),
                torch.cat([data.test[l - 1] for l in concat], dim=1).to(ev.device),
                data.test_y.to(ev.device),
                num_classes,
                v["steps"],
                v["weight_decay"],
            )
            rows += accuracy_rows("concat_accuracy", correct, data.test_y, ev.classes, None)
            rows.append(MetricRow("concat_train_accuracy", train_acc))
        idx = data.train_index.to(ev.data.train.x.device)
        pixels_train = ev.data.train.flat()[idx].float().to(ev.device)
        correct, _ = probe_correct(
            pixels_train,
            data.train_y.to(ev.device),
            ev.data.test.flat().float().to(ev.device),
            data.test_y.to(ev.device),
            num_classes,
            v["steps"],
            v["weight_decay"],
        )
        rows.append(MetricRow("pixel_accuracy", float(correct.float().mean())))
        settings = {k: v[k] for k in ("steps", "weight_decay", "neutral", "seed", "concat")}
        settings.update(train_samples=len(data.train_y), label_embedded=probed_with_neutral_label(ev.model))
        return MetricResult(rows, {"settings": settings})


@ffbench.hookimpl
def ffbench_register_metrics(register):
    register(LinearProbe)
