"""`ffbench leaderboard show` in the terminal, fitted to its width by :mod:`ffbench.cli.tables`
(as the run summary and `ffbench report` are): a row per configuration (short labels, the board
pages' :func:`ffbench.leaderboard.short_labels`) and a column per stat and layer (short labels),
or transposed where that needs fewer tables; columns that do not fit go to further tables, never a
word split. Under the tables: a note on the ranks, a key from each configuration label to its full
identity, a key from each column label to its metric and stat, and a legend line per stat.

The overview shows the board pages' headline columns (:class:`ffbench.leaderboard.page.BoardModel`:
same columns, order and ranks); ``every`` shows every stat over all classes, headline ones first."""

from __future__ import annotations

from collections import Counter

import pandas as pd
from rich.console import Console, RenderableType
from rich.text import Text

from ffbench import leaderboard as lb
from ffbench.cli.tables import chunked, notes, table_width
from ffbench.leaderboard.aggregate import RANKED, rankable
from ffbench.leaderboard.formatting import SHARED_MACHINE, machine_measured
from ffbench.leaderboard.labels import identity
from ffbench.leaderboard.page import ARROWS, BoardModel, rank_text, value_cell
from ffbench.leaderboard.schema import CONFIG, row_keys
from ffbench.summary import spaced, stat_meaning


def abbreviation(metric: str) -> str:
    """``linear-probe`` -> ``lp``; a one-word name stays as it is."""
    parts = [p for p in str(metric).split("-") if p]
    return "".join(p[0] for p in parts) if len(parts) > 1 else str(metric)


def stat_labels(cols: pd.DataFrame) -> dict[tuple[str, str], str]:
    """(metric id, stat) -> a short label, unique among ``cols``: the metric's name for the stat named
    like it, else the stat alone, else ``lp.accuracy`` (the metric's initials) where two metrics share
    the stat's name; a metric held with several parameter sets gets a number (``excitation2``)."""
    pairs = list(dict.fromkeys(zip(cols["metric_id"], cols["metric"].astype(str), cols["stat"].astype(str))))
    ids: dict[str, list[str]] = {}
    for mid, metric, _ in pairs:
        ids.setdefault(metric, [])
        if mid not in ids[metric]:
            ids[metric].append(mid)
    ids = {m: sorted(v) for m, v in ids.items()}

    def numbered(name: str, mid: str, metric: str) -> str:
        return f"{name}{ids[metric].index(mid) + 1}" if len(ids[metric]) > 1 else name

    names = [numbered(metric, mid, metric) if stat == metric else stat for mid, metric, stat in pairs]
    counts = Counter(names)
    labels = {}
    for (mid, metric, stat), name in zip(pairs, names):
        if counts[name] > 1 and stat != metric:
            name = f"{numbered(abbreviation(metric), mid, metric)}.{stat}"
        labels[(mid, stat)] = name
    clash = Counter(labels.values())
    return {k: v if clash[v] == 1 else f"{k[0]}.{k[1]}" for k, v in labels.items()}  # initials that collide


def full_identity(row: pd.Series) -> str:
    """A configuration's identity (breakable between parameters), with its numeric precision."""
    text = spaced(identity(row))
    precision = row.get("precision")
    return text if precision is None or pd.isna(precision) else f"{text} · {precision}"


def over_all_classes(agg: pd.DataFrame) -> pd.DataFrame:
    """Every stat of ``agg`` over all classes (no per-class rows), each marked headline."""
    return agg[agg["class"].isna() & agg["class_b"].isna()].assign(headline=True)


def every_column(b: BoardModel) -> pd.DataFrame:
    """Every stat column of ``b`` (built with every stat as headline), ordered as the overview orders
    its columns: ranked first, time and memory last, whole model before layers, then by name."""
    cols = b.ranked.drop_duplicates("_col").copy()
    cols["_ranked"] = [rankable(b.ranked[b.ranked["_col"] == c]) is None for c in cols["_col"]]
    cols["_machine"] = [machine_measured(s) for s in cols["stat"]]
    cols["_whole"] = cols["layer"].isna()
    return cols.sort_values(
        ["_ranked", "_machine", "_whole", "_metric", "stat", "layer"],
        ascending=[False, True, False, True, True, True],
        na_position="first",
        kind="stable",
    )


class BoardView:
    """What the overview of one board shows, as text cells."""

    def __init__(self, name: str, agg: pd.DataFrame, board: pd.DataFrame | None, every: bool = False):
        self.name, self.every = name, every
        b = BoardModel(agg, board)  # the pages' overview: headline columns, order, the rank in #
        self.board = b
        if every:
            full = BoardModel(over_all_classes(agg), board)
            head = list(b.columns["_col"])
            rest = every_column(full)
            cols = pd.concat([rest[rest["_col"].isin(head)].set_index("_col").loc[head].reset_index(), rest])
            self.source, self.cols = full, cols.drop_duplicates("_col").reset_index(drop=True)
        else:
            self.source, self.cols = b, b.columns.reset_index(drop=True)
        self.labels = stat_labels(self.cols)
        self.primary = b.primary()
        self.order = b.order

    def label(self, c: pd.Series) -> str:
        return self.labels[(c["metric_id"], str(c["stat"]))]

    def arrow(self, c: pd.Series) -> str:
        higher = c["higher_is_better"] if c["_ranked"] else None
        return ARROWS.get(None if higher is None or pd.isna(higher) else bool(higher), "")

    def header(self, c: pd.Series, with_layer: bool = True) -> str:
        layer = f" L{int(c['layer'])}" if with_layer and not pd.isna(c["layer"]) else ""
        arrow = self.arrow(c)
        return self.label(c) + layer + (f" {arrow}" if arrow else "")

    def cells(self) -> dict[str, list[str]]:
        """Per configuration (in rank order): its rank text and every column's text."""
        p = self.primary
        ranks = {k: "–" for k in self.order}
        if p is not None:
            first = self.board.cell(p["_col"])
            ranks.update({k: rank_text(first.loc[k]) for k in self.order if k in first.index})
        values: dict[str, list[str]] = {k: [] for k in self.order}
        for _, c in self.cols.iterrows():
            cell = self.source.cell(c["_col"])
            for k in self.order:
                if k not in cell.index:
                    values[k].append("–")
                    continue
                r = cell.loc[k]
                text, _ = value_cell(r, self.board.seeds.get(k, 0))
                if r["status"] == RANKED and not (p is not None and c["_col"] == p["_col"]):
                    text += f" ({int(r['rank'])})"
                values[k].append(text)
        return {k: [ranks[k], *values[k]] for k in self.order}

    def title(self) -> str:
        return f"{self.name}: {'every stat' if self.every else 'headline stats'}"

    def note(self) -> str:
        p = self.primary
        shown = f"{len(self.cols)} value(s) per configuration"
        more = "" if self.every else "; --all shows every stat, --metric M one metric's ranking"
        values = "Values: mean ± std over seeds (over all classes); Ln: layer n"
        if p is None:
            return f"{values}. Nothing on this board declares a direction: nothing is ranked; {shown}{more}."
        first = self.header(self.cols[self.cols["_col"] == p["_col"]].iloc[0])
        return (
            f"{values}; ▲/▼: higher/lower is better. # is the rank on {first}; (k) after a value: its rank on "
            f"that column. Rows: by rank, configurations of one rank by name. {shown}{more}."
        )

    def config_key(self) -> list[tuple[str, str]]:
        return [(self.board.labels[k], full_identity(self.board.configs.loc[k])) for k in self.order]

    def column_key(self) -> list[tuple[str, str]]:
        lines = {}
        for _, c in self.cols.iterrows():
            label = self.label(c)
            full = spaced(c["metric_id"]) if c["stat"] == c["metric"] else f"{c['stat']} of {spaced(c['metric_id'])}"
            if c["_machine"]:
                full += f" (measured on a {SHARED_MACHINE}: not ranked)"
            if full != label:
                lines.setdefault(label, full)
        return list(lines.items())

    def legend(self, registry) -> list[tuple[str, str]]:
        lines = {}
        for _, c in self.cols.iterrows():
            label = self.label(c)
            if label not in lines:
                lines[label] = stat_meaning(str(c["metric"]), str(c["stat"]), registry, c["higher_is_better"])
        return list(lines.items())


def view_tables(v: BoardView, width: int) -> list[RenderableType]:
    """A row per configuration (or, where that needs fewer tables, a row per stat and layer)."""
    cells = v.cells()
    labels = [v.board.labels[k] for k in v.order]
    seeds = [str(v.board.seeds.get(k, 0)) for k in v.order]
    by_config = chunked(
        v.title(),
        [("#", "right"), ("configuration", "left"), ("seeds", "right")],
        [v.header(c) for _, c in v.cols.iterrows()],
        [([cells[k][0], lab, n], cells[k][1:]) for k, lab, n in zip(v.order, labels, seeds)],
        width,
    )
    rows = [(["#", ""], [cells[k][0] for k in v.order]), (["seeds", ""], seeds)]
    for j, (_, c) in enumerate(v.cols.iterrows()):
        layer = "-" if pd.isna(c["layer"]) else str(int(c["layer"]))
        rows.append(([v.header(c, with_layer=False), layer], [cells[k][j + 1] for k in v.order]))
    by_stat = chunked(v.title(), [("stat", "left"), ("layer", "right")], labels, rows, width)
    return by_config if len(by_config) <= len(by_stat) or not v.order else by_stat


def print_overview(console: Console, v: BoardView, registry) -> None:
    width = table_width(console)
    parts = [*view_tables(v, width), Text(v.note())]
    parts.append(notes("Configurations:", v.config_key()))
    if v.column_key():
        parts.append(notes("Columns:", v.column_key()))
    if len(v.cols):
        parts.append(notes("Legend:", v.legend(registry)))
    for part in parts:
        console.print(part, width=width, highlight=False)
    console.print()


def print_ranking(console: Console, name: str, ranked: pd.DataFrame) -> None:
    """``--metric``/``--stat``/``--layer``: one table per selected value (rank, configuration, seeds
    with a value, mean ± std, why not ranked), fitted the same way, and the configurations' key."""
    width = table_width(console)
    for table in lb.ranking_tables(ranked):
        heads = [("rank", "right"), ("configuration", "left")]
        rows = [(row[:2], row[2:]) for row in table.rows]
        for part in chunked(f"{name}: {table.title}", heads, table.headers[2:], rows, width):
            console.print(part, width=width, highlight=False)
        if table.note:
            console.print(Text(table.note), width=width, highlight=False)
    if not ranked.empty:
        configs = ranked.assign(_config=row_keys(ranked, CONFIG)).drop_duplicates("_config")
        labels = lb.short_labels(ranked)
        key = sorted((labels[k], full_identity(r)) for k, (_, r) in zip(configs["_config"], configs.iterrows()))
        console.print(notes("Configurations:", key), width=width, highlight=False)
    console.print()
