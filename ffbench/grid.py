"""Expanding a run grid: rules x goodness x negatives x datasets x seeds x parameter values.

Component lists accept ``name`` or ``name[k=v,...]`` and may be comma-separated
(``ff,bp-ff``). ``--param TARGET.KEY=V1,V2`` overrides a parameter of every component matching
TARGET (a kind: rule, goodness, negatives, dataset, metric, or a component name); several values
add a grid axis. Rules that read no goodness / negatives (bp) get none, and duplicate points are
dropped. A goodness that needs no negatives paired with a generator (or the reverse) is an error
unless the grid also holds compatible pairs for both, in which case the pair is skipped and noted.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ffbench.component import Component, parse_spec, split_top_level
from ffbench.contracts import KINDS, Dataset, Goodness, LearningRule, Metric, NegativeGenerator
from ffbench.errors import IncompatibleError, ParameterError
from ffbench.registry import Registry


@dataclass(frozen=True)
class ParamOverride:
    target: str
    key: str
    values: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> ParamOverride:
        if "=" not in text or "." not in text.split("=", 1)[0]:
            raise ParameterError(
                f"Malformed --param {text!r}: expected TARGET.KEY=VALUE[,VALUE...], "
                "e.g. ff.epochs=5 or rule.lr=0.01,0.001."
            )
        lhs, rhs = text.split("=", 1)
        target, key = lhs.rsplit(".", 1)
        values = tuple(v.strip() for v in rhs.split(",") if v.strip())
        if not values:
            raise ParameterError(f"--param {text!r} gives no value.")
        return cls(target.strip(), key.strip(), values)

    def applies_to(self, component_cls: type[Component]) -> bool:
        return self.target in (component_cls.kind, component_cls.name)


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


def build_components(
    registry: Registry, kind: str, specs: Sequence[str], overrides: Sequence[ParamOverride], preset: str
) -> list[Component]:
    """Instances for every spec x every combination of the --param values that apply to it."""
    built: list[Component] = []
    for spec in specs:
        name, spec_params = parse_spec(spec)
        entry = registry.get(kind, name)
        mine = [o for o in overrides if o.applies_to(entry.cls)]
        schema = entry.cls.param_map()
        for o in mine:
            if o.key not in schema and o.target == name:
                entry.cls.resolve_params({o.key: None})  # raises a ParameterError naming valid keys
        mine = [o for o in mine if o.key in schema]
        for combo in itertools.product(*(o.values for o in mine)):
            params: dict[str, Any] = dict(spec_params)
            params.update({o.key: v for o, v in zip(mine, combo)})
            component = entry.cls.from_spec(params, preset=preset)
            if component not in built:
                built.append(component)
    return built


def check_overrides(registry: Registry, overrides: Sequence[ParamOverride], chosen: dict[str, list[Component]]) -> None:
    """Every --param must reach at least one chosen component that has that parameter."""
    for o in overrides:
        hits = [
            c for comps in chosen.values() for c in comps if o.target in (c.kind, c.name) and o.key in c.param_map()
        ]
        if hits:
            continue
        targets = sorted(set(KINDS) | {c.name for comps in chosen.values() for c in comps})
        if o.target not in targets:
            raise ParameterError(
                f"--param target '{o.target}' matches no chosen component. Valid targets: {', '.join(targets)}."
            )
        keys = sorted(
            {p for comps in chosen.values() for c in comps if o.target in (c.kind, c.name) for p in c.param_map()}
        )
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
    overrides = [ParamOverride.parse(p) for p in params]
    chosen = {
        kind: build_components(registry, kind, split_specs(specs), overrides, preset)
        for kind, specs in (
            ("rule", rules),
            ("goodness", goodness),
            ("negatives", negatives),
            ("dataset", datasets),
            ("metric", metrics),
        )
    }
    check_overrides(registry, overrides, chosen)
    grid = Grid(points=[], metrics=chosen["metric"])  # type: ignore[arg-type]
    _check_compatibility(chosen, grid)
    refused: dict[str, dict[tuple, str]] = {}
    for rule, good, neg, data, seed in itertools.product(
        chosen["rule"], chosen["goodness"], chosen["negatives"], chosen["dataset"], seeds
    ):
        g = good if rule.uses_goodness else None
        n = neg if rule.uses_negatives else None
        if g is not None and n is not None and not compatible(g, n):
            continue
        ok, reason = rule.accepts(g, n)
        if not ok:
            refused.setdefault(rule.short_identity, {})[(g and g.short_identity, n and n.short_identity)] = reason
            continue
        point = RunPoint(rule, g, n, data, seed, preset)  # type: ignore[arg-type]
        if point not in grid.points:
            grid.points.append(point)
    _note_refusals(refused, grid)
    return grid


def _note_refusals(refused: dict[str, dict[tuple, str]], grid: Grid) -> None:
    """Refused (rule, goodness, negatives) combinations become notes; a rule left with nothing to
    run is an error carrying its reasons (before anything trains)."""
    running = {p.rule.short_identity for p in grid.points}
    for rule, combos in refused.items():
        lines = [
            f"rule {rule} with goodness {g or '-'} and negatives {n or '-'}: {reason}"
            for (g, n), reason in combos.items()
        ]
        if rule not in running:
            raise IncompatibleError("Nothing to run for " + "; ".join(lines))
        grid.notes.extend(f"skipped {line}" for line in lines)


def compatible(goodness: Goodness, negatives: NegativeGenerator) -> bool:
    """Whether the pair can train together (:meth:`Goodness.pairs_with` decides, with its reason)."""
    return goodness.pairs_with(negatives)[0]


def _check_compatibility(chosen: dict[str, list[Component]], grid: Grid) -> None:
    if not any(r.uses_goodness and r.uses_negatives for r in chosen["rule"]):  # type: ignore[attr-defined]
        return
    goods, negs = chosen["goodness"], chosen["negatives"]
    for g in goods:
        if not any(compatible(g, n) for n in negs):  # type: ignore[arg-type]
            need = "a negative generator" if g.needs_negatives else "--negatives none"  # type: ignore[attr-defined]
            raise IncompatibleError(
                f"goodness '{g.name}' {'needs' if g.needs_negatives else 'takes no'} negative samples, "  # type: ignore[attr-defined]
                f"but the chosen negatives ({', '.join(n.name for n in negs)}) do not fit it: use {need}."
            )
    for n in negs:
        if not any(compatible(g, n) for g in goods):  # type: ignore[arg-type]
            raise IncompatibleError(
                f"negatives '{n.name}' {'produce' if n.produces_negatives else 'produce no'} negative samples, "  # type: ignore[attr-defined]
                f"but no chosen goodness ({', '.join(g.name for g in goods)}) fits that."
            )
    for g, n in itertools.product(goods, negs):
        ok, reason = g.pairs_with(n)  # type: ignore[attr-defined]
        if not ok:
            grid.notes.append(f"skipped goodness {g.short_identity} with negatives {n.short_identity}: {reason}")
