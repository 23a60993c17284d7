"""Which metric figures a report draws, and drawing them: the report asks each metric for its
:class:`~ffbench.report.figure_api.FigureSpec` list (``Metric.figures``) and never names one.

Metrics are asked in the order their rows first appear in the data, then (results files only)
every other installed metric, whose figures show as skipped with how to get them. A metric in the
data that no installed plugin registers keeps its rows (tables, headline bars); its figures are
listed in the page notes as not drawn: plugin not installed. Nothing that goes wrong in one figure
stops the others; every figure or series not drawn is noted with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from matplotlib.figure import Figure

from ffbench.errors import CollisionError, FFBenchError
from ffbench.registry import Registry, get_registry
from ffbench.report.figure_api import FigureSpec, NotDrawn


@dataclass(frozen=True)
class Declared:
    """A figure one metric declares, with the file stem / section key it gets in this report."""

    metric: str
    spec: FigureSpec
    key: str


def declared_figures(
    present: Iterable[str], taken: set[str], installed: bool = True, registry: Registry | None = None
) -> tuple[list[Declared], list[str]]:
    """The figures of the metrics ``present`` in the data (and, with ``installed``, of every other
    installed metric), and notes on the metrics whose figures cannot be known. ``taken``: file
    stems already used (a figure whose name is taken is prefixed with its metric's name)."""
    registry = registry or get_registry()
    present = list(dict.fromkeys(present))
    names = present + ([n for n in registry.names("metric") if n not in present] if installed else [])
    found: list[Declared] = []
    notes: list[str] = []
    for name in names:
        try:
            cls = registry.get("metric", name).cls
        except CollisionError as exc:
            if name in present:
                notes.append(f"Figures of metric '{name}' not drawn: {exc}")
            continue
        except FFBenchError:
            if name in present:
                notes.append(
                    f"Figures of metric '{name}' not drawn: plugin not installed (no installed plugin "
                    f"registers metric '{name}'; its rows are still in the tables and headline bars). "
                    + registry.not_loaded_note()
                )
            continue
        try:
            specs = list(cls.figures())
        except Exception as exc:  # a plugin's bug must not cost the other figures
            notes.append(f"Figures of metric '{name}' not drawn: its figures() failed ({type(exc).__name__}: {exc}).")
            continue
        for spec in specs:
            if not isinstance(spec, FigureSpec):
                notes.append(f"Metric '{name}' declares a figure that is not a FigureSpec ({spec!r}); not drawn.")
                continue
            clash = spec.name in taken or spec.name.startswith("metric-")  # metric-*: the headline bars
            key = unique(f"{name}-{spec.name}", taken) if clash else spec.name
            taken.add(key)
            found.append(Declared(name, spec, key))
    return found, [n.strip() for n in notes]


def unique(stem: str, taken: set[str]) -> str:
    """``stem`` made file-safe, with ``-2``, ``-3`` ... appended until it is not in ``taken``."""
    base = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-") or "figure"
    name, k = base, 2
    while name in taken:
        name, k = f"{base}-{k}", k + 1
    return name


def drawn(result: Any, caption: str) -> tuple[Figure, str]:
    """A draw function's result as (Figure, caption); ``caption`` when it returned a bare Figure."""
    fig, text = result if isinstance(result, tuple) and len(result) == 2 else (result, caption)
    if not isinstance(fig, Figure):
        raise NotDrawn(f"its draw function returned {type(fig).__name__}, not a matplotlib Figure.")
    return fig, str(text)


def attempt(draw, view, caption: str) -> tuple[Figure, str]:
    """Call ``draw(view)``: the figure, or :class:`NotDrawn` with the reason (a bug in a draw
    function is reported as one too, with its exception type). A report error (any other
    :class:`FFBenchError`, e.g. an unknown ``--class``) propagates."""
    try:
        return drawn(draw(view), caption)
    except FFBenchError:
        raise
    except Exception as exc:
        raise NotDrawn(f"{type(exc).__name__}: {exc}") from exc
