"""Tables shared by the terminal, Markdown and JSON views, and the Markdown files of a boards folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ffbench.atomic_write import write_text
from ffbench.leaderboard.aggregate import aggregate, headline_cells, metric_labels, select
from ffbench.leaderboard.merge import _keys, config_label
from ffbench.leaderboard.schema import CELL, CONFIG, INDEX_NAME, SCHEMA_VERSION
from ffbench.leaderboard.store import list_boards, read_board
from ffbench.summary import headline_column

ARROWS = {True: "▲", False: "▼"}


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


def fmt(value: float) -> str:
    if pd.isna(value):
        return "–"
    return f"{value:.1f}" if abs(value) >= 100 else f"{value:.4f}"


def mean_std(mean: float, std: float) -> str:
    return fmt(mean) if pd.isna(std) else f"{fmt(mean)} ± {fmt(std)}"


def cell_title(metric: str, stat: str, layer, higher) -> str:
    arrow = ARROWS.get(None if pd.isna(higher) else bool(higher), "")
    return headline_column(metric, stat, layer) + (f" {arrow}" if arrow else "")


def _config_columns(df: pd.DataFrame) -> list[str]:
    """rule, goodness, negatives (and dataset where the board holds several variants of it)."""
    cols = ["rule", "goodness", "negatives"]
    return cols + (["dataset"] if df["dataset_id"].nunique() > 1 else [])


def _text(v) -> str:
    return "–" if pd.isna(v) else str(v)


def overview(agg: pd.DataFrame) -> TextTable:
    """One row per configuration, one column per headline cell (mean ± std), ranked metrics first;
    rows ordered by the first ranked column (best first), then by configuration."""
    cells = headline_cells(agg).assign(_metric=metric_labels(agg))
    cells = cells.assign(_config=_keys(cells, CONFIG), _col=_keys(cells, ["metric_id", "stat", "layer"]))
    cols = (
        cells.drop_duplicates("_col")
        .assign(_descriptive=lambda d: d["higher_is_better"].isna())
        .sort_values(["_descriptive", "_metric", "stat", "layer"], na_position="first")
    )
    configs = agg.assign(_config=_keys(agg, CONFIG))
    seeds = configs.groupby("_config", sort=False)["seeds"].agg(
        lambda s: len({x for v in s.dropna() for x in str(v).split(",") if x})
    )
    configs = configs.drop_duplicates("_config").assign(_label=lambda d: [config_label(r) for _, r in d.iterrows()])
    values = cells.set_index(["_config", "_col"])
    ranked_by, note = "", "No ranked metric: ordered by configuration."
    configs = configs.sort_values("_label")
    primary = cols[~cols["_descriptive"]]
    if not primary.empty:
        p = primary.iloc[0]
        ranked_by = cell_title(p["_metric"], p["stat"], p["layer"], p["higher_is_better"])
        note = f"Ordered by {ranked_by}."
        lead = cells[cells["_col"] == p["_col"]].set_index("_config")["mean"]
        key = configs["_config"].map(lead).astype("float64")
        configs = configs.assign(_missing=key.isna(), _key=(-key if bool(p["higher_is_better"]) else key).fillna(0.0))
        configs = configs.sort_values(["_missing", "_key", "_label"])
    id_cols = _config_columns(agg)
    headers = ["#", *id_cols, "seeds"] + [
        cell_title(c["_metric"], c["stat"], c["layer"], c["higher_is_better"]) for _, c in cols.iterrows()
    ]
    rows = []
    for i, (_, conf) in enumerate(configs.iterrows(), start=1):
        n_seeds = seeds[conf["_config"]]
        row = [str(i), *(_text(conf[c]) for c in id_cols), str(n_seeds)]
        for col in cols["_col"]:
            if (conf["_config"], col) not in values.index:
                row.append("–")
                continue
            cell = values.loc[(conf["_config"], col)]
            fewer = f" (n={cell['n']})" if cell["n"] < n_seeds else ""  # seeds where the value is undefined
            row.append(mean_std(cell["mean"], cell["std"]) + fewer)
        rows.append(row)
    return TextTable(
        "Overview", headers, rows, [True] + [False] * len(id_cols) + [True] * (1 + len(cols)), note, ranked_by
    )


def ranking_tables(ranked: pd.DataFrame) -> list[TextTable]:
    """One table per metric x stat x layer of :func:`select`'s output."""
    tables = []
    labels = metric_labels(ranked) if not ranked.empty else pd.Series(dtype="object")
    ranked = ranked.assign(_metric=labels)
    id_cols = _config_columns(ranked) if not ranked.empty else []
    for _, group in ranked.groupby(CELL, dropna=False, sort=False):
        first = group.iloc[0]
        higher = None if group["higher_is_better"].dropna().empty else bool(group["higher_is_better"].dropna().iloc[-1])
        title = cell_title(first["_metric"], first["stat"], first["layer"], higher)
        rows = [
            [_text(r["rank"]), *(_text(r[c]) for c in id_cols), fmt(r["mean"]), fmt(r["std"]), _text(r["n"])]
            for _, r in group.iterrows()
        ]
        note = {True: "higher is better", False: "lower is better"}.get(higher, "descriptive: not ranked")
        tables.append(
            TextTable(
                title, ["rank", *id_cols, "mean", "std", "n"], rows, [True] + [False] * len(id_cols) + [True] * 3, note
            )
        )
    return tables


def records(ranked: pd.DataFrame, board: str) -> pd.DataFrame:
    """Machine-readable rows of a selection (``--json`` / ``--csv``)."""
    cols = [
        "rank",
        "rule",
        "goodness",
        "negatives",
        "dataset",
        "metric",
        "stat",
        "layer",
        "mean",
        "std",
        "n",
        "higher_is_better",
        "seeds",
        "last_run",
        "rule_id",
        "goodness_id",
        "negatives_id",
        "dataset_id",
        "dataset_version",
        "dataset_hash",
        "metric_id",
        "metric_version",
    ]
    return ranked[cols].assign(board=board)[["board", *cols]]


# -- Markdown ---------------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(table: TextTable) -> str:
    lines = [
        "| " + " | ".join(map(_md_cell, table.headers)) + " |",
        "|" + "|".join("---:" if n else "---" for n in table.numeric) + "|",
    ]
    lines += ["| " + " | ".join(map(_md_cell, row)) + " |" for row in table.rows]
    return "\n".join(lines)


GENERATED_MARK = "<!-- Generated by `ffbench leaderboard render`"


def _generated_note(source: str) -> str:
    return (
        f"{GENERATED_MARK} from {source} (leaderboard schema {SCHEMA_VERSION}). "
        "Do not edit: every update rewrites this file. -->"
    )


def provenance(board: pd.DataFrame) -> TextTable:
    """Per configuration: full identities, seeds, when and with what it ran."""

    def joined(s: pd.Series) -> str:
        return ", ".join(sorted({str(v) for v in s.dropna()})) or "–"

    rows = []
    for _, g in board.groupby(CONFIG, dropna=False, sort=False):
        last = g.sort_values("started_at", na_position="first").iloc[-1]
        ids = " / ".join(
            f"`{v}`" for v in (last["rule_id"], last["goodness_id"], last["negatives_id"]) if not pd.isna(v)
        )
        data = f"`{last['dataset_id']}` v{last['dataset_version']} ({_text(last['dataset_hash'])})"
        suites = joined(g["suite"].astype("string") + "@" + g["suite_version"].astype("string"))
        shas = g["git_sha"].dropna().map(lambda v: v[:12] + ("-dirty" if v.endswith("-dirty") else ""))
        rows.append(
            [
                config_label(last),
                f"{ids} on {data}",
                joined(g["seed"]),
                _text(g["started_at"].max()),
                suites,
                joined(g["ffbench_version"]),
                joined(shas),
                joined(g["torch_version"]),
                joined(g["device"]),
            ]
        )
    rows.sort(key=lambda r: r[0])
    return TextTable(
        "Configurations and provenance",
        ["configuration", "identity", "seeds", "last run", "suite", "ffbench", "git", "torch", "device"],
        rows,
        [False] * 9,
    )


def render_board(board: pd.DataFrame, name: str, agg: pd.DataFrame | None = None) -> str:
    """The Markdown view of one board (deterministic: equal boards give equal text); ``agg``: its
    :func:`aggregate`, if already computed."""
    agg = aggregate(board) if agg is None else agg
    configs = board.drop_duplicates(CONFIG)
    parts = [
        _generated_note(f"{name}.parquet"),
        "",
        f"# Leaderboard: {name}",
        "",
        f"{len(configs)} configuration(s), {board.drop_duplicates(CONFIG + ['seed']).shape[0]} seeded run(s), "
        f"metrics: {', '.join(sorted(set(board['metric'].dropna()))) or '(none)'}. Values are mean ± std over "
        "seeds (sample std; a single seed shows its value; (n=k): only k seeds have a value). "
        "▲ higher is better, ▼ lower is better, no arrow: "
        "descriptive, not ranked. Raw per-seed rows with provenance: "
        f"[{name}.parquet]({name}.parquet); schema: [SCHEMA.md](SCHEMA.md).",
        "",
    ]
    if board.empty:
        return "\n".join(parts + ["No rows yet.", ""])
    view = overview(agg)
    parts += ["## Overview", "", view.note, "", markdown_table(view), "", "## Rankings", ""]
    ranked = select(agg)
    ranked = ranked[ranked["higher_is_better"].notna()]
    for table in ranking_tables(ranked):
        parts += [
            f"### {table.title}",
            "",
            f"{table.note}; rank 1 is best, ties share a rank.",
            "",
            markdown_table(table),
            "",
        ]
    if ranked.empty:
        parts += ["No metric on this board declares a direction, so nothing is ranked.", ""]
    prov = provenance(board)
    parts += [f"## {prov.title}", "", markdown_table(prov), ""]
    return "\n".join(parts)


def render_index(boards: dict[str, pd.DataFrame], aggs: dict[str, pd.DataFrame] | None = None) -> str:
    """``README.md`` of the boards folder: one line per board, its leader on the first ranked metric
    (``aggs``: the boards' aggregates, if already computed)."""
    parts = [
        _generated_note("the *.parquet boards in this folder"),
        "",
        "# ffbench leaderboards",
        "",
        "One board per dataset: the Parquet file holds every seed's rows with provenance, the Markdown "
        "page ranks the configurations. Regenerate with `ffbench leaderboard render`; update with "
        "`ffbench run --suite quick --out quick.parquet && ffbench leaderboard update quick.parquet`. "
        "Schema and version policy: [SCHEMA.md](SCHEMA.md).",
        "",
    ]
    rows = []
    for name, board in sorted(boards.items()):
        agg = aggregate(board) if aggs is None else aggs[name]
        lead = "–"
        if not board.empty:
            view = overview(agg)
            if view.ranked_by and view.rows:  # rule, goodness, negatives of the first row
                lead = " / ".join(v for v in view.rows[0][1:4] if v != "–") + f" ({view.ranked_by})"
        rows.append(
            [
                f"[{name}]({name}.md)",
                str(board.drop_duplicates(CONFIG).shape[0]),
                str(board.drop_duplicates(CONFIG + ["seed"]).shape[0]),
                ", ".join(sorted(set(board["metric"].dropna()))) or "–",
                lead,
                _text(board["started_at"].max()) if not board.empty else "–",
            ]
        )
    table = TextTable(
        "",
        ["board", "configurations", "seeded runs", "metrics", "leader", "last run"],
        rows,
        [False, True, True, False, False, False],
    )
    parts += [markdown_table(table) if rows else "No boards yet.", ""]
    return "\n".join(parts)


def expected_markdown(boards_dir: Path, boards: dict[str, pd.DataFrame]) -> dict[Path, str]:
    """Every Markdown file the boards folder should hold, with its text."""
    aggs = {name: aggregate(df) for name, df in boards.items()}
    texts = {boards_dir / f"{name}.md": render_board(df, name, aggs[name]) for name, df in boards.items()}
    texts[boards_dir / INDEX_NAME] = render_index(boards, aggs)
    return texts


def _orphans(boards_dir: Path, expected: dict[Path, str]) -> list[Path]:
    """Generated pages whose board is gone (hand-written pages such as SCHEMA.md are not touched)."""
    return [
        p
        for p in sorted(boards_dir.glob("*.md"))
        if p not in expected and p.read_text(encoding="utf-8").startswith(GENERATED_MARK)
    ]


def render_all(boards_dir: Path, boards: dict[str, pd.DataFrame] | None = None) -> list[Path]:
    """(Re)write the Markdown of every board in ``boards_dir`` and the index, and remove generated
    pages whose board is gone; returns the files changed."""
    if boards is None:
        boards = {name: read_board(path) for name, path in list_boards(boards_dir).items()}
    expected = expected_markdown(boards_dir, boards)
    orphans = _orphans(boards_dir, expected)
    for path in orphans:
        path.unlink()
    return [p for p, text in expected.items() if write_text(p, text, only_if_changed=True)] + orphans


def stale_markdown(boards_dir: Path) -> list[Path]:
    """The Markdown files that differ from what their boards render to (edited by hand, or stale),
    and generated pages whose board is gone."""
    boards = {name: read_board(path) for name, path in list_boards(boards_dir).items()}
    expected = expected_markdown(boards_dir, boards)
    return [p for p, text in expected.items() if not p.exists() or p.read_text(encoding="utf-8") != text] + _orphans(
        boards_dir, expected
    )
