"""The report's ``index.html``: one static page, no scripts, no network.

Figures are referenced as relative file names of PNGs in the same folder, so the page works
wherever the folder is copied (and stays small enough to open fast). Every value from the
results is HTML-escaped.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1200px;
       padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { margin-top: 2.4rem; border-bottom: 1px solid #ddd; }
h3 { font-size: 1rem; margin: 1.2rem 0 .3rem; }
.meta { color: #555; margin: 0 0 1rem; } .meta code { font-size: .9em; }
table { border-collapse: collapse; font-size: .85rem; margin: .5rem 0 1rem; }
th, td { border: 1px solid #ddd; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.scroll { overflow-x: auto; }
figure { margin: 1rem 0 2rem; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #444; font-size: .9rem; }
.note { background: #fff8e1; border-left: 4px solid #f0b400; padding: .4rem .8rem; margin: .5rem 0; }
nav ul { columns: 2; font-size: .9rem; }
.swatch { display: inline-block; width: .9em; height: .9em; margin: 0 .3em 0 .8em; vertical-align: -.1em; }
"""


@dataclass
class FigureRef:
    """A PNG in the report folder and what it shows."""

    file: str
    caption: str


@dataclass
class Section:
    """One kind of figure: its title, what it shows, its PNGs, or why it was skipped."""

    key: str
    title: str
    description: str
    figures: list[FigureRef] = field(default_factory=list)
    skipped: str | None = None


@dataclass
class Page:
    title: str
    meta: list[tuple[str, str]]  # (label, value) lines under the title
    tables: list[tuple[str, pd.DataFrame]]  # configuration / summary, before the figures
    sections: list[Section]
    appendix: list[tuple[str, pd.DataFrame]] = field(default_factory=list)  # provenance, after
    notes: list[str] = field(default_factory=list)
    colours: dict[str, str] = field(default_factory=dict)  # series -> colour, shown as a key


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def table_html(df: pd.DataFrame) -> str:
    """A plain escaped table; numbers right-aligned, missing values as an en dash."""
    head = "".join(f"<th>{_e(c)}</th>" for c in df.columns)
    body = []
    for row in df.itertuples(index=False):
        cells = []
        for v in row:
            if v is None or (not isinstance(v, str) and pd.isna(v)):
                cells.append("<td>–</td>")
            elif isinstance(v, float):
                cells.append(f'<td class="num">{v:.4g}</td>')
            elif isinstance(v, (int,)) and not isinstance(v, bool):
                cells.append(f'<td class="num">{v}</td>')
            else:
                cells.append(f"<td>{_e(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def render(page: Page) -> str:
    parts = [
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(page.title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{_e(page.title)}</h1>",
    ]
    parts += [f'<p class="meta">{_e(label)}: <code>{_e(value)}</code></p>' for label, value in page.meta]
    parts.append(
        "<nav><ul>"
        + "".join(
            f'<li><a href="#{_e(s.key)}">{_e(s.title)}</a>' + (" (skipped)" if s.skipped else "") + "</li>"
            for s in page.sections
        )
        + "</ul></nav>"
    )
    if page.colours:
        parts.append(
            '<p class="key">Series colours: '
            + " ".join(
                f'<span class="swatch" style="background:{_e(c)}"></span>{_e(s)}' for s, c in page.colours.items()
            )
            + "</p>"
        )
    for note in page.notes:
        parts.append(f'<p class="note">{_e(note)}</p>')
    for title, df in page.tables:
        parts.append(f"<h2>{_e(title)}</h2>{table_html(df)}")
    for s in page.sections:
        parts.append(f'<h2 id="{_e(s.key)}">{_e(s.title)}</h2><p>{_e(s.description)}</p>')
        if s.skipped:
            parts.append(f'<p class="note">Skipped: {_e(s.skipped)}</p>')
        for f in s.figures:
            parts.append(
                f'<figure><a href="{_e(f.file)}"><img src="{_e(f.file)}" alt="{_e(f.caption)}" '
                f'loading="lazy"></a><figcaption>{_e(f.caption)}</figcaption></figure>'
            )
    for title, df in page.appendix:
        parts.append(f"<h2>{_e(title)}</h2>{table_html(df)}")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_index(out: Path, page: Page) -> Path:
    path = Path(out) / "index.html"
    path.write_text(render(page), encoding="utf-8")
    return path
