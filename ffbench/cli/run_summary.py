"""What ``ffbench run`` prints when it ends: the headline table (stdout) and where the results
went with the commands that read them (stderr)."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import pandas as pd

from ffbench.cli.console import out
from ffbench.cli.progress import clock_text
from ffbench.cli.tables import print_matrix
from ffbench.summary import run_matrix


def print_summary(df: pd.DataFrame, registry) -> None:
    """The run's headline stats: short column labels, their key, a legend line per stat."""
    print_matrix(out, run_matrix(df, registry))


def shown_path(path: Path) -> str:
    """``path`` relative to the working folder when inside it, else absolute."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive
        return str(path)
    return str(path) if rel.startswith("..") else rel


def next_steps(path: Path, points: int, seconds: float, again: int = 0) -> list[str]:
    """Plain lines (no markup): where the results are and three ways to look at them. ``again``:
    how many of the points already had rows in the file (this run's rows supersede them)."""
    where = shlex.quote(shown_path(path))
    code = f"import pandas as pd; print(pd.read_parquet({json.dumps(shown_path(path))}))"
    rerun = (
        f"; {again} of them had rows there already: ffbench's readers count only a point's newest run" if again else ""
    )
    return [
        f"Results: {shown_path(path)} ({points} run point(s) added in {clock_text(seconds)}{rerun}). "
        "Look at them with:",
        f"  ffbench report {where}          # figures and an index.html",
        f"  ffbench results info {where}    # rows, runs and part files",
        f"  python -c {shlex.quote(code)}",
    ]


def print_next_steps(console, path: Path, points: int, seconds: float, again: int = 0) -> None:
    for line in next_steps(path, points, seconds, again):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
