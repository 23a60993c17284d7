"""Build a report: read a results file or a leaderboard, draw every figure that applies, then
write the PNGs and ``index.html``.

The figures are those each metric declares (``Metric.figures``, :mod:`ffbench.report.figure_api`),
per model from one representative run point per series or over every series, and every metric's
headline bars (:mod:`ffbench.report.builder`); the report names no metric. From a results file
(:mod:`~ffbench.report.results_report`) all of them; from a leaderboard
(:mod:`~ffbench.report.board_report`) those that need no artifacts.

A series is one rule/goodness/negatives/dataset combination (seeds pooled). A figure whose metric
was not run is skipped with a note saying how to get it; one that cannot be drawn is listed with
the reason; neither is an error. A bad option (``--class``) is, and then nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ffbench.report.board_report import BoardReport
from ffbench.report.builder import Builder
from ffbench.report.figure_api import NotDrawn
from ffbench.report.html import Section, write_index
from ffbench.report.labels import ID_COLUMNS, compact_identities, series_labels
from ffbench.report.results_report import ResultsReport
from ffbench.report.source import Source, read_source

#: The former name of :class:`~ffbench.report.figure_api.NotDrawn` (an artifact that lacks what a figure needs).
ArtifactError = NotDrawn
_Builder = Builder

__all__ = [
    "ArtifactError",
    "BoardReport",
    "ID_COLUMNS",
    "Report",
    "ResultsReport",
    "Source",
    "build_report",
    "compact_identities",
    "default_out",
    "read_source",
    "series_labels",
]


@dataclass
class Report:
    out: Path
    index: Path
    sections: list[Section]
    notes: list[str]

    @property
    def files(self) -> list[Path]:
        """Every PNG written, in page order."""
        return [self.out / f.file for s in self.sections for f in s.figures]


def default_out(path: Path) -> Path:
    """``results.parquet`` -> ``results-report/`` next to it."""
    return path.with_name(path.stem + "-report")


def build_report(path: str | Path, out: str | Path | None = None, class_name: str | None = None) -> Report:
    """Write every applicable figure and ``index.html`` for the results file or leaderboard at
    ``path`` into ``out`` (default :func:`default_out`). ``class_name``: the class figures that
    show one class draw (``--class``; default their first class)."""
    path = Path(path)
    source = read_source(path)
    out = Path(out) if out is not None else default_out(path)
    if source.kind == "board":
        builder: Builder = BoardReport(source.frame, path, out, source.seed_rows)
    else:
        builder = ResultsReport(source.frame, path, out, class_name)
    page = builder.page()  # draws every figure; raises before anything is written
    out.mkdir(parents=True, exist_ok=True)
    builder.write()
    return Report(out, write_index(out, page), page.sections, page.notes)
