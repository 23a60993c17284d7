"""What a board page says, once, for its Markdown (:mod:`.render`) and HTML (:mod:`.site`) views.

A page: how to read it; an overview of the ranked headline values (at most
:data:`OVERVIEW_VALUES` columns, short configuration labels, the leader or the tie on the first
one) and a key from each label to its full identity; one section per metric with layers as rows;
the superseded configurations; the provenance. Ranks come from :func:`.aggregate.rank` (the
separation test of :mod:`.separation`), numbers from :mod:`.formatting`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ffbench.leaderboard.aggregate import (
    LOCAL,
    PRELIMINARY,
    RANKED,
    cell_ranking,
    direction,
    headline_cells,
    metric_labels,
    rank,
    rankable,
)
from ffbench.leaderboard.formatting import SHARED_MACHINE, machine_measured, mean_std, value
from ffbench.leaderboard.labels import data_identity, identity, short_labels
from ffbench.leaderboard.schema import CELL, CONFIG, row_keys
from ffbench.leaderboard.separation import ALPHA, MIN_SEEDS, expected_false_separations
from ffbench.leaderboard.superseded import superseded
from ffbench.leaderboard.tables import TextTable
from ffbench.summary import headline_column

ARROWS = {True: "▲", False: "▼"}
#: Value columns of the overview (with rank, configuration and seeds: 10 columns, one screen).
OVERVIEW_VALUES = 7
#: Stat columns of one metric table (more are split over several tables).
SECTION_VALUES = 5


@dataclass
class Section:
    """One part of a page: a title, paragraphs (Markdown: `code` and [links](href) only), tables;
    ``seeds``: every seed's value (the HTML view shows it on demand); ``metric``: the metric whose
    figures belong here."""

    title: str
    anchor: str
    text: list[str] = field(default_factory=list)
    tables: list[TextTable] = field(default_factory=list)
    level: int = 2
    seeds: TextTable | None = None
    metric: str | None = None


@dataclass
class BoardPage:
    name: str
    intro: list[str]
    sections: list[Section]
    #: The leader on the first ranked value: "label", "tied: a, b", or "" when nothing is ranked.
    leader: str = ""
    #: The value the leader is decided on (e.g. "accuracy ▲").
    leader_on: str = ""


def cell_title(metric: str, stat: str, layer, higher) -> str:
    arrow = ARROWS.get(None if higher is None or pd.isna(higher) else bool(higher), "")
    return headline_column(metric, stat, layer) + (f" {arrow}" if arrow else "")


def _anchor(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in str(text).lower()).strip("-") or "section"


def _n_seeds(agg: pd.DataFrame) -> dict[str, int]:
    seeds: dict[str, set] = {}
    for key, s in zip(row_keys(agg, CONFIG), agg["seeds"]):
        seeds.setdefault(key, set()).update(x for x in str(s).split(",") if x and not pd.isna(s))
    return {k: len(v) for k, v in seeds.items()}


class BoardModel:
    """One board's aggregates, labels, ranks and order, computed once for every section of its page
    and for the terminal tables of `ffbench leaderboard show`."""

    def __init__(self, agg: pd.DataFrame, board: pd.DataFrame | None = None):
        self.board, self.agg = board, agg
        self.labels = short_labels(agg)
        if board is not None:
            self.stale = superseded(board)
        else:  # what supersedes them is on the board's rows; the aggregate only knows that
            flags = agg.assign(_config=row_keys(agg, CONFIG)).groupby("_config")["superseded"].any()
            self.stale = {k: "a newer suite version" for k, v in flags.items() if v}
        self.seeds = _n_seeds(agg)
        cells = headline_cells(agg)
        cells = cells.assign(_metric=metric_labels(agg).loc[cells.index])
        self.ranked = rank(cells).assign(_config=lambda d: row_keys(d, CONFIG))
        self.ranked["_col"] = row_keys(self.ranked, ["metric_id", "stat", "layer"])
        configs = agg.assign(_config=row_keys(agg, CONFIG)).drop_duplicates("_config").set_index("_config")
        self.configs = configs
        self.current = [k for k in configs.index if k not in self.stale]
        self.data = {k: data_identity(configs.loc[k]) for k in configs.index}
        self.columns = self._overview_columns()
        self.order = self._order()

    def _overview_columns(self) -> pd.DataFrame:
        cols = self.ranked.drop_duplicates("_col").copy()
        cols["_ranked"] = [rankable(self.ranked[self.ranked["_col"] == c]) is None for c in cols["_col"]]
        cols["_machine"] = [machine_measured(s) for s in cols["stat"]]
        cols["_whole"] = cols["layer"].isna()
        cols = cols.sort_values(
            ["_ranked", "_machine", "_whole", "_metric", "stat", "layer"],
            ascending=[False, True, False, True, True, True],
            na_position="first",
            kind="stable",
        )
        if cols["_ranked"].any():
            cols = cols[cols["_ranked"]]
        return cols.head(OVERVIEW_VALUES)

    def primary(self) -> pd.Series | None:
        cols = self.columns[self.columns["_ranked"]]
        return None if cols.empty else cols.iloc[0]

    def cell(self, col: str) -> pd.DataFrame:
        return self.ranked[self.ranked["_col"] == col].set_index("_config")

    def _order(self) -> list[str]:
        """Current configurations: by rank on the first ranked column, then preliminary and
        unranked ones; within one rank by label (the seeds do not order them)."""
        p = self.primary()
        keyed = []
        for k in self.current:
            rank_, status = float("inf"), 3
            if p is not None:
                cell = self.cell(p["_col"])
                if k in cell.index:
                    r = cell.loc[k]
                    status = {RANKED: 0, PRELIMINARY: 1}.get(r["status"], 2)
                    rank_ = float(r["rank"]) if not pd.isna(r["rank"]) else float("inf")
            keyed.append(((status, rank_, self.labels[k]), k))
        return [k for _, k in sorted(keyed)]

    def leader(self) -> tuple[str, str]:
        """(the leader or the tie on the first ranked column, that column's title)."""
        p = self.primary()
        if p is None:
            return "", ""
        group = self.ranked[self.ranked["_col"] == p["_col"]]
        ranking = cell_ranking(group)
        title = cell_title(p["_metric"], p["stat"], p["layer"], p["higher_is_better"])
        if not ranking.ranks:
            return f"none ranked: fewer than {MIN_SEEDS} seeds", title
        sign = -1 if p["higher_is_better"] else 1
        best = min(ranking.ranks, key=lambda i: sign * group.loc[i, "mean"])
        names = sorted(self.labels[group.loc[i, "_config"]] for i in ranking.tied_with(best))
        return (names[0] if len(names) == 1 else "tied: " + ", ".join(names)), title


def rank_text(r: pd.Series) -> str:
    if r["status"] == RANKED:
        return str(int(r["rank"]))
    if r["status"] == PRELIMINARY:
        return f"prelim. (n={r['n']})"
    return "–"


def _sort_rank(r: pd.Series) -> float | None:
    return float(r["rank"]) if not pd.isna(r["rank"]) else None


def value_cell(r: pd.Series, n_seeds: int) -> tuple[str, float | None]:
    text = mean_std(r["mean"], r["std"], r["stat"])
    if r["n"] < n_seeds:  # seeds where the value is undefined
        text += f" (n={r['n']})"
    return text, None if pd.isna(r["mean"]) else float(r["mean"])


def overview_table(agg: pd.DataFrame, board: pd.DataFrame | None = None) -> TextTable:
    """The overview of a board from its aggregate (and its rows, which say what supersedes what)."""
    return overview(BoardModel(agg, board))


def overview(b: BoardModel) -> TextTable:
    """One row per current configuration; the ranked headline values (rank in brackets after
    the first), best first on the first of them."""
    cols = b.columns
    p = b.primary()
    headers = ["#", "configuration", "seeds"]
    titles = []
    for _, c in cols.iterrows():
        t = cell_title(c["_metric"], c["stat"], c["layer"], c["higher_is_better"] if c["_ranked"] else None)
        titles.append(t + (f" ({SHARED_MACHINE})" if c["_machine"] else ""))
    rows, keys = [], []
    for k in b.order:
        row = ["–", b.labels[k], str(b.seeds.get(k, 0))]
        key = [None, None, float(b.seeds.get(k, 0))]
        for _, c in cols.iterrows():
            cell = b.cell(c["_col"])
            if k not in cell.index:
                row.append("–")
                key.append(None)
                continue
            r = cell.loc[k]
            text, sort = value_cell(r, b.seeds.get(k, 0))
            if p is not None and c["_col"] == p["_col"]:
                row[0], key[0] = rank_text(r), _sort_rank(r)
            elif r["status"] == RANKED:
                text += f" ({int(r['rank'])})"
            row.append(text)
            key.append(sort)
        rows.append(row)
        keys.append(key)
    note = "Nothing on this board declares a direction: nothing is ranked; ordered by configuration."
    ranked_by = ""
    if p is not None:
        ranked_by = titles[0]
        note = (
            f"Column # is the rank on {ranked_by}; (k) after a value: its rank on that column. "
            "Rows: by rank; configurations of one rank by name (the seeds do not order them)."
        )
    return TextTable(
        "Overview", headers + titles, rows, [True, False, True] + [True] * len(titles), note, ranked_by, keys
    )


def key_table(b: BoardModel) -> TextTable:
    """Each label and the full identity it stands for (and how its rows were verified)."""
    verified = (b.agg["verification"].dropna() != LOCAL).any()
    headers = ["configuration", "identity"] + (["verification"] if verified else [])
    rows = []
    for k in sorted(b.configs.index, key=lambda k: b.labels[k]):
        row = [b.labels[k], f"`{identity(b.configs.loc[k])}`"]
        if verified:
            rows_k = b.agg[row_keys(b.agg, CONFIG) == k]
            row.append(", ".join(sorted({v for s in rows_k["verification"] for v in str(s).split(",") if v})))
        rows.append(row)
    return TextTable("Key", headers, rows, [False] * len(headers), markdown_list=True)


def _layer_text(layer) -> str:
    return "all" if pd.isna(layer) else str(int(layer))


def metric_sections(b: BoardModel) -> list[Section]:
    """One section per metric: its headline stats, rows by layer then configuration (ranked
    stats: by rank and mean; others in the overview's order)."""
    sections = []
    cur = b.ranked[b.ranked["_config"].isin(b.current)]
    metrics = cur.drop_duplicates("_metric")
    ranked_first = sorted(
        metrics["_metric"],
        key=lambda m: (
            not any(rankable(g) is None for _, g in cur[cur["_metric"] == m].groupby(CELL, dropna=False)),
            m,
        ),
    )
    position = {k: i for i, k in enumerate(b.order)}
    for metric in ranked_first:
        rows = cur[cur["_metric"] == metric]
        stats = sorted(set(rows["stat"]))
        first = rows.iloc[0]
        higher = direction(rows)
        sec = Section(str(metric), "metric-" + _anchor(metric), metric=str(first["metric"]))
        ranked_stats = [s for s in stats if rankable(rows[rows["stat"] == s]) is None]
        machine = [s for s in stats if machine_measured(s)]
        sec.text.append(_section_note(rows, higher, ranked_stats, machine))
        layers = sorted(set(rows["layer"].dropna().astype(int))) + ([pd.NA] if rows["layer"].isna().any() else [])
        for chunk in [stats[i : i + SECTION_VALUES] for i in range(0, len(stats), SECTION_VALUES)]:
            sec.tables.append(_metric_table(b, rows, chunk, ranked_stats, layers, position))
        sec.seeds = _seed_table(b, rows, stats, layers, position)
        sections.append(sec)
    return sections


def _section_note(rows: pd.DataFrame, higher, ranked_stats: list[str], machine: list[str]) -> str:
    parts = []
    if ranked_stats:
        parts.append(f"{'Higher' if higher else 'Lower'} is better; # is the rank on the value beside it.")
        spans = []
        for (stat, layer), g in rows[rows["stat"].isin(ranked_stats)].groupby(["stat", "layer"], dropna=False):
            ranking = cell_ranking(g)
            smallest = ranking.smallest()
            if not smallest:
                continue
            where = ("" if len(ranked_stats) == 1 else f"{stat} ") + ("" if pd.isna(layer) else f"L{int(layer)} ")
            lo, mid, hi = min(smallest), float(np.median(smallest)), max(smallest)
            spans.append(f"{where}{value(mid, stat, 3)} ({value(lo, stat, 3)}–{value(hi, stat, 3)})".strip())
        if spans:
            tests = sorted({t for t in rows["test"] if t})
            parts.append(
                "Smallest difference the seeds separate at the observed spread, median (range) over the "
                f"{_pairs(rows, ranked_stats)} pairs ({' / '.join(t for ts in tests for t in ts.split(', ') if t)}): "
                + "; ".join(spans)
                + "."
            )
    else:
        parts.append("No direction declared: descriptive, not ranked.")
    if machine:
        parts.append(
            f"{', '.join(machine)}: measured on a {SHARED_MACHINE} (depends on what else ran), shown, never ranked."
        )
    return " ".join(parts)


def _pairs(rows: pd.DataFrame, ranked_stats: list[str]) -> int:
    g = rows[(rows["stat"] == ranked_stats[0]) & (rows["status"] == RANKED)]
    per_layer = g.groupby("layer", dropna=False).size()
    k = int(per_layer.max()) if len(per_layer) else 0
    return k * (k - 1) // 2


def _metric_table(b, rows, stats, ranked_stats, layers, position) -> TextTable:
    has_layers = rows["layer"].notna().any()
    headers = (["layer"] if has_layers else []) + ["configuration", "seeds"]
    numeric = ([True] if has_layers else []) + [False, True]
    for s in stats:
        higher = direction(rows[rows["stat"] == s]) if s in ranked_stats else None
        if s in ranked_stats:
            headers.append("#" if len(ranked_stats) == 1 else f"# {s}")
            numeric.append(True)
        title = s + (f" {ARROWS[higher]}" if higher is not None else "")
        headers.append(title + (f" ({SHARED_MACHINE})" if machine_measured(s) else ""))
        numeric.append(True)
    body, keys = [], []
    for layer in layers:
        at = rows[rows["layer"].isna()] if pd.isna(layer) else rows[rows["layer"] == layer]
        by_stat = {s: at[at["stat"] == s].set_index("_config") for s in stats}
        lead = ranked_stats[0] if ranked_stats and ranked_stats[0] in stats else None
        configs = list(dict.fromkeys(at["_config"]))
        if lead is not None:  # rank() already ordered these rows: by rank, then by name
            configs = list(dict.fromkeys(at[at["stat"] == lead]["_config"])) + configs
            configs = list(dict.fromkeys(configs))
        else:
            configs.sort(key=lambda k: position.get(k, len(position)))
        for k in configs:
            row = ([_layer_text(layer)] if has_layers else []) + [b.labels[k], str(b.seeds.get(k, 0))]
            key = ([None if pd.isna(layer) else float(layer)] if has_layers else []) + [None, float(b.seeds.get(k, 0))]
            for s in stats:
                cell = by_stat[s]
                r = cell.loc[k] if k in cell.index else None
                if s in ranked_stats:
                    row.append("–" if r is None else rank_text(r))
                    key.append(None if r is None else _sort_rank(r))
                if r is None:
                    row.append("–")
                    key.append(None)
                else:
                    text, sort = value_cell(r, b.seeds.get(k, 0))
                    row.append(text)
                    key.append(sort)
            body.append(row)
            keys.append(key)
    return TextTable("", headers, body, numeric, sort_keys=keys)


def _seed_table(b, rows, stats, layers, position) -> TextTable:
    """Every seed's value of every row of a metric section."""
    seeds = sorted({s for d in rows["per_seed"] for s in d})
    headers = ["layer", "configuration", "stat"] + [f"seed {s}" for s in seeds]
    body, keys = [], []
    ordered = rows.assign(_pos=rows["_config"].map(position).fillna(len(position)))
    ordered = ordered.sort_values(["layer", "_pos", "stat"], na_position="first", kind="stable")
    for _, r in ordered.iterrows():
        vals = [r["per_seed"].get(s) for s in seeds]
        body.append([_layer_text(r["layer"]), b.labels[r["_config"]], r["stat"]] + [value(v, r["stat"]) for v in vals])
        keys.append([None if pd.isna(r["layer"]) else float(r["layer"]), None, None] + vals)
    return TextTable("Per-seed values", headers, body, [True, False, False] + [True] * len(seeds), sort_keys=keys)


def superseded_section(b: BoardModel) -> Section | None:
    stale = [k for k in b.configs.index if k in b.stale]
    if not stale:
        return None
    sec = Section("Superseded", "superseded")
    sec.text.append(
        "Kept on the board, never ranked: every row of these configurations was made by a suite at an "
        "older version than the newest of that suite on this board, and the same components (other "
        'parameters) were run at the newest version (leaderboards/SCHEMA.md, "Superseded").'
    )
    headers = ["configuration", "superseded by", "seeds"]
    titles, cols = [], list(b.columns.iterrows())
    for _, c in cols:
        titles.append(cell_title(c["_metric"], c["stat"], c["layer"], None))
    rows, keys = [], []
    for k in sorted(stale, key=lambda k: b.labels[k]):
        row, key = [b.labels[k], b.stale[k], str(b.seeds.get(k, 0))], [None, None, float(b.seeds.get(k, 0))]
        for _, c in cols:
            cell = b.cell(c["_col"])
            if k in cell.index:
                text, sort = value_cell(cell.loc[k], b.seeds.get(k, 0))
            else:
                text, sort = "–", None
            row.append(text)
            key.append(sort)
        rows.append(row)
        keys.append(key)
    sec.tables.append(
        TextTable("", headers + titles, rows, [False, False, True] + [True] * len(titles), sort_keys=keys)
    )
    return sec


def provenance(board: pd.DataFrame, labels: dict[str, str] | None = None) -> TextTable:
    """Per configuration: seeds, when, by which suite, versions and environment it ran."""

    def joined(s: pd.Series) -> str:
        return ", ".join(sorted({str(v) for v in s.dropna()})) or "–"

    labels = labels or short_labels(board)
    verified = "verification" in board.columns and board["verification"].notna().any()
    rows = []
    for _, g in board.assign(_config=row_keys(board, CONFIG)).groupby("_config", sort=False):
        versions = "; ".join(
            f"{kind} {joined(g[f'{kind}_version'])}"
            for kind in ("rule", "goodness", "negatives")
            if g[f"{kind}_id"].notna().any()
        )
        suites = joined(g["suite"].astype("string") + "@" + g["suite_version"].astype("string"))
        shas = g["git_sha"].dropna().map(lambda v: v[:12] + ("-dirty" if v.endswith("-dirty") else ""))
        row = [
            labels[g["_config"].iloc[0]],
            joined(g["seed"]),
            _text(g["started_at"].max()),
            suites,
            versions,
            joined(g["ffbench_version"]),
            joined(shas),
            joined(g["torch_version"]),
            joined(g["device"]),
        ]
        if verified:
            row.append(joined(g["verification"].astype("string").fillna("local")))
        rows.append(row)
    rows.sort(key=lambda r: r[0])
    headers = ["configuration", "seeds", "last run", "suite", "versions", "ffbench", "git", "torch", "device"]
    headers += ["verification"] if verified else []
    return TextTable("Configurations and provenance", headers, rows, [False] * len(headers))


def _text(v) -> str:
    return "–" if pd.isna(v) else str(v)


def intro(b: BoardModel, name: str) -> list[str]:
    n_runs = sum(b.seeds.values())
    stale = len(b.configs) - len(b.current)
    data = sorted(set(b.data.values()))
    where = (
        f"Data: `{data[0][0]}` v{data[0][1]} ({data[0][2]}) for every configuration."
        if len(data) == 1
        else f"Data: {len(data)} variants of {name}'s dataset; each label names the parameters that differ "
        "(`· data: ...`), the key below the overview the full identities."
    )
    k = len(b.current)
    pairs = k * (k - 1) // 2
    return [
        f"{len(b.configs)} configuration(s)"
        + (f" ({stale} superseded)" if stale else "")
        + f", {n_runs} seeded run(s). {where}",
        "Values are mean ± std over seeds (sample std to 3 significant digits, the mean to the same "
        "decimal place; one seed: its value; (n=k): only k seeds have a value). The std is training "
        "noise only: every seed trains on the same data sample and is scored on the same test set.",
        f"A configuration's rank on a value is 1 + the number of configurations the seeds separate "
        f"above it: a paired t-test on the per-seed differences where two configurations share at least "
        f"{MIN_SEEDS} seeds and their data, Welch's t-test otherwise; two-sided, {ALPHA:g} per pair, "
        f"no correction for the number of pairs (with {k} configurations, {pairs} pairs: about "
        f"{expected_false_separations(pairs):.1f} separations by chance alone where nothing differs). "
        f"Ties share a rank; fewer than {MIN_SEEDS} seeds: preliminary, not ranked. ▲ higher is "
        f"better, ▼ lower is better, no arrow: descriptive, not ranked; time and memory are measured "
        f"on a {SHARED_MACHINE}: shown, never ranked. Rules: [SCHEMA.md](SCHEMA.md); every seed's rows "
        f"with provenance: [{name}.parquet]({name}.parquet).",
    ]


def build_page(board: pd.DataFrame, name: str, agg: pd.DataFrame) -> BoardPage:
    """The page of one board (``agg``: its :func:`~.aggregate.aggregate`)."""
    if board.empty:
        return BoardPage(name, ["No rows yet."], [])
    b = BoardModel(agg, board)
    leader, on = b.leader()
    view = overview(b)
    over = Section("Overview", "overview", [view.note], [view])
    if on:
        lead = "Leader on" if not leader.startswith(("tied", "none")) else "On"
        over.text.insert(0, f"{lead} {on}: {leader}.")
    sections = [over, Section("Key", "key", tables=[key_table(b)], level=3)]
    sections += metric_sections(b)
    stale = superseded_section(b)
    if stale is not None:
        sections.append(stale)
    prov = provenance(board, b.labels)
    sections.append(Section(prov.title, "provenance", tables=[prov]))
    return BoardPage(name, intro(b, name), sections, leader, on)
