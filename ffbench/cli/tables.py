"""Terminal tables that fit a width without splitting a word: a :class:`ffbench.summary.StatMatrix`
drawn with stats as rows and run points (or series) as columns, or transposed, whichever needs
fewer tables; columns that do not fit go to a further table that repeats the row labels. Every
column is no_wrap (a header or cell is never broken inside a word; one wider than the whole width
ends in an ellipsis). Under the table: a key line per column label and a legend line per stat,
wrapped between words only."""

from __future__ import annotations

import io
import os

from rich import box
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from ffbench.summary import StatMatrix
from ffbench.untrusted import literal

#: the width used when stdout is not a terminal and COLUMNS is not set
DEFAULT_WIDTH = 100
#: the widest a row-label column may get (longer labels end in an ellipsis)
LABEL_MAX = 40


def table_width(console: Console) -> int:
    """COLUMNS when set, else the terminal's width, else :data:`DEFAULT_WIDTH`."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    return console.width if console.is_terminal else DEFAULT_WIDTH


def natural_width(table: Table) -> int:
    """The widest line of ``table`` drawn without a width limit."""
    sink = Console(file=io.StringIO(), width=10_000, color_system=None, legacy_windows=False)
    sink.print(table)
    return max((len(line.rstrip()) for line in sink.file.getvalue().splitlines()), default=0)


def make_table(heads: list[tuple[str, str]], columns: list[str], rows: list[list[str]]) -> Table:
    """``heads``: (header, justify) of the row-label columns; then one right-justified column per
    entry of ``columns``; ``rows``: the cells of each row (label cells first). Text is literal."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for header, justify in heads:
        table.add_column(literal(header), justify=justify, no_wrap=True, overflow="ellipsis", max_width=LABEL_MAX)
    for header in columns:
        table.add_column(literal(header), justify="right", no_wrap=True, overflow="ellipsis")
    for cells in rows:
        table.add_row(*(literal(c) for c in cells))
    return table


def chunked(
    title: str, heads: list[tuple[str, str]], columns: list[str], rows: list[tuple[list[str], list[str]]], width: int
) -> list[RenderableType]:
    """A title line and a table of the row labels plus as many data columns as fit ``width``, left to right."""
    groups: list[list[int]] = [[]]
    for j in range(len(columns)):
        trial = groups[-1] + [j]
        table = make_table(heads, [columns[i] for i in trial], [lab + [d[i] for i in trial] for lab, d in rows])
        if groups[-1] and natural_width(table) > width:
            groups.append([j])
        else:
            groups[-1] = trial
    tables: list[RenderableType] = []
    for k, group in enumerate(groups):
        part = f" (table {k + 1} of {len(groups)})" if len(groups) > 1 else ""
        tables.append(Text(title + part, style="bold"))
        tables.append(make_table(heads, [columns[i] for i in group], [lab + [d[i] for i in group] for lab, d in rows]))
    return tables


def by_stat(m: StatMatrix, width: int) -> list[RenderableType]:
    """A row per stat and layer, a column per run point or series."""
    rows = [([label, layer], cells) for label, layer, cells in m.rows]
    if m.status:
        rows.insert(0, (["status", ""], list(m.status)))
    return chunked(m.title, [("stat", "left"), ("layer", "right")], m.columns, rows, width)


def by_point(m: StatMatrix, width: int) -> list[RenderableType]:
    """A row per run point or series, a column per stat and layer."""
    headers = [label if layer == "-" else f"{label} L{layer}" for label, layer, _ in m.rows]
    heads = [("point", "left")] + ([("status", "left")] if m.status else [])
    rows = []
    for j, column in enumerate(m.columns):
        labels = [column] + ([m.status[j]] if m.status else [])
        rows.append((labels, [cells[j] for _, _, cells in m.rows]))
    return chunked(m.title, heads, headers, rows, width)


def notes(title: str, lines: list[tuple[str, str]]) -> RenderableType:
    """A titled two-column list (label, text); the text wraps between words."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True, max_width=LABEL_MAX, overflow="ellipsis")
    grid.add_column(overflow="fold")  # only a single word wider than the whole column is cut
    for label, text in lines:
        grid.add_row(Text(label, style="bold"), Text(text))
    outer = Table.grid()
    outer.add_row(Text(title, style="bold"))
    outer.add_row(grid)
    return outer


def render_matrix(m: StatMatrix, width: int) -> list[RenderableType]:
    """The tables (stats as rows, or run points as rows when that needs fewer tables), the key of
    the column labels and the legend of the stats."""
    if not m.rows:
        parts: list[RenderableType] = [Text(f"{m.title}: no headline stats", style="bold")]
    else:
        stat_rows, point_rows = by_stat(m, width), by_point(m, width)
        parts = list(stat_rows if len(stat_rows) <= len(point_rows) else point_rows)
    if m.keys:
        parts.append(notes("Columns:", m.keys))
    if m.legend:
        parts.append(notes("Legend:", m.legend))
    return parts


def print_matrix(console: Console, m: StatMatrix) -> None:
    width = table_width(console)
    for part in render_matrix(m, width):
        console.print(part, width=width, highlight=False)
