"""Conformance checks for ffbench components: what plugin authors run against their own classes.

Each check exercises one promise of a contract (:mod:`ffbench.contracts`) on tiny inputs and, when
it is broken, raises :class:`ConformanceError` naming the component, the check and the problem.
Checks that train a model do so with partner components from the installed registry, in a tiny
:class:`Harness` setting (the ``ff`` rule, ``l2`` goodness, ``wrong-label`` negatives and 300
images of the embedded ``fashion-mnist-mini`` by default).

With pytest, one test per check::

    from ffbench.testing import conformance_suite
    from my_plugin.goodness import MyGoodness
    from my_plugin.rules import MyRule

    TestMyGoodness = conformance_suite(MyGoodness)
    TestMyRule = conformance_suite(MyRule, params={"epochs": 1, "width": 32})  # small and fast

or parametrised over several components::

    @pytest.mark.parametrize("case", conformance_cases(MyGoodness, MyMetric))
    def test_conformance(case):
        case.run()

Without pytest, :func:`check_component` runs every check and raises one ConformanceError listing
all failures. A check that does not apply (a dataset whose files are absent, negatives for a
generator that declares none) is skipped with its reason; ``skip={"check": "why"}`` skips a
check on purpose, with the reason shown.
"""

from __future__ import annotations

import json
import math
import numbers
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ffbench.cache import ModelCache
from ffbench.compat import pair_refusal, require_compatible
from ffbench.component import Component, Param, format_value, parse_spec
from ffbench.contracts import (
    KINDS,
    Dataset,
    DatasetBundle,
    DataSplit,
    Evaluation,
    Goodness,
    LearningRule,
    Metric,
    MetricResult,
    MetricRow,
    ModelCapabilityError,
    NegativeGenerator,
    TrainContext,
    TrainedModel,
    TrainingVariant,
)
from ffbench.defaults import DEFAULTS
from ffbench.errors import DatasetNotFoundError, IncompatibleError, ParameterError
from ffbench.provenance import device_label, training_closure
from ffbench.registry import NAME_PATTERN, collision_message, get_registry
from ffbench.training_record import MeasureTraining, TrainingRecord, count_flops

__all__ = [
    "TINY",
    "TINY_PRESET",
    "Case",
    "Check",
    "CheckResult",
    "ConformanceError",
    "Harness",
    "NotApplicable",
    "TinyParamsWarning",
    "check_component",
    "checks_for",
    "conformance_cases",
    "conformance_suite",
    "tiny_params",
]


class ConformanceError(AssertionError):
    """A component breaks its contract; the message names the component, the check and the problem."""


class NotApplicable(Exception):
    """The check does not apply to this component (reported as skipped, with this reason)."""


#: Small settings for the usual size parameters, by parameter name: what :func:`tiny_params`
#: shrinks. A parameter under another name (``n_epochs``, ``hidden``) is not shrunk unless the
#: component declares it in ``presets["tiny"]``.
TINY: dict[str, Any] = {"epochs": 1, "layers": 2, "width": 32, "batch_size": 100, "train_size": 300, "test_size": 100}

#: The preset a component may declare for :func:`tiny_params` (``presets = {"tiny": {...}}``).
TINY_PRESET = "tiny"


class TinyParamsWarning(UserWarning):
    """A rule declares parameters, but :func:`tiny_params` can shrink none of them."""


def tiny_params(cls: type[Component]) -> dict[str, Any]:
    """Small parameter values that keep ``cls``'s conformance checks fast: the entries of
    :data:`TINY` (epochs 1, layers 2, width 32, batch_size 100, train_size 300, test_size 100)
    whose names ``cls`` has parameters for, updated by the component's own
    ``presets["tiny"]`` when it declares one (for parameters under other names, or other
    values; ``{}`` says "nothing to shrink"). The ``tiny`` preset is read only here: ``ffbench
    run`` offers the presets quick and paper.

    Warns (:class:`TinyParamsWarning`) for a rule that has parameters, none of them named as in
    TINY, and no ``tiny`` preset: its checks would train with its full defaults."""
    tiny = {k: v for k, v in TINY.items() if k in cls.param_map()}
    if TINY_PRESET in cls.presets:
        return {**tiny, **cls.presets[TINY_PRESET]}
    if cls.kind == "rule" and cls.params and not tiny:
        warnings.warn(
            f"rule '{cls.name}' ({cls.__module__}.{cls.__qualname__}) has none of the parameters tiny_params "
            f"shrinks ({', '.join(TINY)}), so its checks train with its defaults "
            f"({', '.join(f'{p.name}={p.default!r}' for p in cls.params)}); declare small values in "
            f"presets = {{'tiny': {{...}}}} (an empty dict if nothing needs shrinking)",
            TinyParamsWarning,
            stacklevel=2,
        )
    return tiny


@dataclass(frozen=True)
class Harness:
    """The tiny setting that checks train and evaluate in. Partners are specs of installed
    components; the component under test takes the place of its own kind. A goodness or negative
    generator under test is paired with the first installed partner it is compatible with when the
    default partner is not."""

    #: The data every training check trains and evaluates on (a dataset under test replaces it).
    dataset: str = "fashion-mnist-mini[test_size=100,train_size=300]"
    #: The rule that trains a goodness, negative generator or metric under test (a rule under test replaces it).
    rule: str = "ff[batch_size=100,epochs=2,layers=2,width=32]"
    #: The goodness and negatives a rule under test (or the harness rule) trains with, when it reads them.
    goodness: str = DEFAULTS["goodness"][0]
    negatives: str = DEFAULTS["negatives"][0]
    #: The seed of the training checks' TrainContext (``deterministic_training`` trains twice with it).
    seed: int = 0
    #: Where the checks train: "cpu", "cuda" or "cuda:N".
    device: str = "cpu"
    #: Where a dataset under test looks for its files (its own default when None); never downloads.
    data_dir: Path | None = None


@dataclass
class Subject:
    """The component class under test, the parameters it is built with, and the harness."""

    cls: type[Component]
    params: Mapping[str, Any]
    harness: Harness

    def build(self) -> Any:
        """A fresh instance (checks never share state through the component)."""
        return self.cls.from_spec(dict(self.params))


@dataclass(frozen=True)
class Check:
    name: str
    doc: str
    fn: Callable[[Subject], None]


@dataclass(frozen=True)
class CheckResult:
    check: str
    status: str  # passed | failed | skipped
    message: str = ""


CHECKS: dict[str, list[Check]] = {kind: [] for kind in KINDS}


def _check(*kinds: str) -> Callable[[Callable[[Subject], None]], Callable[[Subject], None]]:
    """Register a check for the given kinds (all kinds when none are given)."""

    def add(fn: Callable[[Subject], None]) -> Callable[[Subject], None]:
        doc = (fn.__doc__ or "").strip().splitlines()[0]
        for kind in kinds or tuple(KINDS):
            CHECKS[kind].append(Check(fn.__name__, doc, fn))
        return fn

    return add


def expect(condition: Any, problem: str) -> None:
    """Raise :class:`ConformanceError` with ``problem`` unless ``condition`` holds."""
    if not condition:
        raise ConformanceError(problem)


# ---------------------------------------------------------------------------------------
# The harness: partner components, data and trained models, shared across checks
# ---------------------------------------------------------------------------------------

_BUNDLES: dict[tuple[str, str], DatasetBundle] = {}
_MODELS: dict[tuple, TrainedModel] = {}
_RECORDS: dict[tuple, TrainingRecord] = {}


def harness_bundle(harness: Harness) -> DatasetBundle:
    """The harness dataset (loaded once per process, on ``harness.device``)."""
    key = (harness.dataset, harness.device)
    if key not in _BUNDLES:
        bundle = get_registry().build("dataset", harness.dataset).load(None, False)  # type: ignore[attr-defined]
        bundle.train, bundle.test = bundle.train.to(harness.device), bundle.test.to(harness.device)
        _BUNDLES[key] = bundle
    return _BUNDLES[key]


def _first_compatible(kind: str, preferred: str, fits: Callable[[Any], bool], what: str) -> Any:
    registry = get_registry()
    candidate = registry.build(kind, preferred)
    if fits(candidate):
        return candidate
    for entry in registry.all_entries():
        if entry.kind == kind:
            candidate = entry.cls.from_spec({})
            if fits(candidate):
                return candidate
    raise NotApplicable(f"no installed {kind} component {what}")


def training_setup(subject: Subject) -> tuple[LearningRule, Goodness | None, NegativeGenerator | None]:
    """(rule, goodness, negatives) to train with: the subject in its own slot, harness partners
    elsewhere (a goodness or negatives under test gets a compatible partner)."""
    h, registry = subject.harness, get_registry()
    me = subject.build()
    if isinstance(me, Goodness):
        negatives = _first_compatible(
            "negatives",
            h.negatives,
            lambda n: pair_refusal(me, n) is None,
            f"with produces_negatives={me.needs_negatives} to train it with",
        )
        return _accepted(registry.build("rule", h.rule), me, negatives)  # type: ignore[arg-type]
    if isinstance(me, NegativeGenerator):
        goodness = _first_compatible(
            "goodness",
            h.goodness,
            lambda g: pair_refusal(g, me) is None,
            f"with needs_negatives={me.produces_negatives} to train it with",
        )
        return _accepted(registry.build("rule", h.rule), goodness, me)  # type: ignore[arg-type]
    rule = me if isinstance(me, LearningRule) else registry.build("rule", h.rule)
    return _accepted(rule, registry.build("goodness", h.goodness), registry.build("negatives", h.negatives))  # type: ignore[arg-type]


def _accepted(rule: LearningRule, goodness: Goodness, negatives: NegativeGenerator):
    """The setup, unless :func:`ffbench.compat.refusal` refuses it: then the training checks do
    not apply with this harness, and the reason says which harness rule to give instead."""
    try:
        require_compatible(rule, goodness, negatives)
    except IncompatibleError as exc:
        raise NotApplicable(
            f"the harness rule refuses this setup ({exc}); give Harness(rule=...) one that accepts it"
        ) from exc
    return rule, goodness, negatives


def train(subject: Subject, held_out: Iterable[int] = (), cached: bool = True) -> TrainedModel:
    """Train the subject's training setup on the harness data (``held_out`` classes removed from
    training, as the runner does); reused across checks unless ``cached`` is False."""
    rule, goodness, negatives = training_setup(subject)
    bundle, held = harness_bundle(subject.harness), sorted(held_out)
    key = _model_key(subject, held)
    if cached and key in _MODELS:
        return _MODELS[key]
    data = bundle.without_classes(held) if held else bundle
    ctx = TrainContext(
        device=torch.device(subject.harness.device),
        seed=subject.harness.seed,
        train_classes=[c for c in range(bundle.num_classes) if c not in held],
        num_classes=bundle.num_classes,
    )
    goodness = goodness if rule.uses_goodness else None
    negatives = negatives if rule.uses_negatives else None
    with MeasureTraining(ctx.device) as measured:
        model = rule.fit(data, goodness, negatives, ctx)
    if cached:
        _MODELS[key] = model
        _RECORDS[key] = measured.record(device_label(ctx.device)).with_flops(
            *count_flops(rule, data, goodness, negatives)
        )
    return model


def training_record(subject: Subject, held_out: Iterable[int] = ()) -> TrainingRecord:
    """The :class:`~ffbench.training_record.TrainingRecord` of :func:`train`'s (cached) model,
    as the runner would attach it to the model's Evaluation."""
    train(subject, held_out)
    return _RECORDS[_model_key(subject, sorted(held_out))]


def _model_key(subject: Subject, held: list[int]) -> tuple:
    rule, goodness, negatives = training_setup(subject)
    key = tuple((type(c), c.identity) for c in (rule, goodness, negatives) if c is not None)
    return key + (subject.harness, tuple(held))


# ---------------------------------------------------------------------------------------
# Helpers for a plugin author's own unit tests
# ---------------------------------------------------------------------------------------


def tiny_bundle(dataset: str | None = None, device: str = "cpu") -> DatasetBundle:
    """A small real dataset bundle (default: the harness's 300 / 100 embedded Fashion-MNIST
    images), already on ``device``: for a rule's learning test or a metric's smoke test."""
    return harness_bundle(Harness(dataset=dataset or Harness.dataset, device=device))


class ActivityModel(TrainedModel):
    """A stand-in trained model that returns hand-made activity: test sample i (whose "image"
    is the number i) has ``activity[l][i]`` at layer l and prediction ``predictions[i]``."""

    def __init__(self, activity: list[torch.Tensor], predictions: torch.Tensor, weights: list[torch.Tensor]):
        self.activity, self.preds, self._weights = activity, predictions, weights

    @property
    def num_layers(self) -> int:
        return len(self.activity)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.preds[x.flatten().long().cpu()]

    def representations(self, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
        return [a[x.flatten().long().cpu()] for a in self.activity]

    def weights(self) -> list[torch.Tensor]:
        if not self._weights:
            return super().weights()
        return self._weights

    @property
    def has_weight_matrices(self) -> bool:
        return bool(self._weights)


def evaluation_from_activity(
    labels: Iterable[int],
    activity: Iterable[Any],
    predictions: Iterable[int] | None = None,
    classes: Iterable[str] | None = None,
    weights: Iterable[Any] = (),
) -> Evaluation:
    """An :class:`~ffbench.contracts.Evaluation` over hand-made numbers, for a metric's unit test:
        ``labels`` [N] true classes of the test samples, ``activity`` one [N, D_l] matrix per layer
        (lists or tensors), ``predictions`` [N] (default: all correct), ``classes`` names (default
        "0".."C-1"), ``weights`` one [D_l, D_in] matrix per layer for metrics that read weights (none by default: the
    model then has no weight matrices, as a convolutional one)::

            ev = evaluation_from_activity([0, 0, 1], [[[1, 0], [2, 0], [0, 3]]])
            rows = MyMetric.from_spec({}).compute(ev).rows
    """
    y = torch.as_tensor(list(labels), dtype=torch.long)
    acts = [torch.as_tensor(a, dtype=torch.float32) for a in activity]
    if any(a.ndim != 2 or a.shape[0] != len(y) for a in acts):
        raise ValueError(
            f"activity must be one [N, D] matrix per layer with N = {len(y)} labels; got shapes "
            f"{[list(a.shape) for a in acts]}"
        )
    preds = y.clone() if predictions is None else torch.as_tensor(list(predictions), dtype=torch.long)
    names = list(classes) if classes is not None else [str(c) for c in range(int(y.max()) + 1 if len(y) else 0)]
    split = DataSplit(torch.arange(len(y), dtype=torch.float32).reshape(-1, 1, 1, 1), y)
    bundle = DatasetBundle("hand-made", split, split, names, (1, 1, 1), (0.0,), (1.0,), "0" * 16)
    model = ActivityModel(acts, preds, [torch.as_tensor(w, dtype=torch.float32) for w in weights])
    return Evaluation(model, bundle, torch.device("cpu"))


# ---------------------------------------------------------------------------------------
# Checks for every kind
# ---------------------------------------------------------------------------------------


def trait_types(cls: type, trait: str) -> tuple[type, ...]:
    """The types a component's trait may hold: those of the default its contract declares (the trait's
    first definition in the class hierarchy); a trait whose default is None, or ``higher_is_better``
    (None = descriptive), may also be None. The traits are the contract's ``trait_names``."""
    default = next(b.__dict__[trait] for b in reversed(cls.__mro__) if trait in b.__dict__)
    if trait == "higher_is_better" or default is None:
        return (bool, type(None))
    return (type(default),)


@_check()
def declares_contract(s: Subject) -> None:
    """Subclass of its contract, nothing abstract left, valid name/version/params/presets/traits."""
    cls = s.cls
    expect(
        cls.kind in KINDS and issubclass(cls, KINDS[cls.kind]),
        f"kind {cls.kind!r} with base classes {[b.__name__ for b in cls.__mro__[1:]]}: a component "
        f"subclasses one of {', '.join(c.__name__ for c in KINDS.values())}",
    )
    missing = sorted(getattr(cls, "__abstractmethods__", ()))
    expect(not missing, f"abstract methods not implemented: {', '.join(missing)}")
    expect(
        isinstance(cls.name, str) and NAME_PATTERN.fullmatch(cls.name),
        f"name {cls.name!r} is not a valid component name (letters, digits and _.+- only)",
    )
    expect(isinstance(cls.version, str) and cls.version, f"version must be a non-empty string, not {cls.version!r}")
    expect(isinstance(cls.description, str), f"description must be a string, not {type(cls.description).__name__}")
    expect(
        isinstance(cls.params, tuple) and all(isinstance(p, Param) for p in cls.params),
        "params must be a tuple of ffbench.component.Param",
    )
    names = [p.name for p in cls.params]
    expect(len(names) == len(set(names)), f"duplicate parameter names in {names}")
    for preset, overrides in cls.presets.items():
        unknown = sorted(set(overrides) - set(names))
        expect(not unknown, f"preset {preset!r} sets unknown parameters {unknown}; parameters: {names}")
    for trait in cls.trait_names:
        types = trait_types(cls, trait)
        value = getattr(cls, trait)
        expect(isinstance(value, types), f"{trait} must be {' or '.join(t.__name__ for t in types)}, not {value!r}")
    if issubclass(cls, Metric):
        expect(all(isinstance(h, str) and h for h in cls.headline), f"headline must hold stat names: {cls.headline!r}")


@_check()
def name_not_taken(s: Subject) -> None:
    """No other installed plugin registers a different class under the same kind and name."""
    registry = get_registry()
    kind, name = s.cls.kind, s.cls.name
    entries = registry.collisions.get((kind, name))
    if entries is not None:  # the installed plugins already collide on this name
        expect(all(e.cls is s.cls for e in entries), collision_message(kind, name, entries))
        return
    entry = registry.entries.get(kind, {}).get(name)
    if entry is not None and entry.cls is not s.cls:
        raise ConformanceError(
            f"{kind} name {name!r} is already taken by {entry.dist} {entry.dist_version} "
            f"(plugin '{entry.plugin}'); choose another name"
        )


@_check()
def param_schema_round_trip(s: Subject) -> None:
    """Defaults and choices coerce to themselves, from values and from CLI text; the identity
    ``name[k=v,...]`` parses back to an equal component; presets resolve; describe() is JSON."""
    cls = s.cls
    for p in cls.params:
        values = [p.default] + list(p.choices or ())
        if p.choices is not None and p.default is not None:
            expect(p.default in p.choices, f"parameter {p.name!r}: default {p.default!r} is not one of {p.choices}")
        for value in values:
            try:
                direct, from_text = p.coerce(value, cls.name), p.coerce(format_value(value), cls.name)
            except ParameterError as exc:
                raise ConformanceError(f"parameter {p.name!r} rejects its own value {value!r}: {exc}") from None
            expect(
                direct == value and from_text == value and type(direct) is type(value),
                f"parameter {p.name!r}: {value!r} comes back as {direct!r} (from the value) and "
                f"{from_text!r} (from the CLI text {format_value(value)!r})",
            )
    component = s.build()
    for identity in (component.identity, component.short_identity):
        name, spec = parse_spec(identity)
        again = cls.from_spec(spec)
        expect(
            name == cls.name and again == component and again.identity == component.identity,
            f"identity {identity!r} does not parse back to the same component ({again.identity!r})",
        )
    for preset in cls.presets:
        cls.resolve_params({}, preset=preset)
    try:
        cls.resolve_params({"no_such_parameter": 1})
    except ParameterError:
        pass
    else:
        raise ConformanceError("an unknown parameter was accepted; resolve_params must raise ParameterError")
    try:
        json.dumps(cls.describe())
    except TypeError as exc:
        raise ConformanceError(f"describe() is not JSON-serialisable: {exc}") from None


# ---------------------------------------------------------------------------------------
# Goodness
# ---------------------------------------------------------------------------------------


def _activity(n: int, d: int, seed: int) -> torch.Tensor:
    """Post-ReLU-like activity [n, d]: non-negative, about half the units active."""
    g = torch.Generator().manual_seed(seed)
    return torch.relu(torch.randn(n, d, generator=g))


@_check("goodness")
def score_shape(s: Subject) -> None:
    """score(h [N, D]) is a finite floating tensor of shape [N]."""
    h = _activity(8, 16, 0)
    g = s.build().score(h)
    expect(isinstance(g, torch.Tensor), f"score returned {type(g).__name__}, not a tensor")
    expect(tuple(g.shape) == (8,), f"score of activity [8, 16] has shape {list(g.shape)}, expected [8]")
    expect(g.is_floating_point(), f"score has dtype {g.dtype}, expected a floating dtype")
    expect(torch.isfinite(g).all(), f"score has non-finite values: {g.tolist()}")


@_check("goodness")
def score_per_sample(s: Subject) -> None:
    """A sample's score does not depend on the other samples in the batch."""
    h = _activity(8, 16, 1)
    goodness = s.build()
    whole, part = goodness.score(h), goodness.score(h[:3])
    expect(
        torch.allclose(whole[:3], part, rtol=1e-5, atol=1e-6),
        f"scores of the first 3 samples change with the batch: {part.tolist()} alone, "
        f"{whole[:3].tolist()} within 8 samples",
    )


@_check("goodness")
def loss_scalar_with_gradient(s: Subject) -> None:
    """layer_loss(h_pos, h_neg) is a finite scalar whose gradient reaches the activity (one row
    per row of ``augment``: a goodness trained on noisy copies gets its copies)."""
    goodness = s.build()
    rows = goodness.augment(_activity(8, 16, 4), torch.Generator().manual_seed(0)).shape[0]
    h_pos = _activity(rows, 16, 2).requires_grad_(True)
    h_neg = _activity(rows, 16, 3).requires_grad_(True) if goodness.needs_negatives else None
    loss = goodness.layer_loss(h_pos, h_neg)
    expect(
        isinstance(loss, torch.Tensor) and loss.dim() == 0,
        f"layer_loss returned {getattr(loss, 'shape', type(loss).__name__)}, expected a 0-dim tensor",
    )
    expect(torch.isfinite(loss), f"layer_loss is {loss.item()}")
    expect(loss.requires_grad, "layer_loss has no gradient (is it computed under no_grad or detached?)")
    loss.backward()
    for label, h in (("h_pos", h_pos), ("h_neg", h_neg)):
        if h is None:
            continue
        expect(
            h.grad is not None and torch.isfinite(h.grad).all(),
            f"gradient of the loss w.r.t. {label} is missing or not finite",
        )
        expect(h.grad.abs().sum() > 0, f"gradient of the loss w.r.t. {label} is zero everywhere")


# ---------------------------------------------------------------------------------------
# Negative generators
# ---------------------------------------------------------------------------------------


def _generate(s: Subject, x: torch.Tensor, y: torch.Tensor, allowed: torch.Tensor, seed: int):
    negatives = s.build()
    if not negatives.produces_negatives:
        raise NotApplicable("declares produces_negatives = False")
    scores = None
    if negatives.needs_scores:
        g = torch.Generator().manual_seed(seed)
        scores = torch.log_softmax(torch.randn(len(y), int(allowed.max()) + 1, generator=g), dim=1)
    generator = torch.Generator(device=x.device).manual_seed(seed)
    extra = {"model": _probe_model(x.shape[1], seed)} if getattr(negatives, "needs_model", False) else {}
    out = negatives.generate(x, y, allowed=allowed, generator=generator, scores=scores, **extra)
    label_free = getattr(negatives, "label_free", False)
    expect(
        isinstance(out, tuple)
        and len(out) == 2
        and isinstance(out[0], torch.Tensor)
        and (out[1] is None if label_free else isinstance(out[1], torch.Tensor)),
        f"generate returned {type(out).__name__}, expected a tuple (x_neg, "
        + ("None) (label_free = True)" if label_free else "y_neg) of tensors"),
    )
    return out


def _probe_model(dim: int, seed: int):
    """A stand-in for the network a model-aware generator (``needs_model``) is given: a fixed
    random one-layer goodness ``model(x, labels)`` = sum of squared ReLU units of x (labels
    ignored), differentiable with respect to x, as the contract promises."""
    w = torch.randn(dim, 16, generator=torch.Generator().manual_seed(seed)) / dim**0.5

    def model(x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return (x.reshape(x.shape[0], -1) @ w.to(x.device, x.dtype)).relu().pow(2).sum(dim=1)

    return model


def _train_batch(s: Subject, n: int = 64) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Flattened images, labels and all labels, as the ff rule passes them to ``generate``."""
    bundle = harness_bundle(s.harness)
    x, y = bundle.train.flat()[:n], bundle.train.y[:n]
    return x, y, torch.arange(bundle.num_classes, device=y.device)


@_check("negatives")
def generate_shapes(s: Subject) -> None:
    """generate(x [N, D], y [N]) returns x_neg [N, D] and integer labels y_neg [N] on x's device."""
    x, y, allowed = _train_batch(s)
    x_neg, y_neg = _generate(s, x, y, allowed, seed=0)
    expect(tuple(x_neg.shape) == tuple(x.shape), f"x_neg has shape {list(x_neg.shape)}, expected {list(x.shape)}")
    expect(x_neg.dtype == x.dtype, f"x_neg has dtype {x_neg.dtype}, expected {x.dtype}")
    if y_neg is None:  # label-free (checked in _generate)
        expect(x_neg.device == x.device, "negatives are on another device than x")
        return
    expect(tuple(y_neg.shape) == (len(y),), f"y_neg has shape {list(y_neg.shape)}, expected [{len(y)}]")
    expect(y_neg.dtype == torch.long, f"y_neg has dtype {y_neg.dtype}, expected torch.int64")
    expect(x_neg.device == x.device and y_neg.device == y.device, "negatives are on another device than x")


@_check("negatives")
def labels_wrong_and_allowed(s: Subject) -> None:
    """Every negative label differs from the true one and lies in ``allowed`` (also with a class held out)."""
    if getattr(s.cls, "label_free", False):
        raise NotApplicable("declares label_free = True: its negatives carry no label")
    x, y, allowed = _train_batch(s)
    held = int(y[0])
    keep = y != held
    for xs, ys, labels in ((x, y, allowed), (x[keep], y[keep], allowed[allowed != held])):
        _, y_neg = _generate(s, xs, ys, labels, seed=1)
        same = int((y_neg == ys).sum())
        expect(same == 0, f"{same} of {len(ys)} negative labels equal the true label")
        outside = sorted(set(y_neg.tolist()) - set(labels.tolist()))
        expect(not outside, f"negative labels {outside} are not in allowed = {labels.tolist()}")


@_check("negatives")
def generate_seeded(s: Subject) -> None:
    """The same generator seed gives the same negatives (randomness comes from ``generator``)."""
    x, y, allowed = _train_batch(s)
    a, b = _generate(s, x, y, allowed, seed=7), _generate(s, x, y, allowed, seed=7)
    same_labels = a[1] is None and b[1] is None or a[1] is not None and b[1] is not None and torch.equal(a[1], b[1])
    expect(torch.equal(a[0], b[0]) and same_labels, "two calls with equally seeded generators differ")


# ---------------------------------------------------------------------------------------
# Rules (and goodness / negatives through the harness rule)
# ---------------------------------------------------------------------------------------


def check_trained_model(model: Any, bundle: DatasetBundle, n: int = 64) -> None:
    """What metrics rely on: predictions [N] in range; representations [N, D_l] of finite floats per
    layer (any sign, unless the model declares ``nonnegative_activity = True``: then >= 0); and,
    when the model declares ``has_weight_matrices``, one incoming weight matrix [D_l, D_in] per
    layer. A model without weight matrices passes if ``weights()`` raises ModelCapabilityError."""
    expect(isinstance(model, TrainedModel), f"fit returned {type(model).__name__}, not a TrainedModel")
    layers = model.num_layers
    expect(isinstance(layers, int) and layers >= 1, f"num_layers is {layers!r}, expected an int >= 1")
    has_weights, nonneg = model.has_weight_matrices, model.nonnegative_activity
    expect(isinstance(has_weights, bool), f"has_weight_matrices is {has_weights!r}, expected True or False")
    expect(nonneg in (True, False, None), f"nonnegative_activity is {nonneg!r}, expected True, False or None")
    x, y = bundle.test.x[:n], bundle.test.y[:n]
    with torch.no_grad():
        pred, reps = model.predict(x), model.representations(x, y)
    expect(
        isinstance(pred, torch.Tensor) and tuple(pred.shape) == (n,),
        f"predict(x [{n}, ...]) returned shape {list(getattr(pred, 'shape', []))}, expected [{n}]",
    )
    expect(
        not pred.is_floating_point() and pred.dtype != torch.bool,
        f"predictions have dtype {pred.dtype}, expected integer labels",
    )
    expect(
        bool(((pred >= 0) & (pred < bundle.num_classes)).all()),
        f"predictions outside 0..{bundle.num_classes - 1}: {sorted(set(pred.tolist()))}",
    )
    expect(
        isinstance(reps, list) and len(reps) == layers,
        f"representations returned {len(reps) if isinstance(reps, list) else type(reps).__name__} "
        f"layers, expected a list of num_layers = {layers}",
    )
    for l, h in enumerate(reps, start=1):
        expect(
            h.dim() == 2 and h.shape[0] == n, f"layer {l} representation has shape {list(h.shape)}, expected [{n}, D]"
        )
        expect(h.is_floating_point() and torch.isfinite(h).all(), f"layer {l} representation is not finite floats")
        if nonneg:
            expect(
                bool((h >= 0).all()),
                f"layer {l} representation has negative values (min {float(h.min()):.4g}), but the model "
                "declares nonnegative_activity = True",
            )
    _check_weights(model, reps, has_weights)


def _check_weights(model: TrainedModel, reps: list[torch.Tensor], has_weights: bool) -> None:
    """Declared weight matrices have the contract's shapes; undeclared ones are refused clearly."""
    if not has_weights:
        try:
            model.weights()
        except ModelCapabilityError:
            return
        raise ConformanceError(
            "has_weight_matrices is False, but weights() returned a value instead of raising "
            "ModelCapabilityError (leave weights() to the TrainedModel default)"
        )
    with torch.no_grad():
        weights = model.weights()
    layers = len(reps)
    expect(
        isinstance(weights, list) and len(weights) == layers,
        f"weights() must return a list of {layers} matrices (or the model declares has_weight_matrices = False)",
    )
    for l, (h, w) in enumerate(zip(reps, weights), start=1):
        expect(
            isinstance(w, torch.Tensor) and w.dim() == 2 and w.shape[0] == h.shape[1],
            f"layer {l} weight has shape {list(getattr(w, 'shape', []))}, expected [{h.shape[1]}, D_in] "
            "(one row per unit of the layer's representation)",
        )


@_check("rule", "goodness", "negatives")
def trains_and_predicts(s: Subject) -> None:
    """Trains with the harness (or, for a rule, with the harness goodness and negatives) and
    returns a model whose predictions, representations and weights have the contract's shapes."""
    check_trained_model(train(s), harness_bundle(s.harness))


@_check("rule", "goodness", "negatives")
def deterministic_training(s: Subject) -> None:
    """Training twice with the same seed gives the same predictions and representations."""
    bundle = harness_bundle(s.harness)
    first, second = train(s), train(s, cached=False)
    x, y = bundle.test.x, bundle.test.y
    with torch.no_grad():
        p1, p2 = first.predict(x), second.predict(x)
        r1, r2 = first.representations(x, y), second.representations(x, y)
    differ = int((p1 != p2).sum())
    expect(
        differ == 0,
        f"{differ} of {len(x)} test predictions differ between two trainings with seed "
        f"{s.harness.seed} (use ctx.generator / ctx.seed for every random draw)",
    )
    for l, (a, b) in enumerate(zip(r1, r2), start=1):
        expect(
            torch.allclose(a, b, rtol=1e-5, atol=1e-6),
            f"layer {l} representations differ between two trainings with the same seed "
            f"(max difference {float((a - b).abs().max()):.3g})",
        )


@_check("rule")
def trained_model_picklable(s: Subject) -> None:
    """The trained model survives the model cache: saved with torch.save and loaded back with
    weights_only=True, rebuilding only classes of the modules the components train with."""
    model, bundle = train(s), harness_bundle(s.harness)
    trusted = training_closure(*(type(c) for c in training_setup(s) if c is not None))
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        cache = ModelCache(Path(folder))
        try:
            cache.save("conformance", model, {})
        except Exception as exc:
            raise ConformanceError(f"the trained model cannot be pickled: {type(exc).__name__}: {exc}") from None
        hit = cache.load("conformance", trusted, warn=problems.append)
    expect(
        hit is not None,
        "the trained model cannot be loaded back from the model cache with "
        f"weights_only=True: {problems[0] if problems else 'unknown reason'} (a model may hold "
        "tensors, plain values, torch.nn modules and classes of its own plugin's modules)",
    )
    x = bundle.test.x[:64]
    with torch.no_grad():
        expect(torch.equal(model.predict(x), hit.model.predict(x)), "the reloaded model predicts differently")


# ---------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------


def evaluation(s: Subject, metric: Metric) -> Evaluation:
    """An Evaluation of the harness model, trained as the metric's training_variant asks."""
    bundle = harness_bundle(s.harness)
    try:
        variant = TrainingVariant.coerce(metric.training_variant(bundle), metric.name)
    except (TypeError, ValueError) as exc:
        raise ConformanceError(str(exc)) from None
    held = list(variant.holdout) if variant else []
    expect(
        all(isinstance(c, int) and 0 <= c < bundle.num_classes for c in held),
        f"training_variant holds out {held!r}, expected class indices 0..{bundle.num_classes - 1}",
    )
    return Evaluation(
        train(s, held_out=held), bundle, torch.device(s.harness.device), training=training_record(s, held)
    )


def _row_key(row: MetricRow) -> tuple:
    return (row.stat, row.layer, row.cls, row.cls_b)


@_check("metric")
def rows_well_formed(s: Subject) -> None:
    """compute returns a MetricResult of MetricRows: named stats, float values (finite, or NaN for
    "undefined"), 1-based layers, known class names, no duplicates, the headline stats present."""
    metric = s.build()
    ev = evaluation(s, metric)
    result = metric.compute(ev)
    expect(isinstance(result, MetricResult), f"compute returned {type(result).__name__}, not a MetricResult")
    expect(isinstance(result.rows, list) and result.rows, "compute returned no rows")
    layers, classes, seen = ev.model.num_layers, set(ev.classes), set()
    for row in result.rows:
        expect(isinstance(row, MetricRow), f"row {row!r} is not a MetricRow")
        where = f"row {_row_key(row)}"
        expect(isinstance(row.stat, str) and row.stat, f"{where}: stat must be a non-empty string")
        expect(
            isinstance(row.value, numbers.Real) and not isinstance(row.value, bool),
            f"{where}: value {row.value!r} ({type(row.value).__name__}) is not a real number; use float(...)",
        )
        expect(not math.isinf(row.value), f"{where}: value is infinite (use NaN for undefined values)")
        expect(
            row.layer is None
            or (isinstance(row.layer, int) and not isinstance(row.layer, bool) and 1 <= row.layer <= layers),
            f"{where}: layer must be None or 1..{layers} (1-based)",
        )
        for label in (row.cls, row.cls_b):
            expect(label is None or label in classes, f"{where}: class {label!r} is not one of {sorted(classes)}")
        expect(row.cls_b is None or row.cls is not None, f"{where}: cls_b is set without cls")
        expect(_row_key(row) not in seen, f"{where} appears twice")
        seen.add(_row_key(row))
    stats = {r.stat for r in result.rows}
    missing = [h for h in metric.headline_stats() if h not in stats]
    expect(not missing, f"headline stats {missing} are not among the rows' stats {sorted(stats)}")
    expect(
        isinstance(result.artifacts, dict) and all(isinstance(k, str) and k for k in result.artifacts),
        "artifacts must be a dict with non-empty string keys",
    )


@_check("metric")
def compute_deterministic(s: Subject) -> None:
    """Computing twice on the same trained model gives the same rows."""
    metric = s.build()
    ev = evaluation(s, metric)
    a, b = metric.compute(ev).rows, metric.compute(Evaluation(ev.model, ev.data, ev.device, training=ev.training)).rows

    def same(u: float, v: float) -> bool:
        return (math.isnan(u) and math.isnan(v)) or u == v

    expect([_row_key(r) for r in a] == [_row_key(r) for r in b], "the rows differ in stats/layers/classes")
    diff = [(_row_key(r), r.value, q.value) for r, q in zip(a, b) if not same(float(r.value), float(q.value))]
    expect(not diff, f"values differ between two computations: {diff[:3]}")


# ---------------------------------------------------------------------------------------
# Datasets
# ---------------------------------------------------------------------------------------


def _load(s: Subject) -> tuple[Dataset, DatasetBundle]:
    dataset = s.build()
    try:
        return dataset, dataset.load(s.harness.data_dir, False)
    except DatasetNotFoundError as exc:
        raise NotApplicable(f"data not available here ({exc})") from None


@_check("dataset")
def bundle_consistent(s: Subject) -> None:
    """load returns a DatasetBundle whose tensors, shape, classes, normalisation and hash agree."""
    dataset, b = _load(s)
    expect(isinstance(b, DatasetBundle), f"load returned {type(b).__name__}, not a DatasetBundle")
    expect(b.name == dataset.name, f"bundle name {b.name!r} differs from the dataset's name {dataset.name!r}")
    expect(
        isinstance(b.shape, tuple) and len(b.shape) == 3 and all(isinstance(d, int) and d > 0 for d in b.shape),
        f"shape {b.shape!r} is not (C, H, W) of positive ints",
    )
    expect(
        isinstance(b.classes, list)
        and len(b.classes) >= 2
        and len(set(b.classes)) == len(b.classes)
        and all(isinstance(c, str) and c for c in b.classes),
        f"classes {b.classes!r} are not >= 2 distinct names",
    )
    for split_name, split in (("train", b.train), ("test", b.test)):
        x, y = split.x, split.y
        expect(len(y) > 0, f"the {split_name} split is empty")
        expect(
            tuple(x.shape) == (len(y), *b.shape),
            f"{split_name}.x has shape {list(x.shape)}, expected [{len(y)}, {', '.join(map(str, b.shape))}]",
        )
        expect(x.dtype == torch.float32, f"{split_name}.x has dtype {x.dtype}, expected torch.float32")
        expect(
            y.dtype == torch.long and y.dim() == 1,
            f"{split_name}.y must be a 1-D int64 tensor, not {y.dtype} {list(y.shape)}",
        )
        expect(bool(torch.isfinite(x).all()), f"{split_name}.x has non-finite values")
        expect(
            int(y.min()) >= 0 and int(y.max()) < b.num_classes,
            f"{split_name} labels span {int(y.min())}..{int(y.max())}, expected 0..{b.num_classes - 1}",
        )
    channels = b.shape[0]
    expect(
        len(b.mean) == channels and len(b.std) == channels and all(sd > 0 for sd in b.std),
        f"mean {b.mean} / std {b.std} must have one value per channel ({channels}), std > 0",
    )
    expect(isinstance(b.content_hash, str) and b.content_hash, "content_hash must be a non-empty string")


@_check("dataset")
def content_hash_stable(s: Subject) -> None:
    """Loading twice gives the same content hash and the same tensors."""
    _, a = _load(s)
    _, b = _load(s)
    expect(
        a.content_hash == b.content_hash, f"content hash changes between loads: {a.content_hash} vs {b.content_hash}"
    )
    expect(torch.equal(a.train.y, b.train.y) and torch.equal(a.test.x, b.test.x), "two loads give different data")


# ---------------------------------------------------------------------------------------
# Running checks: plain, parametrised, or as a pytest class
# ---------------------------------------------------------------------------------------


def checks_for(cls: type[Component]) -> list[Check]:
    """The checks that apply to ``cls``'s kind, in order."""
    if cls.kind not in CHECKS:
        raise ConformanceError(f"{cls.__name__}.kind is {cls.kind!r}; valid kinds: {', '.join(KINDS)}")
    return list(CHECKS[cls.kind])


@contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one CPU thread: the harness's tiny tensors gain nothing from more, and on a
    busy machine idle-spinning worker threads make them many times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def run_check(check: Check, subject: Subject) -> None:
    """Run one check; failures (and crashes of the component) become a ConformanceError that names
    the component and the check. NotApplicable passes through."""
    cls = subject.cls
    who = f"{cls.kind} '{cls.name}' ({cls.__module__}.{cls.__qualname__})"
    try:
        with single_thread():
            check.fn(subject)
    except NotApplicable:
        raise
    except ConformanceError as exc:
        raise ConformanceError(f"{who} fails check '{check.name}': {exc}") from None
    except Exception as exc:
        raise ConformanceError(f"{who} fails check '{check.name}': it raised {type(exc).__name__}: {exc}") from exc


@dataclass(frozen=True)
class Case:
    """One check of one component, runnable under pytest (``case.run()``)."""

    check: Check
    subject: Subject
    skip_reason: str | None = None

    def __str__(self) -> str:
        return f"{self.subject.cls.name}-{self.check.name}"

    def run(self) -> None:
        import pytest

        if self.skip_reason is not None:
            pytest.skip(self.skip_reason)
        try:
            run_check(self.check, self.subject)
        except NotApplicable as exc:
            pytest.skip(f"{self.check.name} does not apply: {exc}")
        except ConformanceError as exc:
            if exc.__cause__ is not None:  # the component crashed: its traceback is what helps
                raise
            pytest.fail(str(exc), pytrace=False)


def _cases(
    cls: type[Component], params: Mapping[str, Any] | None, harness: Harness | None, skip: Mapping[str, str] | None
) -> list[Case]:
    checks = checks_for(cls)
    unknown = sorted(set(skip or {}) - {c.name for c in checks})
    if unknown:
        raise ValueError(
            f"skip names unknown checks {unknown}; checks for a {cls.kind}: {', '.join(c.name for c in checks)}"
        )
    subject = Subject(cls, dict(params or {}), harness or Harness())
    return [Case(c, subject, (skip or {}).get(c.name)) for c in checks]


def conformance_cases(
    *classes: type[Component],
    params: Mapping[str, Any] | None = None,
    harness: Harness | None = None,
    skip: Mapping[str, str] | None = None,
) -> list[Any]:
    """``pytest.param`` cases (id ``name-check``) for ``@pytest.mark.parametrize("case", ...)``;
    each test calls ``case.run()``. ``params`` (the same for every class) builds the components."""
    import pytest

    return [pytest.param(case, id=str(case)) for cls in classes for case in _cases(cls, params, harness, skip)]


def conformance_suite(
    cls: type[Component],
    *,
    params: Mapping[str, Any] | None = None,
    harness: Harness | None = None,
    skip: Mapping[str, str] | None = None,
) -> type:
    """A pytest test class with one ``test_<check>`` per check of ``cls``; assign it to a name
    starting with ``Test`` in a test module."""
    namespace: dict[str, Any] = {"__doc__": f"Conformance of {cls.kind} '{cls.name}'."}
    for case in _cases(cls, params, harness, skip):

        def test(self: Any, _case: Case = case) -> None:
            _case.run()

        test.__name__ = f"test_{case.check.name}"
        test.__doc__ = case.check.doc
        namespace[test.__name__] = test
    return type(f"Test{cls.__name__}Conformance", (), namespace)


def check_component(
    cls: type[Component],
    *,
    params: Mapping[str, Any] | None = None,
    harness: Harness | None = None,
    skip: Mapping[str, str] | None = None,
) -> list[CheckResult]:
    """Run every check of ``cls``; return the results, or raise one ConformanceError listing
    every failure."""
    results: list[CheckResult] = []
    for case in _cases(cls, params, harness, skip):
        if case.skip_reason is not None:
            results.append(CheckResult(case.check.name, "skipped", case.skip_reason))
            continue
        try:
            run_check(case.check, case.subject)
        except NotApplicable as exc:
            results.append(CheckResult(case.check.name, "skipped", str(exc)))
        except ConformanceError as exc:
            results.append(CheckResult(case.check.name, "failed", str(exc)))
        else:
            results.append(CheckResult(case.check.name, "passed"))
    failures = [r.message for r in results if r.status == "failed"]
    if failures:
        raise ConformanceError(f"{len(failures)} of {len(results)} checks failed:\n" + "\n".join(failures))
    return results
