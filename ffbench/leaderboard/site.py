"""``ffbench leaderboard site OUT``: a static HTML site of every board of a boards folder.

One ``index.html`` lists the boards; one page per board says what its Markdown page says
(:mod:`.page`) with sortable tables (a click on a header sorts by that column; a small inline
script, nothing fetched), the figures the metrics own (drawn by ``ffbench report``'s board report,
:func:`ffbench.report.build_report`), and every seed's values and the provenance on demand
(``<details>``). No server and no network at view time; every text from a board is HTML-escaped.

Boards are the ``*.parquet`` files of the folder and of its sub-folders one level down (e.g.
``leaderboards/goodness-study/``); symbolic links are not followed. Output file names are made
from board names reduced to ``[a-z0-9-]``, so nothing is written outside ``OUT``.
"""

from __future__ import annotations

import html
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ffbench.atomic_write import write_text
from ffbench.errors import FFBenchError
from ffbench.leaderboard.aggregate import aggregate
from ffbench.leaderboard.page import BoardPage, Section, build_page
from ffbench.leaderboard.render import leader
from ffbench.leaderboard.schema import CONFIG
from ffbench.leaderboard.store import list_boards, read_board
from ffbench.leaderboard.tables import TextTable
from ffbench.report.build import build_report

#: A file in OUT that marks it as a site ffbench wrote (so a rebuild may replace it).
MARKER = ".ffbench-site"

STYLE = """
*, *::before, *::after { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1240px;
       padding: 1rem; color: #222; line-height: 1.45; }
h1 { font-size: 1.5rem; margin: .4rem 0; } h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; }
h3 { font-size: 1.05rem; margin: 1.2rem 0 .3rem; }
p { max-width: 75em; } code { font-size: .85em; overflow-wrap: anywhere; word-break: break-word; }
table { border-collapse: collapse; font-size: .82rem; margin: .5rem 0 1rem; max-width: 100%; }
th, td { border: 1px solid #ddd; padding: .2rem .45rem; text-align: left; vertical-align: top;
         overflow-wrap: break-word; }
th { background: #f4f4f4; } td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th[aria-sort="ascending"]::after { content: " \\2191"; }
table.sortable th[aria-sort="descending"]::after { content: " \\2193"; }
.wide { max-width: 100%; overflow-x: auto; }
figure { margin: 1rem 0 1.5rem; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #444; font-size: .9rem; }
.note { background: #fff8e1; border-left: 4px solid #f0b400; padding: .4rem .8rem; }
details { margin: .4rem 0 1rem; } summary { cursor: pointer; color: #0645ad; }
nav.toc { font-size: .9rem; display: flex; flex-wrap: wrap; gap: .2rem .9rem; }
"""

#: Sorts a table by the clicked column: by each cell's data-sort number where it has one, else by
#: its text; a second click reverses. Rows without a value go last.
SORT_SCRIPT = """
(function () {
  function key(cell) {
    if (!cell) return null;
    var s = cell.getAttribute("data-sort");
    if (s !== null && s !== "") return parseFloat(s);
    return null;
  }
  function sortBy(table, col, th) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var up = th.getAttribute("aria-sort") !== "ascending";
    var heads = table.tHead.rows[0].cells;
    for (var i = 0; i < heads.length; i++) heads[i].removeAttribute("aria-sort");
    th.setAttribute("aria-sort", up ? "ascending" : "descending");
    rows.sort(function (a, b) {
      var ca = a.cells[col], cb = b.cells[col];
      var ka = key(ca), kb = key(cb);
      var r;
      if (ka !== null || kb !== null) {
        if (ka === null) return 1;
        if (kb === null) return -1;
        r = ka - kb;
      } else {
        r = (ca ? ca.textContent : "").localeCompare(cb ? cb.textContent : "");
      }
      return up ? r : -r;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, col) {
      th.setAttribute("title", "Sort by this column");
      th.addEventListener("click", function () { sortBy(table, col, th); });
    });
  });
})();
"""


@dataclass
class Site:
    out: Path
    index: Path
    pages: dict[str, Path] = field(default_factory=dict)  # board name -> page
    figures: int = 0


def discover(boards_dir: Path) -> dict[str, Path]:
    """Board name (``sub/name`` for a sub-folder's) -> Parquet path: the folder's boards and those of
    its sub-folders one level down; hidden folders and symbolic links are skipped."""
    boards_dir = Path(boards_dir)
    if not boards_dir.is_dir():
        raise FFBenchError(f"No boards folder at {boards_dir}.")
    found = {name: p for name, p in list_boards(boards_dir).items() if not p.is_symlink()}
    for sub in sorted(boards_dir.iterdir()):
        if sub.is_dir() and not sub.is_symlink() and not sub.name.startswith("."):
            found.update({f"{sub.name}/{n}": p for n, p in list_boards(sub).items() if not p.is_symlink()})
    if not found:
        raise FFBenchError(f"No boards (*.parquet) in {boards_dir} or its sub-folders.")
    return found


def slug(name: str, taken: set[str]) -> str:
    """A file stem of ``[a-z0-9-]`` only, unique in ``taken``."""
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "board"
    stem, i = base, 2
    while stem in taken or stem == "index":
        stem, i = f"{base}-{i}", i + 1
    taken.add(stem)
    return stem


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


_CODE = re.compile(r"`([^`]*)`")
_LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]*)\)")


def inline(text: str) -> str:
    """Escaped text with the page's Markdown: `code`, and [links](href) to in-page anchors, the
    site's own pages or http(s) addresses (other links, e.g. to the boards folder's files, keep only
    their text)."""
    out, pos = [], 0
    for m in _LINK.finditer(text):
        out.append(_code(text[pos : m.start()]))
        label, href = m.group(1), m.group(2)
        if href.startswith("#") or re.match(r"https?://", href) or re.fullmatch(r"[a-z0-9-]+\.html", href):
            out.append(f'<a href="{_e(href)}">{_code(label)}</a>')
        else:
            out.append(_code(label))
        pos = m.end()
    out.append(_code(text[pos:]))
    return "".join(out)


def _code(text: str) -> str:
    parts, pos = [], 0
    for m in _CODE.finditer(text):
        parts.append(_e(text[pos : m.start()]))
        parts.append(f"<code>{_e(m.group(1))}</code>")
        pos = m.end()
    parts.append(_e(text[pos:]))
    return "".join(parts)


def table_html(table: TextTable, sortable: bool = True) -> str:
    cls = ' class="sortable"' if sortable else ""
    head = "".join(
        f'<th scope="col"{" class=num" if num else ""}>{_e(h)}</th>' for h, num in zip(table.headers, table.numeric)
    )
    body = []
    for i, row in enumerate(table.rows):
        keys = table.sort_keys[i] if i < len(table.sort_keys) else []
        cells = []
        for j, text in enumerate(row):
            k = keys[j] if j < len(keys) else None
            attrs = ' class="num"' if table.numeric[j] else ""
            if k is not None and not pd.isna(k):
                attrs += f' data-sort="{float(k)!r}"'
            cells.append(f"<td{attrs}>{inline(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<div class="wide"><table{cls}><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def _document(title: str, body: list[str]) -> str:
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<link rel="icon" href="data:,">',
            f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>",
            *body,
            f"<script>{SORT_SCRIPT}</script>",
            "</body></html>",
            "",
        ]
    )


def _section_html(sec: Section, figures: list[str]) -> list[str]:
    tag = f"h{sec.level}"
    parts = [f'<{tag} id="{_e(sec.anchor)}">{_e(sec.title)}</{tag}>']
    parts += [f"<p>{inline(p)}</p>" for p in sec.text]
    for table in sec.tables:
        if sec.anchor in ("provenance", "key"):
            what = "provenance of every configuration" if sec.anchor == "provenance" else "full identities"
            parts.append(f"<details><summary>Show the {what}</summary>{table_html(table)}</details>")
        else:
            parts.append(table_html(table))
    if sec.seeds is not None and sec.seeds.rows:
        parts.append(f"<details><summary>Every seed's value</summary>{table_html(sec.seeds)}</details>")
    parts += figures
    return parts


def _figures(board_path: Path, out: Path, stem: str) -> tuple[list[str], list[str], int]:
    """The board report's figures copied to ``out/stem/``: (HTML per figure section, notes, count)."""
    with tempfile.TemporaryDirectory() as tmp:
        report = build_report(board_path, Path(tmp) / "report")
        target = out / stem
        target.mkdir(exist_ok=True)
        parts, count = [], 0
        for s in report.sections:
            if not s.figures:
                continue
            parts.append(f"<h3>{_e(s.title)}</h3><p>{_e(s.description)}</p>")
            for f in s.figures:
                name = Path(f.file).name
                if not re.fullmatch(r"[A-Za-z0-9._-]+\.png", name):
                    continue
                shutil.copyfile(Path(tmp) / "report" / name, target / name)
                src = f"{stem}/{name}"
                parts.append(
                    f'<figure><a href="{_e(src)}"><img src="{_e(src)}" alt="{_e(f.caption)}"></a>'
                    f"<figcaption>{_e(f.caption)}</figcaption></figure>"
                )
                count += 1
        return parts, list(report.notes), count


def board_html(page: BoardPage, figures: list[str], notes: list[str]) -> str:
    body = ['<p><a href="index.html">All boards</a></p>', f"<h1>Leaderboard: {_e(page.name)}</h1>"]
    body += [f"<p>{inline(p)}</p>" for p in page.intro]
    toc = [(s.anchor, s.title) for s in page.sections if s.level == 2]
    if figures:
        toc.insert(len(toc) - 1, ("figures", "Figures"))
    body.append('<nav class="toc">' + "".join(f'<a href="#{_e(a)}">{_e(t)}</a>' for a, t in toc) + "</nav>")
    for sec in page.sections:
        if sec.anchor == "provenance" and figures:
            body.append('<h2 id="figures">Figures</h2>')
            body += [f'<p class="note">{_e(n)}</p>' for n in notes]
            body += figures
        body += _section_html(sec, [])
    return _document(f"ffbench leaderboard: {page.name}", body)


def index_html(rows: list[list[str]], keys: list[list[float | None]]) -> str:
    table = TextTable(
        "",
        ["board", "configurations", "seeded runs", "leader", "last run"],
        rows,
        [False, True, True, False, False],
        sort_keys=keys,
    )
    body = [
        "<h1>ffbench leaderboards</h1>",
        "<p>One board per dataset (and per study). A leader is named only where the seeds separate it "
        "from every other configuration (paired or Welch t-test, two-sided 0.05 per pair, at least 3 "
        "seeds); otherwise the configurations the seeds cannot separate from the best are listed as "
        "tied. Click a column header to sort.</p>",
        table_html(table),
    ]
    return _document("ffbench leaderboards", body)


def build_site(out: str | Path, boards_dir: str | Path, figures: bool = True) -> Site:
    """Write the site of every board under ``boards_dir`` into ``out`` (created; an existing folder
    must be empty or a site written before)."""
    out, boards_dir = Path(out), Path(boards_dir)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).exists())):
        raise FFBenchError(f"{out} exists and is not an ffbench site: choose an empty or new folder.")
    found = discover(boards_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("written by ffbench leaderboard site\n", encoding="utf-8")
    site = Site(out, out / "index.html")
    taken: set[str] = set()
    rows, keys = [], []
    for name, path in found.items():
        board = read_board(path)
        agg = aggregate(board)
        stem = slug(name, taken)
        page = build_page(board, name, agg)
        figs, notes, count = _figures(path, out, stem) if figures and not board.empty else ([], [], 0)
        site.figures += count
        target = out / f"{stem}.html"
        write_text(target, board_html(page, figs, notes))
        site.pages[name] = target
        lead, on = leader(board, agg)
        n_configs = board.drop_duplicates(CONFIG).shape[0]
        n_runs = board.drop_duplicates(CONFIG + ["seed"]).shape[0]
        rows.append(
            [
                f"[{name}]({stem}.html)",
                str(n_configs),
                str(n_runs),
                f"{lead} ({on})" if on else "–",
                "–" if board.empty else str(board["started_at"].max()),
            ]
        )
        keys.append([None, float(n_configs), float(n_runs), None, None])
    write_text(site.index, index_html(rows, keys))
    return site
