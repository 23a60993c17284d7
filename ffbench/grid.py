"""Expanding a run grid: rules x goodness x negatives x datasets x seeds x parameter values.

Component lists accept ``name`` or ``name[k=v,...]`` and may be comma-separated
(``ff,bp-ff``). ``--param TARGET.KEY=V1,V2`` overrides a parameter of every component matching
TARGET (a kind: rule, goodness, negatives, dataset, metric; a component name; or KIND:NAME, which a
name that two chosen kinds share requires); several values add a grid axis. Rules that read no
goodness / negatives (bp) get none, and duplicate points are dropped. A combination that cannot
train (:func:`ffbench.compat.refusal`) is skipped with a note while each of its components trains
in another point; a chosen component that no point trains is an error.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ffbench.compat import partners, refusal
from ffbench.component import Component, parse_spec, split_top_level
from ffbench.contracts import KINDS, Dataset, Goodness, LearningRule, Metric, NegativeGenerator
from ffbench.errors import FFBenchError, IncompatibleError, ParameterError
from ffbench.registry import Registry
from ffbench.suites import Suite


@dataclass(frozen=True)
class ParamOverride:
    """One ``--param TARGET.KEY=V1,V2``. TARGET is a kind (every chosen component of that kind), a
    component name, or KIND:NAME (that kind's component of that name: the one form for a name that
    chosen components of two kinds share, e.g. a rule and a goodness both called ``symba``)."""

    target: str
    key: str
    values: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> ParamOverride:
        if "=" not in text or "." not in text.split("=", 1)[0]:
            raise ParameterError(
                f"Malformed --param {text!r}: expected TARGET.KEY=VALUE[,VALUE...], "
                "e.g. ff.epochs=5, rule.lr=0.01,0.001 or goodness:symba.alpha=2."
            )
        lhs, rhs = text.split("=", 1)
        target, key = lhs.rsplit(".", 1)
        kind, qualified, name = target.strip().partition(":")
        if qualified and (kind not in KINDS or not name):
            raise ParameterError(
                f"Malformed --param {text!r}: a qualified target is KIND:NAME with KIND one of "
                f"{', '.join(KINDS)}, e.g. goodness:symba.alpha=2."
            )
        values = tuple(v.strip() for v in rhs.split(",") if v.strip())
        if not values:
            raise ParameterError(f"--param {text!r} gives no value.")
        return cls(target.strip(), key.strip(), values)

    @property
    def scope(self) -> tuple[str | None, str | None]:
        """(kind, name) that the target names; None for either where it names any."""
        kind, qualified, name = self.target.partition(":")
        if qualified:
            return kind, name
        return (self.target, None) if self.target in KINDS else (None, self.target)

    def applies_to(self, component_cls: type[Component]) -> bool:
        kind, name = self.scope
        return kind in (None, component_cls.kind) and name in (None, component_cls.name)


def check_unambiguous(overrides: Sequence[ParamOverride], given: dict[str, list[str]]) -> None:
    """A --param target naming chosen components of two kinds by their shared name is refused, with
    the KIND:NAME forms that say which (it would otherwise set the parameter on both)."""
    for o in overrides:
        kind, name = o.scope
        kinds = [k for k, specs in given.items() if kind is None and any(parse_spec(s)[0] == name for s in specs)]
        if len(kinds) > 1:
            forms = " or ".join(f"--param {k}:{name}.{o.key}={','.join(o.values)}" for k in kinds)
            raise ParameterError(
                f"--param {o.target}.{o.key} is ambiguous: '{name}' names a chosen {' and a chosen '.join(kinds)}. "
                f"Say which: {forms}."
            )


@dataclass(frozen=True)
class RunPoint:
    """One trained configuration: a rule with its goodness/negatives on a dataset with a seed."""

    rule: LearningRule
    goodness: Goodness | None
    negatives: NegativeGenerator | None
    dataset: Dataset
    seed: int
    preset: str = "paper"

    def components(self) -> dict[str, Component | None]:
        return {"rule": self.rule, "goodness": self.goodness, "negatives": self.negatives, "dataset": self.dataset}

    @property
    def config(self) -> dict[str, Any]:
        """The canonical description of this point (what its config hash is computed from)."""
        comps = self.components()
        return {
            "components": {k: (c.identity if c else None) for k, c in comps.items()},
            "versions": {k: (c.version if c else None) for k, c in comps.items()},
            "seed": self.seed,
        }

    @property
    def config_hash(self) -> str:
        return canonical_hash(self.config)

    @property
    def label(self) -> str:
        parts = [self.rule.short_identity]
        if self.goodness:
            parts.append(self.goodness.short_identity)
        if self.negatives:
            parts.append(self.negatives.short_identity)
        return f"{' / '.join(parts)} on {self.dataset.short_identity} (seed {self.seed})"


def canonical_hash(obj: Any) -> str:
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass
class Grid:
    points: list[RunPoint]
    metrics: list[Metric]
    notes: list[str] = field(default_factory=list)


def split_specs(values: Iterable[str]) -> list[str]:
    """Flatten repeated and comma-separated component options, keeping brackets intact."""
    out: list[str] = []
    for value in values:
        out.extend(split_top_level(value))
    return out


#: The seeds every backend accepts: numpy's ``default_rng`` takes no negative seed, the results'
#: ``seed`` column is a signed 64-bit integer, and ``torch.Generator.manual_seed`` takes up to 2**64-1.
SEED_MAX = 2**63 - 1
#: The most run points one grid may hold (checked before it is expanded).
MAX_POINTS = 1_000_000
#: The command-line flag of each kind's component list (for messages).
FLAGS = {
    "rule": "--rule",
    "goodness": "--goodness",
    "negatives": "--negatives",
    "dataset": "--dataset",
    "metric": "--metric",
}


def check_seed_range(seeds: Sequence[int]) -> None:
    """Raise a :class:`ParameterError` unless every seed is a whole number in 0..:data:`SEED_MAX`.
    A ``range`` is checked by its ends, so a huge one costs nothing."""
    if isinstance(seeds, range):
        ends = [seeds[0], seeds[-1]] if len(seeds) else []
    else:
        ends = list(seeds)
    bad = [s for s in ends if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= SEED_MAX]
    if bad:
        raise ParameterError(
            f"Seed {bad[0]} is out of range: seeds must be whole numbers from 0 to {SEED_MAX} (2**63-1; numpy's "
            "default_rng takes no negative seed, the results' seed column is a signed 64-bit integer, and "
            "torch.Generator.manual_seed takes up to 2**64-1). Nothing was trained."
        )


def check_seed_option(first: int, count: int) -> None:
    """``--seed FIRST --seeds COUNT``, checked before anything is built: every seed in range
    (:func:`check_seed_range`) and at most :data:`MAX_POINTS` of them."""
    if count > MAX_POINTS:
        raise ParameterError(
            f"--seeds {count} is more seeds than one run may have ({MAX_POINTS}); split the run. Nothing was trained."
        )
    check_seed_range(range(first, first + count))


def _conflicts(spec: str, spec_params: dict[str, str], mine: Sequence[ParamOverride]) -> None:
    """A value given in the spec and again by --param, or by two --param options, is refused
    with both values named (which one would win is not obvious, so neither does)."""
    by_key: dict[str, ParamOverride] = {}
    for o in mine:
        if o.key in spec_params and (len(o.values) > 1 or o.values[0] != spec_params[o.key]):
            raise ParameterError(
                f"Parameter '{o.key}' is set twice: {o.key}={spec_params[o.key]} in {spec!r} and "
                f"--param {o.target}.{o.key}={','.join(o.values)}; give it in one place."
            )
        if o.key in by_key and by_key[o.key].values != o.values:
            first, second = (f"--param {x.target}.{o.key}={','.join(x.values)}" for x in (by_key[o.key], o))
            raise ParameterError(f"Parameter '{o.key}' of {spec!r} is set twice: {first} and {second}; give it once.")
        by_key[o.key] = o


def build_components(
    registry: Registry, kind: str, specs: Sequence[str], overrides: Sequence[ParamOverride], preset: str
) -> list[Component]:
    """Instances for every spec x every combination of the --param values that apply to it."""
    built: dict[Component, None] = {}  # insertion-ordered set: duplicates dropped in linear time
    for spec in specs:
        name, spec_params = parse_spec(spec)
        entry = registry.get(kind, name)
        mine = [o for o in overrides if o.applies_to(entry.cls)]
        schema = entry.cls.param_map()
        for o in mine:
            if o.key not in schema and o.scope[1] == name:
                entry.cls.resolve_params({o.key: None})  # raises a ParameterError naming valid keys
        mine = [o for o in mine if o.key in schema]
        _conflicts(spec, spec_params, mine)
        mine = [o for o in mine if o.key not in spec_params]  # the same value in both places: once
        for combo in itertools.product(*(o.values for o in mine)):
            params: dict[str, Any] = dict(spec_params)
            params.update({o.key: v for o, v in zip(mine, combo)})
            built.setdefault(entry.cls.from_spec(params, preset=preset))
    return list(built)


def check_overrides(registry: Registry, overrides: Sequence[ParamOverride], chosen: dict[str, list[Component]]) -> None:
    """Every --param must reach at least one chosen component that has that parameter."""
    for o in overrides:
        reached = [c for comps in chosen.values() for c in comps if o.applies_to(type(c))]
        if any(o.key in c.param_map() for c in reached):
            continue
        if not reached:
            targets = sorted(set(KINDS) | {c.name for comps in chosen.values() for c in comps})
            raise ParameterError(
                f"--param target '{o.target}' matches no chosen component. Valid targets: {', '.join(targets)} "
                "(or KIND:NAME)."
            )
        keys = sorted({p for c in reached for p in c.param_map()})
        raise ParameterError(
            f"No chosen {o.target} has a parameter '{o.key}'. Valid parameters: {', '.join(keys) or '(none)'}."
        )


def expand_grid(
    registry: Registry,
    *,
    rules: Sequence[str],
    goodness: Sequence[str],
    negatives: Sequence[str],
    datasets: Sequence[str],
    metrics: Sequence[str],
    seeds: Sequence[int],
    params: Sequence[str] = (),
    preset: str = "quick",
) -> Grid:
    check_seed_range(seeds)
    if not len(seeds):
        raise ParameterError("No seed given: choose at least one (e.g. --seed 0 --seeds 1).")
    overrides = [ParamOverride.parse(p) for p in params]
    given: dict[str, list[str]] = {
        "rule": split_specs(rules),
        "goodness": split_specs(goodness),
        "negatives": split_specs(negatives),
        "dataset": split_specs(datasets),
        "metric": split_specs(metrics),
    }
    for kind, specs in given.items():
        if not specs:
            raise ParameterError(
                f"{FLAGS[kind]} selects no {kind}: give at least one name, e.g. "
                f"{FLAGS[kind]} {registry.names(kind)[0] if registry.names(kind) else 'NAME'} "
                f"(`ffbench plugins` lists them). Nothing was run."
            )
    check_unambiguous(overrides, given)
    chosen = {kind: build_components(registry, kind, specs, overrides, preset) for kind, specs in given.items()}
    size = len(seeds) * math.prod(len(chosen[k]) for k in ("rule", "goodness", "negatives", "dataset"))
    if size > MAX_POINTS:
        raise ParameterError(
            f"This grid would hold up to {size} run points, more than the {MAX_POINTS} one run may have; "
            "split it (fewer seeds or parameter values per run). Nothing was run."
        )
    check_overrides(registry, overrides, chosen)
    grid = Grid(points=[], metrics=chosen["metric"])  # type: ignore[arg-type]
    refused: dict[tuple, str] = {}  # (rule, goodness, negatives) -> reason (ffbench.compat.refusal)
    unique_seeds = list(dict.fromkeys(seeds))
    pairs = list(itertools.product(chosen["goodness"], chosen["negatives"]))
    for rule in chosen["rule"]:
        for g, n in dict.fromkeys(partners(rule, g, n) for g, n in pairs):  # type: ignore[arg-type]
            reason = refusal(rule, g, n)  # type: ignore[arg-type]
            if reason is not None:
                refused[(rule, g, n)] = reason
                continue
            # seeds innermost; checks once per combination (bp reads neither: one): linear in the points
            points = (RunPoint(rule, g, n, d, seed, preset) for d in chosen["dataset"] for seed in unique_seeds)
            grid.points.extend(points)  # type: ignore[arg-type]
    _note_refusals(refused, chosen, grid)
    return grid


def _note_refusals(refused: dict[tuple, str], chosen: dict[str, list[Component]], grid: Grid) -> None:
    """Refused (rule, goodness, negatives) combinations become notes (one per reason, naming its
    rules), while each of their components trains in another point; a chosen component that no point
    trains is an error carrying its reasons, before anything trains (why: see ffbench.compat)."""
    rules_of: dict[tuple, list[Component]] = {}  # (goodness, negatives, reason) -> the rules refused so
    for (rule, g, n), reason in refused.items():
        rules_of.setdefault((g, n, reason), []).append(rule)
    lines = [
        (
            [*rules, g, n],
            f"rule {', '.join(r.short_identity for r in rules)} with goodness {g.short_identity if g else '-'} "
            f"and negatives {n.short_identity if n else '-'}: {reason}",
        )
        for (g, n, reason), rules in rules_of.items()
    ]
    trained = {id(c) for p in grid.points for c in (p.rule, p.goodness, p.negatives)}
    reads = {"rule": True, "goodness": any(r.uses_goodness for r in chosen["rule"])}  # type: ignore[attr-defined]
    reads["negatives"] = any(r.uses_negatives for r in chosen["rule"])  # type: ignore[attr-defined]
    idle = [c for kind, read in reads.items() if read for c in chosen[kind] if id(c) not in trained]
    if idle:
        why = "; ".join(line for comps, line in lines if any(c in comps for c in idle))
        names = ", ".join(f"{c.kind} {c.short_identity}" for c in idle)
        raise IncompatibleError(f"Nothing to run for {names}: {why}." if grid.points else f"Nothing to run for {why}.")
    grid.notes.extend(f"skipped {line}" for _, line in lines)


def suite_grid(
    registry: Registry,
    suite: Suite,
    seeds: Sequence[int] | None = None,
    *,
    rules: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
) -> Grid:
    """The run points of ``suite`` (its entries in order, duplicates dropped), measured with its
    metrics. ``seeds`` replaces every entry's seeds (``ffbench run --suite S --seeds N``);
    ``rules`` / ``metrics`` keep only the points of those rules / only those metrics (base names,
    e.g. ``bp``, ``cost``), to rerun part of a suite, e.g. after a rule's version changed; a name
    the suite does not have is an error that lists the suite's."""
    points: list[RunPoint] = []
    notes: list[str] = []
    built: list[Metric] | None = None
    for entry in suite.entries:
        part = expand_grid(
            registry,
            rules=entry.rules,
            goodness=entry.goodness,
            negatives=entry.negatives,
            datasets=entry.datasets,
            metrics=suite.metrics,
            seeds=entry.seeds if seeds is None else seeds,
            params=entry.params,
            preset=entry.preset,
        )
        built = built if built is not None else part.metrics
        points += [p for p in part.points if p not in points]
        notes += part.notes
    if seeds is not None:  # seed 0 of every point first, as a suite's own seeds run (stable sort)
        points.sort(key=lambda p: p.seed)
    grid = Grid(points=points, metrics=built or [], notes=notes)
    if rules is not None:
        keep = _suite_names(suite, "rule", sorted({p.rule.name for p in grid.points}), rules)
        grid.points = [p for p in grid.points if p.rule.name in keep]
    if metrics is not None:
        keep = _suite_names(suite, "metric", [m.name for m in grid.metrics], metrics)
        grid.metrics = [m for m in grid.metrics if m.name in keep]
    return grid


def _suite_names(suite: Suite, kind: str, have: list[str], names: Sequence[str]) -> set[str]:
    """``names`` (of the suite's rules or metrics, ``have``); one the suite does not have is an error."""
    unknown = [n for n in names if n not in have]
    if unknown:
        raise FFBenchError(
            f"Suite {suite.name} has no {kind} {', '.join(repr(n) for n in unknown)}. Its {kind}s: {', '.join(have)}."
        )
    return set(names)
