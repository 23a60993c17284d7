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
    #: Markdown shows the rows as a list ("- first cell: the others"): GitHub scrolls a table
    #: whose cells hold long unbreakable text (full identities), a list item wraps.
    markdown_list: bool = False


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(table: TextTable) -> str:
    if table.markdown_list:
        return "\n".join(f"- {row[0]}: " + " · ".join(c for c in row[1:] if c) for row in table.rows)
    lines = [
        "| " + " | ".join(map(_md_cell, table.headers)) + " |",
        "|" + "|".join("---:" if n else "---" for n in table.numeric) + "|",
    ]
    lines += ["| " + " | ".join(map(_md_cell, row)) + " |" for row in table.rows]
    return "\n".join(lines)
