"""The one table type the terminal, Markdown and HTML views print, and its Markdown form."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TextTable:
    title: str
    headers: list[str]
    rows: list[list[str]]
    #: Per column: True to right-align (numbers).
    numeric: list[bool]
    note: str = ""
    #: The column the rows are ranked by, if any.
    ranked_by: str = ""
    #: Per row and column, the number a cell sorts by (None: sort by its text); for the HTML view.
    sort_keys: list[list[float | None]] = field(default_factory=list)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(table: TextTable) -> str:
    lines = [
        "| " + " | ".join(map(_md_cell, table.headers)) + " |",
        "|" + "|".join("---:" if n else "---" for n in table.numeric) + "|",
    ]
    lines += ["| " + " | ".join(map(_md_cell, row)) + " |" for row in table.rows]
    return "\n".join(lines)
