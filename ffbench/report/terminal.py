"""What ``ffbench report`` prints in the terminal: the headline stats of every series (mean ± std
over seeds) as a :class:`ffbench.summary.StatMatrix`, read the way the report reads its source
(the newest run of each unit of a results file; a board's aggregates)."""

from __future__ import annotations

from pathlib import Path

from ffbench.registry import Registry
from ffbench.report.board_report import BoardReport
from ffbench.report.results_report import ResultsReport
from ffbench.report.source import read_source
from ffbench.summary import StatMatrix, report_matrix


def headline_matrix(path: Path, registry: Registry | None = None) -> StatMatrix:
    """The terminal table of the results file or leaderboard at ``path`` (nothing is written)."""
    source = read_source(Path(path))
    unused = Path(path).with_name(".unused")  # a builder's output folder; only page() and write() use it
    if source.kind == "board":
        builder = BoardReport(source.frame, Path(path), unused, source.seed_rows)
    else:
        builder = ResultsReport(source.frame, Path(path), unused)
    return report_matrix(builder.summary(), builder.df, registry)
