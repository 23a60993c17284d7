"""Suites: named, versioned sets of run points that ``ffbench run --suite NAME`` executes and
leaderboards are built from. This module holds what a suite *is* (plain data); the installed
suites are looked up in the registry (:meth:`ffbench.registry.Registry.get_suite`) and expanded
into run points by :func:`ffbench.grid.suite_grid`.

A suite is a list of entries, each a small grid (rules x goodness x negatives x datasets x
seeds, with ``--param``-style overrides and a preset); the suite's points are the entries' points
concatenated, without duplicates. Every entry of a suite is measured with the same metric list
(the suite's), so each board cell has one definition across the suite. Components are named by
spec strings and resolved only when the grid is built, so a suite may name a plugin that is not
installed here (building it then says which).

Suites come from plugins: a distribution registers :class:`Suite` objects through the
``ffbench_register_suites`` hook (the built-in ones: plugins/suites.py), so a third party can
publish the suite its leaderboard is built from.

Bump a suite's ``version`` whenever its points or metrics change: rows carry ``suite`` and
``suite_version``, so a board says which definition produced each row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ffbench.defaults import DEFAULTS


@dataclass(frozen=True)
class SuiteEntry:
    """One grid of a suite; fields take what the matching ``ffbench run`` options take."""

    rules: tuple[str, ...]
    datasets: tuple[str, ...]
    goodness: tuple[str, ...] = DEFAULTS["goodness"]
    negatives: tuple[str, ...] = DEFAULTS["negatives"]
    seeds: tuple[int, ...] = (0, 1, 2)
    params: tuple[str, ...] = ()
    preset: str = "quick"


@dataclass(frozen=True)
class Suite:
    """A named, versioned list of entries, every one measured with ``metrics`` (spec strings)."""

    name: str
    version: str
    description: str
    metrics: tuple[str, ...]
    entries: tuple[SuiteEntry, ...] = field(default_factory=tuple)

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
