"""What results and leaderboard reports share: series and their colours, report options, notes,
the figures that are drawn before anything is written, the generic comparison figures (one stat
per layer, accuracy vs sparsity, each metric's headline bars) and the metric-declared ones.

Nothing is written until every figure is drawn: a report error (an unknown ``--class``) leaves no
file behind. The builders implement :class:`ffbench.report.figure_api.ReportSource`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from ffbench.report import figures as F
from ffbench.report.compose import Declared, attempt, declared_figures
from ffbench.report.figure_api import ComparisonView, NotDrawn
from ffbench.report.html import FigureRef, Page, Section
from ffbench.report.labels import series_labels, slug

#: Metric and stats the generic comparison figures read (headline stats of the ``accuracy`` and
#: ``sparsity`` metrics, wherever they come from).
SPARSITY, ACCURACY = ("sparsity", "sparsity"), ("accuracy", "accuracy")
#: File stems of the generic figures (a metric figure of the same name is prefixed with its metric).
CORE_STEMS = {"sparsity-by-layer", "accuracy-vs-sparsity"}


class Builder(ABC):
    """A report in the making, over ``df`` (rows with the ID columns, metric, stat, layer, class)."""

    #: Whether installed metrics that are not in the data list their figures as skipped.
    lists_installed = False

    def __init__(self, df: pd.DataFrame, path: Path, out: Path, options: dict[str, Any] | None = None):
        self.path, self.out = path, out
        self.notes: list[str] = []
        self.options = {k: v for k, v in (options or {}).items() if v is not None}
        self.options_read: set[str] = set()
        self.pending: list[tuple[Figure, str]] = []
        df = df.copy()
        df["series"] = series_labels(df)
        self.df = df
        self.colours = F.palette(list(dict.fromkeys(df["series"])))
        taken: set[str] = set()
        self.slugs = {s: slug(s, taken) for s in self.colours}

    # -- writing --------------------------------------------------------------------------
    def keep(self, fig: Figure, stem: str) -> str:
        """Hold ``fig`` to be saved as ``{stem}.png`` once every figure is drawn; the file name."""
        self.pending.append((fig, stem))
        return f"{stem}.png"

    def save(self, fig: Figure, name: str) -> str:
        file = f"{name}.png"
        fig.savefig(self.out / file)
        return file

    def write(self) -> None:
        """Save every figure drawn, in page order."""
        for fig, stem in self.pending:
            self.save(fig, stem)
        self.pending.clear()

    # -- what figures read (ReportSource) -----------------------------------------------------
    def option(self, name: str) -> Any:
        self.options_read.add(name)
        return self.options.get(name)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def layer_summary(self, metric: str, stat: str) -> pd.DataFrame:
        summary = self.summary()
        rows = summary[(summary["metric"] == metric) & (summary["stat"] == stat) & summary["layer"].notna()]
        return rows[["series", "layer", "mean", "std", "n"]].reset_index(drop=True)

    @abstractmethod
    def summary(self) -> pd.DataFrame:
        """series, metric, stat, layer, mean, std, n, headline of the rows over all classes."""

    @abstractmethod
    def layer_points(self, metric: str, stat: str) -> pd.DataFrame | None:
        """series, layer, value of one stat per layer and seed (None where the source has none)."""

    @abstractmethod
    def metric_rows(self, metric: str) -> pd.DataFrame:
        """Every per-seed row of ``metric`` with its series."""

    @abstractmethod
    def accuracy_points(self) -> pd.DataFrame:
        """series, layer, sparsity, accuracy (+ sparsity_std, accuracy_std for aggregates)."""

    @abstractmethod
    def page(self) -> Page:
        """Draw every figure that applies; the page that shows them."""

    # -- the page ---------------------------------------------------------------------------
    def sections(self) -> list[Section]:
        """Per-model metric figures, sparsity per layer, comparison metric figures, accuracy vs
        sparsity, headline bars; numbered in that order."""
        declared, notes = declared_figures(self.df["metric"].dropna(), set(CORE_STEMS), self.lists_installed)
        self.notes += notes
        present = set(self.df["metric"])
        per_model = [self.metric_section(d, present) for d in declared if d.spec.per_model]
        comparison = [self.metric_section(d, present) for d in declared if not d.spec.per_model]
        sections = [
            s
            for s in (*per_model, self.sparsity_section(), *comparison, self.accuracy_section(), self.bars_section())
            if s is not None
        ]
        for i, section in enumerate(sections, start=1):
            section.title = f"{i}. {section.title}"
        if "class" in self.options and "class" not in self.options_read:
            self.notes.append(f"--class {self.options['class']} was not used: no figure drawn reads a class.")
        return sections

    def metric_section(self, d: Declared, present: set[str]) -> Section | None:
        section = Section(d.key, d.spec.title, d.spec.description)
        if d.metric not in present:
            section.skipped = f"metric '{d.metric}' was not run; add it with --metric {d.metric}."
            return section
        if d.spec.per_model:
            return self.per_model_section(section, d)
        try:
            fig, caption = attempt(d.spec.draw, ComparisonView(self, d.metric), d.spec.title)
        except NotDrawn as exc:
            return self.not_drawn(section, d, exc)
        section.figures.append(FigureRef(self.keep(fig, d.key), caption))
        return section

    def not_drawn(self, section: Section, d: Declared, exc: NotDrawn) -> Section | None:
        """A comparison figure that could not be drawn: its section says why, and so do the notes."""
        section.skipped = str(exc)
        self.notes.append(f"Figure '{d.key}' of metric '{d.metric}' not drawn: {exc}")
        return section

    @abstractmethod
    def per_model_section(self, section: Section, d: Declared) -> Section | None:
        """``section`` filled with one figure per series, or None where none can be drawn."""

    def sparsity_section(self) -> Section:
        section = Section(
            "sparsity",
            "Hoyer sparsity per layer",
            "Mean Hoyer sparsity of post-ReLU activity over test samples, per layer and "
            "series; bars: mean over seeds, error bars: std over seeds, dots: single seeds.",
        )
        rows = self.layer_summary(*SPARSITY)
        if rows.empty:
            section.skipped = "metric 'sparsity' was not run; add it with --metric sparsity."
            return section
        fig = F.sparsity_by_layer(rows, self.colours, "Hoyer sparsity per layer", self.layer_points(*SPARSITY))
        section.figures.append(FigureRef(self.keep(fig, "sparsity-by-layer"), "Hoyer sparsity per layer, every series"))
        return section

    def accuracy_section(self) -> Section:
        section = Section(
            "accuracy-sparsity",
            "Accuracy vs sparsity",
            "Test accuracy against Hoyer sparsity of each layer, across all run points.",
        )
        have = set(self.df["metric"])
        missing = [m for m in (ACCURACY[0], SPARSITY[0]) if m not in have]
        if missing:
            section.skipped = f"needs metrics {' and '.join(missing)}; add --metric accuracy,sparsity."
            return section
        points = self.accuracy_points().dropna(subset=["sparsity", "accuracy"])
        if points.empty:
            section.skipped = "no run point has both an accuracy and a sparsity value."
            return section
        fig = F.accuracy_vs_sparsity(points, self.colours, "Accuracy vs Hoyer sparsity")
        section.figures.append(FigureRef(self.keep(fig, "accuracy-vs-sparsity"), "Accuracy vs sparsity per layer"))
        return section

    def bars_section(self) -> Section:
        section = Section(
            "metric-bars",
            "Every metric, side by side",
            "Each metric's headline stats over all classes (per layer where the metric has "
            "layers): mean over seeds, error bars: std over seeds.",
        )
        summary = self.summary()
        keep = summary["headline"].fillna(False).astype(bool)
        keep &= ~((summary["metric"] == SPARSITY[0]) & (summary["stat"] == SPARSITY[1]))  # its own figure
        higher = (
            self.df.dropna(subset=["higher_is_better"])
            .drop_duplicates("metric")
            .set_index("metric")["higher_is_better"]
        )
        taken: set[str] = set()
        for metric, rows in summary[keep].groupby("metric", sort=False):
            hib = bool(higher[metric]) if metric in higher.index else None
            fig = F.metric_bars(rows, str(metric), self.colours, hib)
            file = self.keep(fig, "metric-" + slug(str(metric), taken))
            section.figures.append(FigureRef(file, f"Metric {metric}: headline stats, every series"))
        if not section.figures:
            section.skipped = "no headline stats beyond those drawn above."
        return section
