"""`ffbench report`: figures from a results file or a leaderboard, as PNGs and a static
``index.html``. figure_api.py is the contract metrics declare their figures with; figures.py the
generic drawing helpers; builder.py, results_report.py and board_report.py decide what applies;
html.py writes the page.

Imported lazily: ``ffbench.report.figure_api`` (which metric plugins import) must not pull in
matplotlib and pandas."""

from __future__ import annotations

from typing import Any

__all__ = ["Report", "build_report", "default_out"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from ffbench.report import build  # on first use: build loads matplotlib (see above)

        return getattr(build, name)
    raise AttributeError(f"module 'ffbench.report' has no attribute {name!r}")
