"""What results and leaderboard reports share: series and their colours, report options, notes,
the figures that are drawn before anything is written: those every metric declares
(``Metric.figures``) and each metric's headline bars. It names no metric.

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
        self.shown: set[tuple[str, str]] = set()  # (metric, stat) a drawn figure shows in full
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

    def model_summary(self, metric: str, stat: str) -> pd.DataFrame:
        summary = self.summary()
        rows = summary[(summary["metric"] == metric) & (summary["stat"] == stat) & summary["layer"].isna()]
        return rows[["series", "mean", "std", "n"]].reset_index(drop=True)

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
    def model_points(self, metric: str, stat: str) -> pd.DataFrame | None:
        """series, run_id, value of one whole-model stat per run point (None where the source has none)."""

    @abstractmethod
    def page(self) -> Page:
        """Draw every figure that applies; the page that shows them."""

    # -- the page ---------------------------------------------------------------------------
    def sections(self) -> list[Section]:
        """Per-model metric figures, comparison metric figures (each in the order their metrics
        first appear in the data), headline bars; numbered in that order."""
        declared, notes = declared_figures(self.df["metric"].dropna(), set(), self.lists_installed)
        self.notes += notes
        present = set(self.df["metric"])
        per_model = [self.metric_section(d, present) for d in declared if d.spec.per_model]
        comparison = [self.metric_section(d, present) for d in declared if not d.spec.per_model]
        sections = [s for s in (*per_model, *comparison, self.bars_section()) if s is not None]
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
            filled = self.per_model_section(section, d)
        else:
            try:
                fig, caption = attempt(d.spec.draw, ComparisonView(self, d.metric), d.spec.title)
            except NotDrawn as exc:
                return self.not_drawn(section, d, exc)
            section.figures.append(FigureRef(self.keep(fig, d.key), caption))
            filled = section
        if filled is not None and filled.figures:
            self.shown |= {(d.metric, stat) for stat in d.spec.stats}
        return filled

    def not_drawn(self, section: Section, d: Declared, exc: NotDrawn) -> Section | None:
        """A comparison figure that could not be drawn: its section says why, and so do the notes."""
        section.skipped = str(exc)
        self.notes.append(f"Figure '{d.key}' of metric '{d.metric}' not drawn: {exc}")
        return section

    @abstractmethod
    def per_model_section(self, section: Section, d: Declared) -> Section | None:
        """``section`` filled with one figure per series, or None where none can be drawn."""

    def bars_section(self) -> Section:
        section = Section(
            "metric-bars",
            "Every metric, side by side",
            "Each metric's headline stats over all classes (per layer where the metric has "
            "layers): mean over seeds, error bars: std over seeds. A stat that a figure above "
            "shows in full (its FigureSpec's stats) has no bars here.",
        )
        summary = self.summary()
        keep = summary["headline"].fillna(False).astype(bool)
        shown = [(m, s) in self.shown for m, s in zip(summary["metric"], summary["stat"])]
        keep &= ~pd.Series(shown, index=summary.index, dtype=bool)
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
