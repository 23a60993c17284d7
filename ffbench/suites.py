"""Suites: named, versioned sets of run points that ``ffbench run --suite NAME`` executes and
leaderboards are built from.

A suite is a list of entries, each a small grid (rules x goodness x negatives x datasets x
seeds, with ``--param``-style overrides and a preset) expanded by :func:`ffbench.grid.expand_grid`;
the suite's points are the entries' points concatenated, without duplicates. Every entry of a
suite is measured with the same metric list (the suite's), so each board cell has one
definition across the suite. Components are named by spec strings and resolved only when the
grid is built, so a suite may name a plugin that is not installed here (building it then says
which).

Suites come from plugins: a distribution registers :class:`Suite` objects through the
``ffbench_register_suites`` hook (the built-in ones: plugins/suites.py), so a third party can
publish the suite its leaderboard is built from.

Bump a suite's ``version`` whenever its points or metrics change: rows carry ``suite`` and
``suite_version``, so a board says which definition produced each row.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from ffbench.errors import FFBenchError
from ffbench.grid import Grid, expand_grid
from ffbench.registry import Registry


@dataclass(frozen=True)
class SuiteEntry:
    """One grid of a suite; fields take what the matching ``ffbench run`` options take."""

    rules: tuple[str, ...]
    datasets: tuple[str, ...]
    goodness: tuple[str, ...] = ("l2",)
    negatives: tuple[str, ...] = ("wrong-label",)
    seeds: tuple[int, ...] = (0, 1, 2)
    params: tuple[str, ...] = ()
    preset: str = "quick"


@dataclass(frozen=True)
class Suite:
    name: str
    version: str
    description: str
    metrics: tuple[str, ...]
    entries: tuple[SuiteEntry, ...] = field(default_factory=tuple)

    def grid(self, registry: Registry, seeds: tuple[int, ...] | None = None) -> Grid:
        """All run points of the suite (entries in order, duplicates dropped), with its metrics;
        ``seeds`` replaces every entry's seeds (``ffbench run --suite S --seeds N``)."""
        points, notes, metrics = [], [], None
        for entry in self.entries:
            part = expand_grid(
                registry,
                rules=entry.rules,
                goodness=entry.goodness,
                negatives=entry.negatives,
                datasets=entry.datasets,
                metrics=self.metrics,
                seeds=entry.seeds if seeds is None else seeds,
                params=entry.params,
                preset=entry.preset,
            )
            metrics = metrics if metrics is not None else part.metrics
            points += [p for p in part.points if p not in points]
            notes += part.notes
        if seeds is not None:  # seed 0 of every point first, as a suite's own seeds run (stable sort)
            points.sort(key=lambda p: p.seed)
        return Grid(points=points, metrics=metrics or [], notes=notes)

    def grid_of_rules(self, registry: Registry, rules: list[str], seeds: tuple[int, ...] | None = None) -> Grid:
        """The suite's run points of the named rules only (base names, e.g. ``bp``), to rerun
        part of a suite, e.g. after a rule's version changed; an unknown name is an error that
        lists the suite's rules."""
        grid = self.grid(registry, seeds)
        have = sorted({p.rule.name for p in grid.points})
        unknown = [r for r in rules if r not in have]
        if unknown:
            raise FFBenchError(
                f"Suite {self.name} has no rule {', '.join(repr(r) for r in unknown)}. Its rules: {', '.join(have)}."
            )
        grid.points = [p for p in grid.points if p.rule.name in rules]
        return grid

    def only_metrics(self, metrics: list, names: list[str]) -> list:
        """The suite's ``metrics`` (built components) named in ``names`` (base names, e.g.
        ``cost``), to rerun or add one metric of a suite on the same models; a name the suite
        does not have is an error that lists the suite's metrics."""
        have = [m.name for m in metrics]
        unknown = [n for n in names if n not in have]
        if unknown:
            raise FFBenchError(
                f"Suite {self.name} has no metric {', '.join(repr(n) for n in unknown)}. "
                f"Its metrics: {', '.join(have)}."
            )
        return [m for m in metrics if m.name in names]

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "metrics": list(self.metrics),
            "entries": [
                {
                    "rules": list(e.rules),
                    "goodness": list(e.goodness),
                    "negatives": list(e.negatives),
                    "datasets": list(e.datasets),
                    "seeds": list(e.seeds),
                    "params": list(e.params),
                    "preset": e.preset,
                }
                for e in self.entries
            ],
        }


def _suites(registry: Registry | None) -> dict[str, Suite]:
    from ffbench.registry import get_registry

    return (registry or get_registry()).suites


def list_suites(registry: Registry | None = None) -> list[Suite]:
    """Every suite the installed plugins register (``ffbench_register_suites``), by name."""
    return [s for _, s in sorted(_suites(registry).items())]


def get_suite(name: str, registry: Registry | None = None) -> Suite:
    """The suite called ``name``; an unknown name is an error listing the valid ones."""
    from ffbench.registry import get_registry

    reg = registry or get_registry()
    if name in reg.suite_collisions:
        raise FFBenchError(
            f"Suite name collision: '{name}' is registered by {' and '.join(reg.suite_collisions[name])}. "
            "Uninstall or block one of them (FFBENCH_DISABLE_PLUGINS)."
        )
    suites = reg.suites
    try:
        return suites[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(suites), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise FFBenchError(f"Unknown suite '{name}'.{hint} Valid suites: {', '.join(sorted(suites))}.") from None
