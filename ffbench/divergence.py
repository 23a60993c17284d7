"""Divergence, checked by the runner whoever wrote the rule: a run is ok only if it trained.

Rules report each epoch's loss through :meth:`TrainContext.check_loss` (which already stops at a
NaN or infinite loss). The runner hands rules a :class:`WatchedTrainContext`, which also keeps
every reported loss, and checks the trained model itself. A point is ``failed`` with a
:class:`~ffbench.errors.TrainingDivergedError` (its message is the evidence, recorded in the
``error`` column; the model is never cached and never reaches a board) when:

- **a loss explodes**: its magnitude exceeds :data:`LOSS_LIMIT` (1e8), or it grows more than
  :data:`LOSS_GROWTH` (1000x) above the smallest loss reported before it in the same stream (a
  stream: the ``where`` text without its epoch, e.g. "layer 2"; losses below :data:`LOSS_FLOOR`
  count as that floor, so a loss that has converged to ~0 may wobble). Checked as the loss is
  reported, so training stops at once.
- **weights explode**: a parameter is NaN or infinite, or its magnitude exceeds
  :data:`WEIGHT_LIMIT` (1e4).
- **activations explode**: on :data:`ACTIVATION_SAMPLES` test images, a layer's representation is
  not finite or exceeds :data:`ACTIVATION_LIMIT` (1e6) in magnitude.
- **accuracy is at chance with an exploded loss**: the last loss of a stream ended at least
  :data:`CHANCE_LOSS_GROWTH` (10x) above its smallest, and the test accuracy is within three
  binomial standard errors of always predicting the most frequent class.

The limits are orders of magnitude beyond healthy training. Measured on 500 Fashion-MNIST images
(quick preset; bp, bp at lr 0.01, bp-ff, ff with the l2 and the sumsq goodness, conv-ff, dfa,
mono-forward, pepita, cafo, random): the largest loss 495 (ff with sumsq, layer 1, epoch 1), the
largest rise of a loss 5.8x (bp at lr 0.01: 8.0 at epoch 1, 46 at epoch 2, then down to 0.76),
the largest weight 0.44, the largest activation 56. ``bp[lr=1000000]`` reports a loss of 2.1e32
at epoch 1, has weights of 9.5e6 and activations of 1.5e9 to 3.8e25. Cached models are checked
the same way (weights) when loaded.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import torch

from ffbench.contracts import DatasetBundle, TrainContext, TrainedModel
from ffbench.errors import TrainingDivergedError

LOSS_LIMIT = 1e8
LOSS_GROWTH = 1e3
LOSS_FLOOR = 1e-2
WEIGHT_LIMIT = 1e4
ACTIVATION_LIMIT = 1e6
ACTIVATION_SAMPLES = 256
CHANCE_LOSS_GROWTH = 10.0

ADVICE = "lower the learning rate (e.g. --param RULE.lr=...) or check the data normalisation."


def _g(value: float) -> str:
    return f"{value:.3g}"


def _stream(where: str) -> str:
    """The stream a loss belongs to: its ``where`` without the epoch ("layer 2, epoch 5" -> "layer 2")."""
    return re.sub(r"\s*,?\s*\bepoch\s+\d+\b", "", where).strip(" ,;")


@dataclass
class LossHistory:
    """Every loss a rule reported, per stream: ``stream -> [(where, magnitude)]``."""

    streams: dict[str, list[tuple[str, float]]] = field(default_factory=dict)

    def add(self, where: str, loss: torch.Tensor | float) -> None:
        """Record ``loss`` (its largest magnitude) and raise :class:`TrainingDivergedError` if it exploded."""
        value = float(torch.as_tensor(loss).detach().abs().max())
        at = f" at {where}" if where else ""
        if value > LOSS_LIMIT:
            raise TrainingDivergedError(
                f"training diverged{at}: the loss is {_g(value)}, above {_g(LOSS_LIMIT)} (exploded); {ADVICE}"
            )
        seen = self.streams.setdefault(_stream(where), [])
        if seen:
            low_where, low = min(seen, key=lambda item: item[1])
            if value > LOSS_GROWTH * max(low, LOSS_FLOOR):
                raise TrainingDivergedError(
                    f"training diverged{at}: the loss grew to {_g(value)} from {_g(low)}"
                    f"{f' at {low_where}' if low_where else ''}, more than {_g(LOSS_GROWTH)}x; {ADVICE}"
                )
        seen.append((where, value))

    def grown(self, factor: float) -> str | None:
        """Evidence that some stream's last loss ended ``factor`` or more above its smallest, else None."""
        for losses in self.streams.values():
            (low_where, low), (last_where, last) = min(losses, key=lambda item: item[1]), losses[-1]
            if last >= factor * max(low, LOSS_FLOOR) and last > low:
                ended, lowest = last_where or "last", low_where or "before"
                return f"the loss ended at {_g(last)} ({ended}), up from {_g(low)} ({lowest})"
        return None


@dataclass
class WatchedTrainContext(TrainContext):
    """The :class:`TrainContext` the runner hands rules: ``check_loss`` also records the loss in
    :attr:`losses` and stops training when it explodes (:meth:`LossHistory.add`)."""

    losses: LossHistory = field(default_factory=LossHistory, repr=False)

    def check_loss(self, loss: torch.Tensor | float, where: str = "") -> None:
        super().check_loss(loss, where)  # NaN / inf first, with its own message
        self.losses.add(where, loss)


def _weights(model: TrainedModel) -> list[tuple[str, torch.Tensor]]:
    if isinstance(model, torch.nn.Module):
        return [(name, p.detach()) for name, p in model.named_parameters()]
    if getattr(model, "has_weight_matrices", False):
        try:
            return [(f"layer {i + 1} weights", w.detach()) for i, w in enumerate(model.weights())]
        except Exception:
            return []
    return []


def check_weights(model: TrainedModel) -> None:
    """Raise :class:`TrainingDivergedError` if a weight is NaN / infinite or larger than
    :data:`WEIGHT_LIMIT` in magnitude. Models with no torch parameters nor weight matrices pass."""
    weights = _weights(model)
    bad = [name for name, w in weights if w.is_floating_point() and not bool(torch.isfinite(w).all())]
    if bad:
        raise TrainingDivergedError(
            f"training diverged: non-finite weights in {', '.join(bad[:3])}"
            f"{' and more' if len(bad) > 3 else ''}; lower the learning rate."
        )
    sizes = [(float(w.abs().max()), name) for name, w in weights if w.is_floating_point() and w.numel()]
    if sizes:
        largest, name = max(sizes)
        if largest > WEIGHT_LIMIT:
            raise TrainingDivergedError(
                f"training diverged: the weights exploded (largest magnitude {_g(largest)} in {name}, above "
                f"{_g(WEIGHT_LIMIT)}); {ADVICE}"
            )


def check_activations(model: TrainedModel, data: DatasetBundle, device: torch.device) -> None:
    """Raise :class:`TrainingDivergedError` if a layer's representation of a few test images is
    not finite or larger than :data:`ACTIVATION_LIMIT`. A model that cannot produce them is not
    judged here (its metrics fail on their own)."""
    x, y = data.test.x[:ACTIVATION_SAMPLES].to(device), data.test.y[:ACTIVATION_SAMPLES].to(device)
    try:
        with torch.no_grad():
            reps = [h.detach().float() for h in model.representations(x, y)]
    except Exception:
        return
    for layer, h in enumerate(reps, start=1):
        if not bool(torch.isfinite(h).all()):
            raise TrainingDivergedError(f"training diverged: layer {layer}'s activity is not finite; {ADVICE}")
        largest = float(h.abs().max()) if h.numel() else 0.0
        if largest > ACTIVATION_LIMIT:
            raise TrainingDivergedError(
                f"training diverged: the activations exploded (layer {layer} reaches {_g(largest)}, above "
                f"{_g(ACTIVATION_LIMIT)}); {ADVICE}"
            )


def chance_band(labels: torch.Tensor) -> float:
    """The highest accuracy still 'at chance': always predicting the most frequent class, plus
    three binomial standard errors."""
    n = len(labels)
    p = float(torch.bincount(labels.long().cpu()).max()) / n
    return p + 3 * math.sqrt(p * (1 - p) / n)


def check_chance(model: TrainedModel, data: DatasetBundle, device: torch.device, losses: LossHistory) -> None:
    """Raise :class:`TrainingDivergedError` if the loss ended :data:`CHANCE_LOSS_GROWTH` above its
    smallest and the test accuracy is at chance (:func:`chance_band`). Predicts only then."""
    grown = losses.grown(CHANCE_LOSS_GROWTH)
    if grown is None or not len(data.test.y):
        return
    try:
        with torch.no_grad():
            accuracy = float((model.predict(data.test.x.to(device)).cpu() == data.test.y.cpu()).float().mean())
    except Exception:
        return
    band = chance_band(data.test.y)
    if accuracy <= band:
        raise TrainingDivergedError(
            f"training diverged: {grown}, and the test accuracy {accuracy:.4f} is at chance (at most "
            f"{band:.4f}: the most frequent class plus three standard errors); {ADVICE}"
        )


def check_trained(
    model: TrainedModel, data: DatasetBundle, device: torch.device, losses: LossHistory | None = None
) -> None:
    """Every check of a freshly trained model: weights, activations, and chance accuracy with an
    exploded loss (``losses``: what its rule reported)."""
    check_weights(model)
    check_activations(model, data, device)
    if losses is not None:
        check_chance(model, data, device, losses)
