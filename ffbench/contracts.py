"""The five contracts every plugin implements, and the data that flows between them.

- :class:`LearningRule` builds and trains a model -> :class:`TrainedModel`
- :class:`Goodness` scores a layer's activity and builds the layer loss on it
- :class:`NegativeGenerator` turns a batch (x, y) into negative samples, or declares none
- :class:`Dataset` loads a :class:`DatasetBundle` (normalised train/test tensors + facts)
- :class:`Metric` reads an :class:`Evaluation` and returns a :class:`MetricResult` (tidy rows)

No science lives here except the default FF logistic loss that the Goodness contract names.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import torch
import torch.nn.functional as F

from ffbench.compat import default_refusal, require_compatible
from ffbench.component import Component
from ffbench.errors import TrainingDivergedError

if TYPE_CHECKING:
    from ffbench.report.figure_api import FigureSpec
    from ffbench.training_record import TrainingRecord

# ---------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------


@dataclass
class DataSplit:
    """Images ``x`` (float32, [N, C, H, W], normalised) and integer labels ``y`` ([N])."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def to(self, device: torch.device | str) -> DataSplit:
        return DataSplit(self.x.to(device), self.y.to(device))

    def select(self, mask_or_index: torch.Tensor) -> DataSplit:
        return DataSplit(self.x[mask_or_index], self.y[mask_or_index])

    def flat(self) -> torch.Tensor:
        return self.x.reshape(len(self), -1)


@dataclass
class DatasetBundle:
    """What a Dataset yields: both splits plus the facts rules and metrics need."""

    name: str
    train: DataSplit
    test: DataSplit
    classes: list[str]
    shape: tuple[int, int, int]  # (C, H, W)
    mean: tuple[float, ...]
    std: tuple[float, ...]
    content_hash: str
    source: str = ""

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def input_dim(self) -> int:
        c, h, w = self.shape
        return c * h * w

    def without_classes(self, held_out: list[int]) -> DatasetBundle:
        """The same bundle with ``held_out`` classes removed from the training split."""
        keep = ~torch.isin(self.train.y, torch.as_tensor(held_out, device=self.train.y.device))
        return DatasetBundle(
            self.name,
            self.train.select(keep),
            self.test,
            self.classes,
            self.shape,
            self.mean,
            self.std,
            self.content_hash,
            self.source,
        )


# ---------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------


def _no_progress(done: float, total: float, description: str = "") -> None:
    return None


@dataclass
class TrainContext:
    """Everything a rule needs besides its data and components.

    ``generator`` (on ``device``, seeded with ``seed``) is the run's only source of randomness:
    rules draw initial weights, batch order, negatives and noise from it (or from generators
    seeded from ``seed``). Torch's global generator is neither seeded nor read, so a training's
    numbers do not depend on what ran before it in the process."""

    device: torch.device
    seed: int
    #: Classes that may appear in training, as positives and as negative labels. All by default;
    #: the unseen-category metric trains with one class held out.
    train_classes: list[int]
    num_classes: int
    progress: Callable[[float, float, str], None] = _no_progress
    log: Callable[[str], None] = lambda message: None
    #: "fp32" (default), "tf32" (CUDA matmuls in TF32) or "bf16" (autocast to bfloat16, on CUDA or on a
    #: CPU with native bfloat16 matmuls: ffbench.precision); rules keep goodness and losses in float32
    precision: str = "fp32"
    #: wrap hot functions in torch.compile (opt-in)
    compile: bool = False
    generator: torch.Generator = field(init=False)

    def __post_init__(self) -> None:
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(self.seed)

    @property
    def allowed_labels(self) -> torch.Tensor:
        return torch.as_tensor(self.train_classes, device=self.device, dtype=torch.long)

    def autocast(self):
        """The autocast context rules wrap forward passes in (a no-op unless precision is bf16)."""
        enabled = self.precision == "bf16"
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, enabled=enabled)

    def check_loss(self, loss: torch.Tensor | float, where: str = "") -> None:
        """Stop training at once if ``loss`` (e.g. an epoch's summed loss) is NaN or infinite.

        Rules call it once per epoch (one device sync); it raises
        :class:`~ffbench.errors.TrainingDivergedError`, which the runner records as a failed
        point (reason in the ``error`` column) that is never cached nor admitted to a board."""
        value = torch.as_tensor(loss)
        if not bool(torch.isfinite(value).all()):
            at = f" at {where}" if where else ""
            raise TrainingDivergedError(
                f"training diverged{at}: the loss is {value.detach().flatten().tolist()[:4]} (not finite); "
                "lower the learning rate (e.g. --param RULE.lr=...) or check the data normalisation."
            )


class ModelCapabilityError(NotImplementedError):
    """A trained model lacks what was asked of it: 2-D weight matrices (:meth:`TrainedModel.weights`
    of a model that has none) or non-negative activity (a metric that needs it). A metric that
    raises it becomes a failed metric row with this message; the run goes on."""


class TrainedModel(ABC):
    """A trained model, as metrics see it. Must be picklable (it is cached with torch.save).

    Required: :attr:`num_layers`, :meth:`predict`, :meth:`representations`. Optional, declared:

    - :meth:`weights`: one incoming 2-D weight matrix per layer. A model that has none (a
      convolutional or locally connected layer shares or tiles its weights, so a unit has no
      matrix row of its own) does not override it: the default raises
      :class:`ModelCapabilityError`, and :attr:`has_weight_matrices` is False.
    - :meth:`neutral_representations`: the representations with a neutral label in the input, for
      a model whose input carries the label (probes must not be handed the answer); the default
      raises :class:`ModelCapabilityError`, and :attr:`has_neutral_representations` is False.
    - :attr:`nonnegative_activity`: whether the representations are non-negative (post-ReLU).

    Metrics that need either read them through :meth:`require_weight_matrices` /
    :meth:`require_nonnegative`, which fail with a message naming the metric, the model and what
    is missing."""

    #: Whether ``representations(x, y)`` read the label y (an FF-style label embedding: True) or
    #: are the activity for the image alone (False). None: not declared; the runner then checks on
    #: a few test samples. Recorded on every result row (``label_in_input``).
    reads_label: bool | None = None

    #: Whether every representation value is >= 0 (post-ReLU activity: True; signed activity, e.g.
    #: tanh or pre-activations: False). None (default): not declared; metrics that need
    #: non-negative activity then check the values they read. The conformance suite checks a
    #: declared True on test samples.
    nonnegative_activity: bool | None = None

    #: The name of the rule that trained the model, for messages (rules may set it). None: messages
    #: name the model's class instead.
    rule_name: str | None = None

    @property
    @abstractmethod
    def num_layers(self) -> int:
        """Number of hidden layers whose representations metrics read."""

    @abstractmethod
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Predicted labels [N] for images x [N, C, H, W]."""

    @abstractmethod
    def representations(self, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
        """Hidden activity per layer, each [N, D_l] (a convolutional layer flattens its feature
        maps: D_l = channels * height * width). Rules that embed labels embed ``y``. Whether the
        values are non-negative is declared by :attr:`nonnegative_activity`."""

    def weights(self) -> list[torch.Tensor]:
        """Incoming weight matrix of each hidden layer, each [D_l, D_in]: row i holds the weights
        into unit i of the layer's representation. Optional: the default raises
        :class:`ModelCapabilityError` (the model has no weight matrices)."""
        raise ModelCapabilityError(f"{self.describe()} has no 2-D weight matrices (weights() is not implemented)")

    @property
    def has_weight_matrices(self) -> bool:
        """Whether :meth:`weights` returns one 2-D matrix per layer. Default: True exactly when the
        model's class overrides :meth:`weights`; override this property when that depends on the
        instance."""
        return type(self).weights is not TrainedModel.weights

    def neutral_representations(self, x: torch.Tensor, neutral: str = "uniform") -> list[torch.Tensor]:
        """Hidden activity per layer, as :meth:`representations`, for images x whose label input
        shows no label: ``neutral`` = "uniform" sets every label input to the value a one-hot
        label spreads evenly over the C classes (Hinton 2022's neutral label: value / C), "zero"
        sets them all to 0. What probes of a model that reads its label read (``linear-probe``,
        ``cka``), so that the label in the input cannot hand them the answer. Optional: the default
        raises :class:`ModelCapabilityError`; metrics then read :meth:`representations` after
        checking that they do not depend on y."""
        raise ModelCapabilityError(f"{self.describe()} has no neutral-label representations")

    @property
    def has_neutral_representations(self) -> bool:
        """Whether :meth:`neutral_representations` is provided: True exactly when the model's class
        overrides it."""
        return type(self).neutral_representations is not TrainedModel.neutral_representations

    def describe(self) -> str:
        """How messages name the model: "rule 'NAME'" when :attr:`rule_name` is set, else its class."""
        return f"rule '{self.rule_name}'" if self.rule_name else f"model {type(self).__name__}"

    def require_weight_matrices(self, metric: str) -> list[torch.Tensor]:
        """The weight matrices, for metric ``metric``; raises :class:`ModelCapabilityError` when the
        model has none or one is not 2-D."""
        if not self.has_weight_matrices:
            raise ModelCapabilityError(f"metric '{metric}' needs 2-D weight matrices; {self.describe()} has none")
        weights = self.weights()
        for layer, w in enumerate(weights, start=1):
            if w.dim() != 2:
                raise ModelCapabilityError(
                    f"metric '{metric}' needs 2-D weight matrices; layer {layer} of {self.describe()} "
                    f"has a weight of shape {list(w.shape)}"
                )
        return weights

    def require_nonnegative(self, metric: str, representations: list[torch.Tensor]) -> None:
        """Raise :class:`ModelCapabilityError` unless ``representations`` (this model's, per layer)
        are non-negative: refused at once when the model declares ``nonnegative_activity = False``,
        else checked on the values."""
        if self.nonnegative_activity is False:
            raise ModelCapabilityError(
                f"metric '{metric}' needs non-negative (post-ReLU) activity; {self.describe()} declares "
                "signed activity (nonnegative_activity = False)"
            )
        for layer, h in enumerate(representations, start=1):
            if h.numel() and bool((h < 0).any()):
                raise ModelCapabilityError(
                    f"metric '{metric}' needs non-negative (post-ReLU) activity; layer {layer} of "
                    f"{self.describe()} has negative values (min {float(h.min()):.4g})"
                )

    def to(self, device: torch.device | str) -> TrainedModel:
        return self


class LearningRule(Component):
    """Builds and trains a model on a dataset."""

    kind: ClassVar[str] = "rule"
    #: The class attributes that say how a component of this kind combines with others and runs
    #: (`ffbench plugins` lists them).
    trait_names: ClassVar[tuple[str, ...]] = ("uses_goodness", "uses_negatives", "stacks_seeds", "bf16_cpu_verified")
    #: Whether the rule reads a goodness function / negative generator (BP reads neither).
    uses_goodness: ClassVar[bool] = True
    uses_negatives: ClassVar[bool] = True

    @abstractmethod
    def fit(
        self,
        data: DatasetBundle,
        goodness: Goodness | None,
        negatives: NegativeGenerator | None,
        ctx: TrainContext,
    ) -> TrainedModel:
        """Train on ``data.train`` (already on ``ctx.device``) and return the trained model."""

    def accepts(self, goodness: Goodness | None, negatives: NegativeGenerator | None) -> tuple[bool, str]:
        """Whether this rule, with its parameters, can train with ``goodness`` and ``negatives``
        (None where the rule reads neither), and if not, why: one sentence naming the component
        and what would work. :func:`ffbench.compat.refusal` (the one decision that ``ffbench run``,
        ``ffbench bench`` and the conformance kit ask) asks it after checking that the partners the
        rule reads are given and pair. Default (:func:`ffbench.compat.default_refusal`): a goodness
        and negatives that do not pair (:meth:`Goodness.pairs_with`), and the negatives a rule must
        opt in to by overriding this method: label-free ones (:attr:`NegativeGenerator.label_free`)
        and model-aware ones (:attr:`NegativeGenerator.needs_model`). An override adds the rule's
        own refusals and advice, and calls ``super().accepts`` for the defaults it keeps."""
        reason = default_refusal(self, goodness, negatives)
        return reason is None, reason or ""

    def require_accepts(self, goodness: Goodness | None, negatives: NegativeGenerator | None) -> None:
        """Raise :class:`~ffbench.errors.IncompatibleError` (also a ValueError) with the reason when
        :func:`ffbench.compat.refusal` refuses the combination; call it at the start of ``fit``."""
        require_compatible(self, goodness, negatives)

    #: Whether ``--precision bf16`` on a CPU is admitted for this rule: True only where float32 and
    #: bfloat16 training were measured to give the same numbers within seed noise (docs/precision.md,
    #: scripts/bf16_equivalence.py). False (default): ``ffbench run`` refuses it, with the reason.
    bf16_cpu_verified: ClassVar[bool] = False

    #: True if :meth:`fit_seeds` trains several seeds together (e.g. one stacked model); the
    #: runner then hands it every seed of a configuration at once.
    stacks_seeds: ClassVar[bool] = False

    def fit_seeds(
        self,
        data: DatasetBundle,
        goodness: Goodness | None,
        negatives: NegativeGenerator | None,
        ctxs: list[TrainContext],
    ) -> list[TrainedModel]:
        """Train one model per context (one per seed). Default: one after the other."""
        return [self.fit(data, goodness, negatives, ctx) for ctx in ctxs]

    # --- optional, for ``ffbench bench`` (a rule that declares nothing is timed without them) ---

    def training_flops(
        self, data: DatasetBundle, goodness: Goodness | None, negatives: NegativeGenerator | None
    ) -> int | None:
        """Matmul FLOPs (2·m·k·n per product) one :meth:`fit` on ``data`` performs, counted
        analytically; None (default) if the rule does not count them: ``ffbench bench`` then
        reports time and samples/s, and says that FLOPs were not counted."""
        return None

    def has_baseline(self, goodness: Goodness | None, negatives: NegativeGenerator | None) -> bool:
        """Whether :meth:`fit_baseline` exists for this configuration."""
        return False

    def fit_baseline(
        self, data: DatasetBundle, goodness: Goodness | None, negatives: NegativeGenerator | None, ctx: TrainContext
    ) -> TrainedModel:
        """The same algorithm written the straightforward way (DataLoader, separate passes, ...):
        what ``ffbench bench`` reports the speed-up of :meth:`fit` against."""
        raise NotImplementedError(f"rule '{self.name}' declares no straightforward baseline")

    def baseline_flops(
        self, data: DatasetBundle, goodness: Goodness | None, negatives: NegativeGenerator | None
    ) -> int | None:
        """Matmul FLOPs of :meth:`fit_baseline` (default: the same as :meth:`training_flops`)."""
        return self.training_flops(data, goodness, negatives) if self.has_baseline(goodness, negatives) else None


# ---------------------------------------------------------------------------------------
# Goodness and negatives
# ---------------------------------------------------------------------------------------


def ff_logistic_loss(g_pos: torch.Tensor, g_neg: torch.Tensor | None, threshold: float) -> torch.Tensor:
    """The FF loss: mean over positives and negatives together of
    softplus(theta - G(pos)) and softplus(G(neg) - theta)."""
    terms = [F.softplus(threshold - g_pos)]
    if g_neg is not None:
        terms.append(F.softplus(g_neg - threshold))
    return torch.cat(terms).mean()


@runtime_checkable
class FeatureNetwork(Protocol):
    """What a self-supervised goodness's readout may read of a trained network: its layer count
    and every layer's activity for a flat input (rules pass their network, e.g. an FFNet)."""

    @property
    def num_layers(self) -> int: ...

    def forward_all(self, x_flat: torch.Tensor) -> list[torch.Tensor]: ...


@runtime_checkable
class Readout(Protocol):
    """A self-supervised goodness's inference readout: labels [n] from the layers' activity
    ``hs`` for the ``augment``-ed inputs of n images."""

    def predict(self, hs: list[torch.Tensor], n: int) -> torch.Tensor: ...


class Goodness(Component):
    """Per-sample score of a layer's activity and the layer loss built on it."""

    kind: ClassVar[str] = "goodness"
    #: The class attributes that say how a component of this kind combines with others and runs
    #: (`ffbench plugins` lists them).
    trait_names: ClassVar[tuple[str, ...]] = ("needs_negatives",)
    #: False for goodness functions trained without negatives (e.g. dimensionality compression);
    #: rules then embed no labels and use :meth:`augment` and the goodness's own readout.
    needs_negatives: ClassVar[bool] = True

    def pairs_with(self, negatives: NegativeGenerator) -> tuple[bool, str]:
        """Whether this goodness can train with ``negatives``, and if not, why (one sentence with
        the fix). The one compatibility check of a goodness / negatives pair; the default reads
        ``needs_negatives`` and ``produces_negatives``; override it for finer rules."""
        if self.needs_negatives and not negatives.produces_negatives:
            return False, (
                f"goodness '{self.name}' needs negative samples, but negatives '{negatives.name}' "
                "produce none: use a negative generator, e.g. wrong-label"
            )
        if not self.needs_negatives and negatives.produces_negatives:
            return False, (
                f"goodness '{self.name}' takes no negative samples, but negatives '{negatives.name}' "
                "produce them: use --negatives none"
            )
        return True, ""

    @abstractmethod
    def score(self, h: torch.Tensor, state: torch.nn.Module | None = None) -> torch.Tensor:
        """Goodness per sample, [N], of activity h [N, D]: a sample's score never depends on the
        other rows of h (rules score candidate labels in chunks of any size). ``state``: the
        layer's state from :meth:`init_state`, passed only to a goodness that has one (so
        ``score(self, h)`` remains a valid override); it is read, never updated, here."""

    # -- per-layer state and the training batch (optional) -----------------------------------
    def init_state(self, layer: int, width: int) -> torch.nn.Module | None:
        """The state of layer ``layer`` (0-based, ``width`` units), or None (the default: no
        state). A state is a ``torch.nn.Module`` holding buffers (e.g. running means) that the
        rule creates once per layer when it builds the network and keeps inside the trained
        model, so it moves with ``.to(device)`` and is saved and loaded with the model (define
        its class in your plugin's modules: the model cache loads only those and torch.nn's).
        :meth:`score_batch` may update it during training; :meth:`score` reads it."""
        return None

    def score_batch(
        self, h_pos: torch.Tensor, h_neg: torch.Tensor | None, state: torch.nn.Module | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Training scores (g_pos [B], g_neg [B] or None) of one training batch: positives
        h_pos [B, D] and negatives h_neg [B, D] (None without negatives). Override it for a
        goodness whose training score reads the whole batch (e.g. a batch mean); it may update
        ``state`` (under ``torch.no_grad``). Default: ``score`` of each half, with the state
        passed on only when there is one."""
        if state is None:
            return self.score(h_pos), None if h_neg is None else self.score(h_neg)
        return self.score(h_pos, state), None if h_neg is None else self.score(h_neg, state)

    @property
    def batch_aware(self) -> bool:
        """True when this goodness has per-layer state or its own :meth:`score_batch`: a rule must
        then train it through ``layer_loss(h_pos, h_neg, state=...)`` (or ``score_batch``) on the
        whole batch, with the layer's state, and score with ``score(h, state)``."""
        cls = type(self)
        return cls.score_batch is not Goodness.score_batch or cls.init_state is not Goodness.init_state

    def threshold_for(self, width: int) -> float:
        """theta for activity of ``width`` units (goodness functions may derive it from the width)."""
        return float(self.values["threshold"])

    def loss_from_scores(self, g_pos: torch.Tensor, g_neg: torch.Tensor | None, width: int) -> torch.Tensor:
        """FF loss on per-sample scores; ``width`` = number of units the scores were taken over."""
        return ff_logistic_loss(g_pos, g_neg, self.threshold_for(width))

    def layer_loss(
        self, h_pos: torch.Tensor, h_neg: torch.Tensor | None, state: torch.nn.Module | None = None
    ) -> torch.Tensor:
        """The loss a layer trains on: by default the FF loss on :meth:`score_batch`'s scores.
        Rules pass ``state`` only to a goodness that has one (:meth:`init_state`)."""
        g_pos, g_neg = self.score_batch(h_pos, h_neg) if state is None else self.score_batch(h_pos, h_neg, state)
        return self.loss_from_scores(g_pos, g_neg, h_pos.shape[-1])

    # -- hooks for goodness functions trained without negatives (needs_negatives = False) ----
    def augment(self, x_flat: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The layer-1 input actually presented for images ``x_flat`` [N, D] (e.g. K noisy copies
        per image, sample-major: [N * K, D]). Identity by default."""
        return x_flat

    def fit_readout(self, net: FeatureNetwork, data: DatasetBundle, ctx: TrainContext) -> Readout:
        """Train the inference readout on the frozen features of ``net`` (rules call this after
        training when ``needs_negatives`` is False) and return it: its ``predict(hs, n)`` gives
        labels [n] from the layers' activity ``hs`` for ``augment(x)``."""
        raise TypeError(f"goodness {self.name!r} is trained with negatives and has no readout of its own")


class NegativeGenerator(Component):
    """Turns a batch (x, y) into negative samples (images and the labels to embed), or declares none."""

    kind: ClassVar[str] = "negatives"
    #: The class attributes that say how a component of this kind combines with others and runs
    #: (`ffbench plugins` lists them).
    trait_names: ClassVar[tuple[str, ...]] = ("produces_negatives", "needs_scores", "label_free", "needs_model")
    produces_negatives: ClassVar[bool] = True
    #: True if :meth:`generate` wants the model's current label scores (hard negatives).
    needs_scores: ClassVar[bool] = False
    #: True for a generator whose negatives carry no label (label-free FF: no label is embedded in
    #: the positives either, and the model is read by a readout): :meth:`generate` returns
    #: ``(x_neg, None)``. It may still read ``y`` (e.g. to pick a partner of another class). The
    #: default :meth:`LearningRule.accepts` refuses such a generator; a rule that trains label-free
    #: opts in by overriding it.
    label_free: ClassVar[bool] = False
    #: True if :meth:`generate` needs the current model (adversarial negatives): the rule then
    #: also passes ``model=``, a callable ``model(x, labels) -> [N]`` giving the network's goodness
    #: summed over the layers trained so far for images x (as :meth:`generate` receives them) with
    #: ``labels`` embedded (ignored by a label-free network), differentiable with respect to x.
    #: Only such a generator is passed ``model`` (its ``generate`` takes the keyword); the rule
    #: draws its negatives when they are needed (with ``resample``, every epoch). The default
    #: :meth:`LearningRule.accepts` refuses such a generator; a rule that passes a model opts in.
    needs_model: ClassVar[bool] = False

    @property
    def resamples(self) -> bool:
        """Whether negatives are drawn afresh every epoch (else once, before training)."""
        return bool(self.values.get("resample", False))

    @abstractmethod
    def generate(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        *,
        allowed: torch.Tensor,
        generator: torch.Generator,
        scores: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return (x_neg, y_neg): one negative per row of x, same shape and dtype, and its label
        [N] (None when :attr:`label_free`). ``allowed``: labels that may be used; ``scores``:
        [N, C] label scores of the current model (only when :attr:`needs_scores`). A generator
        with :attr:`needs_model` takes one more keyword argument, ``model`` (see there)."""


# ---------------------------------------------------------------------------------------
# Datasets
# ---------------------------------------------------------------------------------------


class Dataset(Component):
    """Loads normalised train/test tensors, knows where its files live and what to say if missing."""

    kind: ClassVar[str] = "dataset"
    #: The class attributes that say how a component of this kind combines with others and runs
    #: (`ffbench plugins` lists them).
    trait_names: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def load(self, data_dir: Path | None = None, download: bool = True) -> DatasetBundle:
        """Load both splits. Raise :class:`ffbench.errors.DatasetNotFoundError` when files are
        missing and cannot be downloaded, saying where it looked and how to fix it."""


# ---------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------


@dataclass
class MetricRow:
    """One tidy value. ``layer`` is 1-based (None: whole model); ``cls`` a class name (None: all
    classes); ``cls_b`` the second class of a pair metric."""

    stat: str
    value: float
    layer: int | None = None
    cls: str | None = None
    cls_b: str | None = None


@dataclass
class MetricResult:
    rows: list[MetricRow]
    #: Full matrices / unit sets, saved as run artifacts next to the rows: name -> array or JSON-able.
    artifacts: dict[str, Any] = field(default_factory=dict)


class Evaluation:
    """A trained model and its test data, with predictions and representations computed once and
    shared by every metric of a run point.

    ``training``: what training the model cost (seconds, FLOPs, peak memory, cached or not), a
    :class:`ffbench.training_record.TrainingRecord` that the runner attaches to every model it
    trains or loads from the cache; None (default) for an Evaluation made elsewhere (e.g. by hand
    in a unit test), where metrics that read it raise."""

    def __init__(
        self,
        model: TrainedModel,
        data: DatasetBundle,
        device: torch.device,
        batch_size: int = 4096,
        training: TrainingRecord | None = None,
    ):
        self.model, self.data, self.device, self.batch_size = model, data, device, batch_size
        self.training = training

    @property
    def classes(self) -> list[str]:
        return self.data.classes

    @property
    def y(self) -> torch.Tensor:
        return self.data.test.y.cpu()

    @cached_property
    def predictions(self) -> torch.Tensor:
        x = self.data.test.x
        with torch.no_grad():
            out = [
                self.model.predict(x[i : i + self.batch_size].to(self.device)).cpu()
                for i in range(0, len(x), self.batch_size)
            ]
        return torch.cat(out)

    @cached_property
    def correct(self) -> torch.Tensor:
        return self.predictions == self.y

    @cached_property
    def representations(self) -> list[torch.Tensor]:
        """Per layer [N_test, D] (CPU, float32), true labels embedded, all test samples."""
        x, y = self.data.test.x, self.data.test.y
        chunks: list[list[torch.Tensor]] = []
        with torch.no_grad():
            for i in range(0, len(x), self.batch_size):
                reps = self.model.representations(
                    x[i : i + self.batch_size].to(self.device), y[i : i + self.batch_size].to(self.device)
                )
                chunks.append([r.float().cpu() for r in reps])
        return [torch.cat([c[l] for c in chunks]) for l in range(len(chunks[0]))]

    def sample_mask(self, samples: str) -> torch.Tensor:
        """Which test samples a metric reads: 'correct' (default in docs/science.md) or 'all'."""
        if samples == "correct":
            return self.correct
        if samples == "all":
            return torch.ones_like(self.correct)
        raise ValueError(f"samples must be 'correct' or 'all', not {samples!r}")


@dataclass(frozen=True)
class TrainingVariant:
    """The declared schema of :meth:`Metric.training_variant`: how a metric needs its model
    trained differently from the run's standard model. ``holdout``: class indices removed from
    the training split (positives and negative labels), e.g. the unseen-category metric."""

    holdout: tuple[int, ...] = ()

    FIELDS: ClassVar[tuple[str, ...]] = ("holdout",)

    def as_dict(self) -> dict[str, Any]:
        """The plain form the runner, cache keys and cache meta use (``{"holdout": [3]}``)."""
        return {"holdout": list(self.holdout)}

    @classmethod
    def coerce(cls, value: TrainingVariant | dict[str, Any] | None, metric: str = "") -> TrainingVariant | None:
        """``value`` as a TrainingVariant (None: the standard model). A plain dict (plugin API 1)
        is accepted when it names only declared fields; anything else is an error naming it."""
        who = f"metric '{metric}'" if metric else "a metric"
        if value is None or isinstance(value, cls):
            return value
        if not isinstance(value, dict):
            raise TypeError(f"{who}: training_variant returned {value!r}; expected a TrainingVariant or None")
        unknown = sorted(set(value) - set(cls.FIELDS))
        if unknown:
            raise ValueError(
                f"{who}: training_variant has unknown field(s) {', '.join(unknown)}; "
                f"declared fields: {', '.join(cls.FIELDS)}"
            )
        holdout = value.get("holdout", ())
        if not all(isinstance(c, int) and not isinstance(c, bool) for c in holdout):
            raise ValueError(f"{who}: training_variant holdout must be class indices, not {holdout!r}")
        return cls(holdout=tuple(holdout))


class Metric(Component):
    """Reads a trained model + test data (+ its representations) and returns tidy rows."""

    kind: ClassVar[str] = "metric"
    #: The class attributes that say how a component of this kind combines with others and runs
    #: (`ffbench plugins` lists them).
    trait_names: ClassVar[tuple[str, ...]] = ("higher_is_better", "headline")
    #: Direction of the headline value: True, False, or None (descriptive, not ranked).
    higher_is_better: ClassVar[bool | None] = None
    #: The stats shown in summary tables and ranked on leaderboards (default: the metric's name).
    headline: ClassVar[tuple[str, ...]] = ()
    #: Optional one-line meanings of stats, for the legends under terminal tables (run summary,
    #: ``ffbench report``): stat -> what it measures, its range and how to read it, e.g.
    #: ``{"sparsity": "Hoyer sparsity of a layer's activity, 0 all units equal .. 1 one unit active;
    #: higher = sparser"}``. The legend adds the direction from ``higher_is_better`` (ranked or
    #: descriptive); a stat without an entry is described by the metric's ``description``.
    stat_help: ClassVar[dict[str, str]] = {}
    #: ``ffbench verify`` (docs/submitting.md): how far a re-run value may lie from the submitted one
    #: where the two cannot be identical (another thread count, torch build, CPU or a CUDA kernel), as a
    #: multiple of that cell's standard deviation over the submitted seeds, and never wider than the
    #: cell's seed std on the board. Default 1.0: a re-run may differ from its seed by one seed std.
    verify_tolerance: ClassVar[float] = 1.0
    #: Stats that measure the machine rather than the model (seconds, memory, energy): ``ffbench
    #: verify`` re-runs them but does not compare them, and lists them as unchecked. Default: none.
    unverified_stats: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def headline_stats(cls) -> tuple[str, ...]:
        return cls.headline or (cls.name,)

    def training_variant(self, data: DatasetBundle) -> TrainingVariant | None:
        """A metric that needs a differently trained model returns how (e.g.
        ``TrainingVariant(holdout=(3,))``); the runner trains (or reuses) that model once and
        passes its Evaluation. A plain dict with the same fields is still accepted (plugin API 1)."""
        return None

    @abstractmethod
    def compute(self, ev: Evaluation) -> MetricResult:
        """Return the rows (and artifacts) of this metric for one trained model."""

    @classmethod
    def figures(cls) -> list[FigureSpec]:
        """The figures ``ffbench report`` draws from this metric's rows and artifacts
        (:class:`ffbench.report.figure_api.FigureSpec`); none by default. Every metric also gets
        the report's generic bars of its headline stats. Import plotting code inside the draw
        functions (or here), not at module level, so that loading the plugin stays fast."""
        return []


KINDS: dict[str, type[Component]] = {
    "rule": LearningRule,
    "goodness": Goodness,
    "negatives": NegativeGenerator,
    "dataset": Dataset,
    "metric": Metric,
}
