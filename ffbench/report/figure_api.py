"""The figure contract: how a metric declares the figures ``ffbench report`` draws from its rows
and artifacts. The report asks every installed metric :meth:`~ffbench.contracts.Metric.figures`;
it names none of them.

A :class:`FigureSpec` names a figure and gives its draw function. Two scopes:

- **per-model** (``per_model=True``): one figure per series, drawn from one representative run
  point, the series' lowest seed that saved this metric's artifact. ``draw(run: RunView)``.
- **comparison** (default): one figure over every series. ``draw(view: ComparisonView)``; it may
  read the summary of a stat, per layer or of the whole model, of its own metric or of another
  (also available from a leaderboard), or every run point's artifacts (a results file only).

``draw`` returns a matplotlib ``Figure``, or ``(Figure, caption)`` (default caption: the title,
plus the series for a per-model figure). When the data it needs is missing (an artifact written by
an older metric version, a stat the rows lack) it raises :class:`NotDrawn` with the reason: the
report lists the figure (or, per model, that series) as not drawn with that reason and goes on.
Any other :class:`~ffbench.errors.FFBenchError` (a bad report option, e.g. ``--class``) stops the
report before any file is written.

A plugin's figure, in full::

    def lifetime_by_layer(view):
        from ffbench.report.figures import layer_bars
        summary = view.summary("lifetime_sparsity")
        if summary.empty:
            raise NotDrawn("no per-layer 'lifetime_sparsity' rows")
        return layer_bars(summary, view.colours, "Lifetime sparsity per layer", "lifetime sparsity",
                          view.points("lifetime_sparsity"))

    class LifetimeSparsity(Metric):
        ...
        @classmethod
        def figures(cls):
            return [FigureSpec("lifetime-by-layer", "Lifetime sparsity per layer", lifetime_by_layer)]

This module imports neither matplotlib nor pandas, so a metric module may import it at no cost.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, Union

from ffbench.errors import FFBenchError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from matplotlib.figure import Figure

#: A figure's name: lowercase letters, digits and hyphens (it becomes a file name and an anchor).
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]*")

Drawn = Union["Figure", "tuple[Figure, str]"]


class NotDrawn(FFBenchError):
    """A figure (or one series of a per-model figure) cannot be drawn; the message says why."""


@dataclass(frozen=True)
class FigureSpec:
    """A figure a metric draws.

    ``name``: file stem and page anchor (``[a-z0-9][a-z0-9-]*``; per-model files are
    ``{name}-{series}.png``); ``title``: the section heading; ``draw``: see the module docstring;
    ``per_model``: one figure per series (True) or one over all series (False, default);
    ``description``: what the figure shows, printed under the title (default: none);
    ``stats``: stats of its metric that the figure shows in full (e.g. per layer and seed); once it
    is drawn, the report's headline bars leave them out (default: none, every headline stat gets
    its bars)."""

    name: str
    title: str
    draw: Callable[[Any], Drawn]
    per_model: bool = False
    description: str = ""
    stats: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not NAME_PATTERN.fullmatch(self.name):
            raise ValueError(
                f"Bad figure name {self.name!r}: use lowercase letters, digits and hyphens, e.g. 'lifetime-by-layer'."
            )
        if not callable(self.draw):
            raise TypeError(f"figure {self.name!r}: draw must be callable, got {type(self.draw).__name__}.")
        if isinstance(self.stats, str) or not all(isinstance(s, str) for s in self.stats):
            raise TypeError(f"figure {self.name!r}: stats must be a tuple of stat names, got {self.stats!r}.")
        object.__setattr__(self, "stats", tuple(self.stats))


@dataclass(frozen=True)
class Artifact:
    """One run point's artifact of one metric: the arrays of its ``.npz`` and the fields of its
    ``.json`` (both as the metric returned them in ``MetricResult.artifacts``)."""

    metric: str
    run_id: str
    arrays: dict[str, np.ndarray]
    meta: dict[str, Any]

    def array(self, key: str) -> np.ndarray:
        """The array ``key``; :class:`NotDrawn` naming it (and the arrays there are) if absent."""
        if key not in self.arrays:
            raise NotDrawn(
                f"the {self.metric} artifact of run {self.run_id} has no array '{key}' "
                f"(it has: {', '.join(sorted(self.arrays)) or 'none'})."
            )
        return self.arrays[key]

    def field(self, key: str) -> Any:
        """The JSON field ``key``; :class:`NotDrawn` if absent."""
        if key not in self.meta:
            raise NotDrawn(f"the {self.metric} artifact of run {self.run_id} has no '{key}' field.")
        return self.meta[key]

    def layers(self, prefix: str) -> list[int]:
        """Sorted layer numbers of the arrays named ``{prefix}_L{number}``."""
        found = (re.fullmatch(re.escape(prefix) + r"_L(\d+)", k) for k in self.arrays)
        return sorted(int(m.group(1)) for m in found if m)


class ReportSource(Protocol):
    """What the views read (implemented by the report builders, for a results file or a board)."""

    colours: dict[str, str]

    def artifact(self, run_id: str, metric: str) -> Artifact: ...
    def artifact_runs(self, metric: str) -> list[tuple[str, str]]: ...  # (series, run_id), series order, seed
    def run_rows(self, run_id: str, metric: str) -> pd.DataFrame: ...
    def run_title(self, series: str, run_id: str) -> str: ...
    def run_seed(self, run_id: str) -> int | None: ...
    def classes_of(self, run_id: str, n: int) -> list[str]: ...
    def option(self, name: str) -> Any: ...
    def metric_rows(self, metric: str) -> pd.DataFrame: ...
    def layer_summary(self, metric: str, stat: str) -> pd.DataFrame: ...
    def layer_points(self, metric: str, stat: str) -> pd.DataFrame | None: ...
    def model_summary(self, metric: str, stat: str) -> pd.DataFrame: ...
    def model_points(self, metric: str, stat: str) -> pd.DataFrame | None: ...
    def note(self, text: str) -> None: ...


class RunView:
    """One run point as a per-model figure sees it: its series (label, colour), its rows of the
    metric, its artifacts, its class names, and the other series' representative run points
    (``peers``, e.g. for one colour scale shared by every series' figure)."""

    def __init__(self, source: ReportSource, metric: str, series: str, run_id: str):
        self.source, self.metric, self.series, self.run_id = source, metric, series, run_id
        self.peers: list[RunView] = [self]

    @property
    def colour(self) -> str:
        return self.source.colours[self.series]

    @property
    def seed(self) -> int | None:
        return self.source.run_seed(self.run_id)

    @property
    def title(self) -> str:
        """``series (seed s, run id)``: a figure title naming where it was drawn from."""
        return self.source.run_title(self.series, self.run_id)

    @property
    def rows(self) -> pd.DataFrame:
        """This run point's rows of the metric: stat, layer, class, class_b, value (+ provenance)."""
        return self.source.run_rows(self.run_id, self.metric)

    def artifact(self, metric: str | None = None) -> Artifact:
        """This run point's artifact of ``metric`` (default: the figure's own metric)."""
        return self.source.artifact(self.run_id, metric or self.metric)

    def classes(self, n: int) -> list[str]:
        """Names of the run's ``n`` classes: from any of its artifacts' ``classes`` field, else its
        per-class rows, else ``class 0`` ... ``class n-1``."""
        return self.source.classes_of(self.run_id, n)

    def option(self, name: str) -> Any:
        """A report option (``class``: the ``--class`` value, or None); reading it marks it used."""
        return self.source.option(name)


class ComparisonView:
    """Every series of a report as a comparison figure sees it. The stats it reads are its own
    metric's; ``metric=`` reads another metric's rows (e.g. a figure that sets one metric's stat
    against another's), which a figure must not assume were run: raise :class:`NotDrawn` naming
    ``--metric OTHER`` when they are absent."""

    def __init__(self, source: ReportSource, metric: str):
        self.source, self.metric = source, metric

    @property
    def colours(self) -> dict[str, str]:
        """series -> colour, in series order (the page's order and legend order)."""
        return self.source.colours

    @property
    def rows(self) -> pd.DataFrame:
        """Every per-seed row of the metric with a ``series`` column (empty for an aggregated board)."""
        return self.source.metric_rows(self.metric)

    def summary(self, stat: str, metric: str | None = None) -> pd.DataFrame:
        """series, layer, mean, std, n of ``stat`` per layer over all classes (mean and std over
        seeds); ``metric``: whose stat (default: the figure's own metric)."""
        return self.source.layer_summary(metric or self.metric, stat)

    def points(self, stat: str, metric: str | None = None) -> pd.DataFrame | None:
        """series, layer, value of ``stat`` per layer for every seed (None where unknown); from a
        results file also the run_id of each value."""
        return self.source.layer_points(metric or self.metric, stat)

    def model_summary(self, stat: str, metric: str | None = None) -> pd.DataFrame:
        """series, mean, std, n of a whole-model ``stat`` (no layer) over all classes, mean and std
        over seeds (also from a leaderboard); empty where the rows have none."""
        return self.source.model_summary(metric or self.metric, stat)

    def model_points(self, stat: str, metric: str | None = None) -> pd.DataFrame | None:
        """series, run_id, value of a whole-model ``stat`` over all classes for every run point;
        None from a leaderboard (it pairs no values by run point: use :meth:`model_summary`)."""
        return self.source.model_points(metric or self.metric, stat)

    @property
    def runs(self) -> list[RunView]:
        """Every run point that saved this metric's artifact, in series order, lowest seed first.
        :class:`NotDrawn` for a leaderboard (it holds no artifacts)."""
        return [RunView(self.source, self.metric, s, r) for s, r in self.source.artifact_runs(self.metric)]

    def note(self, text: str) -> None:
        """Add a line to the page's notes (e.g. a run point left out of the figure, and why)."""
        self.source.note(text)


def choose_class(name: str | None, classes: list[str]) -> int:
    """Index of class ``name`` in ``classes`` (exact match first, then case-insensitive); 0 for None.
    An unknown name is an error listing the valid ones."""
    if name is None:
        return 0
    exact = [i for i, c in enumerate(classes) if c == name]
    folded = [i for i, c in enumerate(classes) if c.casefold() == name.casefold()]
    if exact or folded:
        return (exact or folded)[0]
    raise FFBenchError(f"Unknown class '{name}'. Valid classes: {', '.join(classes)}.")
