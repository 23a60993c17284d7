"""`ffbench report`: the papers' figures from a results file or a leaderboard, as PNGs and a
static ``index.html`` (figures.py draws, build.py decides what applies, html.py writes the page)."""

from ffbench.report.build import Report, build_report, default_out

__all__ = ["Report", "build_report", "default_out"]
