"""Leaderboards: one Parquet board per dataset, merged from run results, ranked, diffed, rendered.

A board (``<boards>/<dataset>.parquet``, ``<dataset>`` = the dataset's name without parameters)
holds the *per-seed* rows of every configuration that has been run on that dataset: the results
columns with their provenance, as frozen in :data:`BOARD_COLUMNS` (not ``status``, ``error`` or
``artifact``: only ok rows are merged and artifacts stay with the results file), plus ``headline``.
Aggregates over seeds
(mean, std, n) are computed from them by :func:`aggregate` whenever a board is shown, rendered or
diffed, so the per-seed numbers and their provenance are never thrown away. The schema version
is stored in the Parquet metadata under :data:`SCHEMA_KEY`; leaderboards/SCHEMA.md documents it.

Merging (:func:`merge`): a *unit* is one configuration (the rule, goodness, negatives and dataset
ids with every parameter, the dataset version and content hash) x seed x metric id. A unit's rows
always come from one run: a newer run of the unit (later ``started_at``; a tie goes to the rows
being merged) replaces all its rows, an older one is kept out, and every decision is logged. Units
not in the update are never touched. Failed rows are not merged (they are logged).

Writes are atomic (temp file + rename) and serialised by a lock file in the boards folder; a
board that cannot be read, lacks the schema key, has another schema version or other columns is
refused with a clear error and left as it is.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import pandas as pd
import pyarrow.parquet as pq

import ffbench
from ffbench.errors import FFBenchError
from ffbench.registry import Registry, get_registry
from ffbench.locking import folder_lock
from ffbench.results import headline_flags, read_results, write_atomic
from ffbench.summary import headline_column

SCHEMA_KEY = "ffbench_leaderboard_schema"
SCHEMA_VERSION = "1"
INDEX_NAME = "README.md"

#: Schema version 1 (leaderboards/SCHEMA.md): column -> pandas dtype. Frozen here rather than derived
#: from the results columns, so that a new results column never silently changes committed boards:
#: adding one to boards is a schema change. Results columns not listed are not kept (status, error and
#: artifact: only ok rows are merged, and artifacts stay next to their results file).
BOARD_COLUMNS: dict[str, str] = {
    "run_id": "string", "config_hash": "string", "seed": "Int64", "preset": "string",
    **{f"{kind}{suffix}": "string" for kind in ("rule", "goodness", "negatives", "dataset", "metric")
       for suffix in ("", "_id", "_version", "_dist", "_dist_version")},
    "dataset_hash": "string", "higher_is_better": "boolean", "headline": "boolean",
    "stat": "string", "layer": "Int64", "class": "string", "class_b": "string", "value": "float64",
    "ffbench_version": "string", "git_sha": "string", "torch_version": "string", "python_version": "string",
    "device": "string", "precision": "string", "compiled": "boolean", "cached": "boolean",
    "train_seconds": "float64", "metric_seconds": "float64", "started_at": "string",
    "suite": "string", "suite_version": "string",
}
#: What makes two rows the same configuration (every parameter is inside the ids).
CONFIG = ["rule_id", "goodness_id", "negatives_id", "dataset_id", "dataset_version", "dataset_hash"]
#: The replacement unit: a newer run of a unit replaces all of the unit's rows.
UNIT = CONFIG + ["seed", "metric_id"]
#: One aggregated value of a configuration.
CELL = ["metric_id", "stat", "layer", "class", "class_b"]
ROW_ORDER = CONFIG + ["seed"] + CELL
#: Columns of :func:`aggregate` (identity, display names, the cell, the aggregate, provenance summary).
AGGREGATE_COLUMNS = ["rule", "goodness", "negatives", "dataset", *CONFIG, "metric", "metric_id", "metric_version",
                     "higher_is_better", "headline", "stat", "layer", "class", "class_b", "mean", "std", "n",
                     "seeds", "runs", "last_run"]


class BoardError(FFBenchError):
    """A board file that is not a readable ffbench leaderboard of this schema version."""


# -- reading and writing boards ---------------------------------------------------------------


def board_name(dataset_id: str) -> str:
    """The board a dataset's rows go to: its name without parameters (``mnist[train_size=10]`` -> ``mnist``)."""
    return dataset_id.partition("[")[0]


def empty_board() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in BOARD_COLUMNS.items()})


def read_board(path: str | os.PathLike) -> pd.DataFrame:
    """The per-seed rows of the board at ``path``; :class:`BoardError` if it is not a board we can read."""
    path = Path(path)
    keep = f"It was left untouched: restore it (e.g. `git checkout -- {path}`) or move it away."
    if not path.exists():
        raise BoardError(f"No leaderboard at {path}.")
    try:
        pf = pq.ParquetFile(path)
        meta = {k.decode(): v.decode() for k, v in (pf.schema_arrow.metadata or {}).items()}
        table = pf.read()
    except Exception as exc:
        raise BoardError(f"{path} is not a readable Parquet file ({exc}). {keep}") from None
    version = meta.get(SCHEMA_KEY)
    if version is None:
        raise BoardError(f"{path} is not an ffbench leaderboard: its Parquet metadata has no "
                         f"'{SCHEMA_KEY}' key. {keep}")
    if version != SCHEMA_VERSION:
        raise BoardError(f"{path} has leaderboard schema version {version}; ffbench {ffbench.__version__} reads "
                         f"version {SCHEMA_VERSION} only (leaderboards/SCHEMA.md). {keep}")
    names = table.schema.names
    missing = [c for c in BOARD_COLUMNS if c not in names]
    extra = [c for c in names if c not in BOARD_COLUMNS]
    if missing or extra:
        what = "; ".join(p for p in (f"missing {', '.join(missing)}" if missing else "",
                                     f"unknown {', '.join(extra)}" if extra else "") if p)
        raise BoardError(f"{path} claims leaderboard schema version {version} but its columns differ ({what}). {keep}")
    try:
        return table.to_pandas()[list(BOARD_COLUMNS)].astype(BOARD_COLUMNS)
    except (TypeError, ValueError) as exc:
        raise BoardError(f"{path} has columns of the wrong type ({exc}). {keep}") from None


def sort_board(df: pd.DataFrame) -> pd.DataFrame:
    """Rows in their canonical order (so equal boards are equal files)."""
    return df.sort_values(ROW_ORDER, na_position="first", kind="stable").reset_index(drop=True)


#: Boards and their Markdown are meant to be committed and read by others (temp files are 0600).
FILE_MODE = 0o644


def write_board(df: pd.DataFrame, path: Path) -> None:
    write_atomic(sort_board(df[list(BOARD_COLUMNS)].astype(BOARD_COLUMNS)), path, {SCHEMA_KEY: SCHEMA_VERSION})
    os.chmod(path, FILE_MODE)


def list_boards(boards_dir: Path) -> dict[str, Path]:
    """Board name -> Parquet path, for every ``*.parquet`` in ``boards_dir`` (sorted by name)."""
    if not boards_dir.is_dir():
        return {}
    return {p.stem: p for p in sorted(boards_dir.glob("*.parquet"))}


def resolve_board(board: str, boards_dir: Path) -> Path:
    """A board given as a Parquet path or as a name in ``boards_dir``."""
    as_path = Path(board)
    if as_path.suffix == ".parquet" or as_path.is_file():
        if not as_path.exists():
            raise FFBenchError(f"No leaderboard at {as_path}.")
        return as_path
    boards = list_boards(boards_dir)
    if board not in boards:
        raise FFBenchError(f"No board '{board}' in {boards_dir}. Boards there: {', '.join(boards) or '(none)'}.")
    return boards[board]


# -- from results to board rows ---------------------------------------------------------------


def board_rows(results: pd.DataFrame, registry: Registry | None = None) -> pd.DataFrame:
    """The ok rows of a results frame, in the board schema."""
    ok = results[results["status"] == "ok"].copy()
    ok["headline"] = headline_flags(ok, registry)
    for col in BOARD_COLUMNS:  # provenance a results file of an older ffbench does not have
        if col not in ok.columns:
            ok[col] = None
    return ok[list(BOARD_COLUMNS)].astype(BOARD_COLUMNS).reset_index(drop=True)


def _keys(df: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    """One string per row joining ``columns`` (missing values kept distinct from any text)."""
    key = pd.Series("", index=df.index, dtype="object")
    for col in columns:
        key = key + "\x1f" + df[col].astype("string").fillna("\x00").astype("object")
    return key


def _times(df: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(df["started_at"], utc=True, errors="coerce", format="ISO8601")


def config_label(row: pd.Series | dict, with_dataset: bool = True) -> str:
    parts = [str(row["rule"])] + [str(row[c]) for c in ("goodness", "negatives") if not pd.isna(row[c])]
    text = " / ".join(parts)
    return f"{text} on {row['dataset']}" if with_dataset else text


@dataclass(frozen=True)
class Decision:
    """What happened to one unit (configuration x seed x metric) in an update."""

    board: str
    action: str  # added | replaced | kept | superseded | unchanged
    config: str
    seed: int
    metric: str
    run: str
    started_at: str | None
    other_run: str | None = None
    other_started_at: str | None = None

    @property
    def message(self) -> str:
        what = f"{self.config} seed {self.seed} {self.metric}"
        run = f"run {self.run} ({self.started_at or 'no start time'})"
        other = f"run {self.other_run} ({self.other_started_at or 'no start time'})"
        return {
            "added": f"added {what}: {run}",
            "replaced": f"replaced {what}: {other} -> newer {run}",
            "kept": f"kept {what} from newer {other}; the update's {run} is older and was not merged",
            "superseded": f"not merged {what} from {run}: the update also holds newer {other}",
            "unchanged": f"unchanged {what}: {run} is already on the board",
        }[self.action]


def _newest_runs(rows: pd.DataFrame) -> pd.DataFrame:
    """One line per (unit, run): its unit key, run id, start time and position, newest last per unit."""
    runs = rows.assign(_unit=_keys(rows, UNIT), _t=_times(rows), _pos=range(len(rows)))
    runs = runs.drop_duplicates(["_unit", "run_id"], keep="last")
    runs["_t"] = runs["_t"].fillna(pd.Timestamp.min.tz_localize("UTC"))
    return runs.sort_values(["_unit", "_t", "_pos"], kind="stable")


def merge(board: pd.DataFrame, incoming: pd.DataFrame, name: str = "") -> tuple[pd.DataFrame, list[Decision]]:
    """Merge ``incoming`` board rows into ``board``; returns the new board and one decision per
    unit of ``incoming`` (plus one per run of it superseded by a newer run in ``incoming`` itself)."""
    decisions: list[Decision] = []
    incoming = incoming.drop_duplicates(["run_id", *UNIT, *CELL], keep="last")  # a results file given twice

    def decide(action: str, run: pd.Series, other: pd.Series | None = None) -> None:
        decisions.append(Decision(
            name, action, config_label(run), int(run["seed"]), str(run["metric_id"]), str(run["run_id"]),
            None if pd.isna(run["started_at"]) else str(run["started_at"]),
            None if other is None else str(other["run_id"]),
            None if other is None or pd.isna(other["started_at"]) else str(other["started_at"])))

    new_runs = _newest_runs(incoming)
    chosen = new_runs.drop_duplicates("_unit", keep="last").set_index("_unit")
    for _, run in new_runs[new_runs.duplicated("_unit", keep="last")].iterrows():
        decide("superseded", run, chosen.loc[run["_unit"]])
    old_runs = _newest_runs(board)
    old_by_unit = old_runs.groupby("_unit", sort=False)
    old_units = set(old_runs["_unit"])
    take: set[tuple[str, str]] = set()  # (unit, run_id) of incoming rows to merge
    drop: set[str] = set()  # units whose board rows are replaced
    for unit, run in chosen.iterrows():
        if unit not in old_units:
            decide("added", run)
            take.add((unit, run["run_id"]))
            continue
        olds = old_by_unit.get_group(unit)
        newest_old = olds.iloc[-1]
        if run["run_id"] in set(olds["run_id"]):
            decide("unchanged", run)
        elif run["_t"] >= newest_old["_t"]:
            decide("replaced", run, newest_old)
            take.add((unit, run["run_id"]))
            drop.add(unit)
        else:
            decide("kept", run, newest_old)
    if not take:
        return board, decisions
    in_units = _keys(incoming, UNIT)
    keep_in = [(u, r) in take for u, r in zip(in_units, incoming["run_id"])]
    kept_board = board[~_keys(board, UNIT).isin(drop)]
    merged = pd.concat([kept_board, incoming[keep_in]], ignore_index=True).astype(BOARD_COLUMNS)
    return sort_board(merged), decisions


# -- update -----------------------------------------------------------------------------------


@dataclass
class BoardUpdate:
    name: str
    path: Path
    rows_before: int
    rows_after: int
    written: bool
    decisions: list[Decision] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(d.action == action for d in self.decisions)


@dataclass
class UpdateReport:
    boards: list[BoardUpdate]
    #: One line per failed (run, metric) left out of the boards.
    failed: list[str]
    #: Markdown files (re)written.
    rendered: list[Path]

    def as_dict(self) -> dict:
        return {
            "boards": [{"board": b.name, "path": str(b.path), "rows_before": b.rows_before, "rows_after": b.rows_after,
                        "written": b.written,
                        "counts": {a: b.count(a) for a in ("added", "replaced", "kept", "superseded", "unchanged")},
                        "decisions": [d.message for d in b.decisions]} for b in self.boards],
            "failed": self.failed, "rendered": [str(p) for p in self.rendered],
        }


def _failed_lines(results: pd.DataFrame) -> list[str]:
    failed = results[results["status"] != "ok"].drop_duplicates(["run_id", "metric_id"])
    return [f"not merged: failed run {r['run_id']} ({r['rule']} on {r['dataset']}, seed {r['seed']}), "
            f"metric {r['metric']}: {r['error']}" for _, r in failed.iterrows()]


def update(results_paths: Iterable[str | os.PathLike], boards_dir: str | os.PathLike, *,
           registry: Registry | None = None, render: bool = True, lock_timeout: float = 600.0,
           log: Callable[[str], None] = lambda message: None) -> UpdateReport:
    """Merge the ok rows of results files into the boards in ``boards_dir`` (created as needed) and
    re-render the Markdown. Every board in the folder is read (and so checked) before anything is
    written; a board is rewritten only if its rows change, so a repeated update changes nothing."""
    paths = [Path(p) for p in results_paths]
    if not paths:
        raise FFBenchError("No results files given. Usage: ffbench leaderboard update RESULTS.parquet ...")
    results = pd.concat([read_results(p) for p in paths], ignore_index=True)
    failed = _failed_lines(results)
    for line in failed:
        log(line)
    rows = board_rows(results, registry)
    boards_dir = Path(boards_dir)
    boards_dir.mkdir(parents=True, exist_ok=True)
    names = rows["dataset_id"].map(board_name)
    updates: list[BoardUpdate] = []
    with folder_lock(boards_dir, lock_timeout, "the leaderboards folder (another leaderboard update)"):
        current = {name: read_board(path) for name, path in list_boards(boards_dir).items()}
        for name in sorted(set(names)):
            path = boards_dir / f"{name}.parquet"
            before = current.get(name, empty_board())
            merged, decisions = merge(before, rows[names == name].reset_index(drop=True), name)
            for d in decisions:
                log(f"{name}: {d.message}")
            written = merged is not before
            if written:
                write_board(merged, path)
                current[name] = merged
            updates.append(BoardUpdate(name, path, len(before), len(merged), written, decisions))
        rendered = render_all(boards_dir, current) if render else []
    return UpdateReport(updates, failed, rendered)


# -- aggregation and ranking ------------------------------------------------------------------


def aggregate(board: pd.DataFrame) -> pd.DataFrame:
    """Mean, std (sample, ddof=1; NaN for one seed) and n (seeds with a value) over seeds, one row
    per configuration x metric x stat x layer x class x class_b, in :data:`AGGREGATE_COLUMNS`.
    Display names and the metric's version and direction come from the newest run."""
    if board.empty:
        return pd.DataFrame({c: pd.Series(dtype=BOARD_COLUMNS.get(c, "object")) for c in AGGREGATE_COLUMNS})
    df = board.assign(_t=_times(board)).sort_values("_t", kind="stable", na_position="first")
    df["_g"] = df.groupby(CONFIG + CELL, dropna=False, sort=False).ngroup()
    out = df.groupby("_g").agg(
        **{c: (c, "first") for c in CONFIG + CELL},
        rule=("rule", "last"), goodness=("goodness", "last"), negatives=("negatives", "last"),
        dataset=("dataset", "last"), metric=("metric", "last"), metric_version=("metric_version", "last"),
        higher_is_better=("higher_is_better", "last"), headline=("headline", "last"),
        mean=("value", "mean"), std=("value", "std"), n=("value", "count"), last_run=("started_at", "max"),
    )
    out["seeds"] = _joined_per_group(df["_g"], df["seed"], out.index)
    out["runs"] = _joined_per_group(df["_g"], df["run_id"], out.index)
    out = out.reset_index(drop=True)[AGGREGATE_COLUMNS]
    out = out.astype({c: BOARD_COLUMNS[c] for c in AGGREGATE_COLUMNS if c in BOARD_COLUMNS})
    out = out.astype({"mean": "float64", "std": "float64", "n": "Int64", "seeds": "string", "runs": "string"})
    return out.sort_values(CONFIG + CELL, na_position="first", kind="stable").reset_index(drop=True)


def _joined_per_group(groups: pd.Series, values: pd.Series, order: pd.Index) -> list[str]:
    """The sorted distinct values of each group, comma-joined, for the groups in ``order``
    (a plain loop: a per-group pandas call is a thousand times slower on boards of this shape)."""
    found: dict[int, set] = {}
    for g, v in zip(groups.tolist(), values.tolist()):
        if not pd.isna(v):
            found.setdefault(g, set()).add(v)
    return [",".join(str(v) for v in sorted(found.get(g, ()))) for g in order]


def metric_labels(agg: pd.DataFrame) -> pd.Series:
    """The metric's name, or its full id where a board holds the same metric with other parameters."""
    ids_per_name = agg.groupby("metric")["metric_id"].nunique()
    return pd.Series([m if ids_per_name.get(m, 1) == 1 else i for m, i in zip(agg["metric"], agg["metric_id"])],
                     index=agg.index, dtype="object")


def headline_cells(agg: pd.DataFrame) -> pd.DataFrame:
    """The headline stats over all classes (what overviews show and rankings rank)."""
    return agg[agg["headline"].fillna(False).astype(bool) & agg["class"].isna() & agg["class_b"].isna()]


def rank(cells: pd.DataFrame) -> pd.DataFrame:
    """``cells`` with a ``rank`` column (1 = best; ties share the better rank) within each metric x
    stat x layer x class x class_b, following the metric's direction; descriptive metrics
    (``higher_is_better`` missing) and missing means get no rank. Sorted by cell, then rank."""
    out = cells.assign(rank=pd.array([pd.NA] * len(cells), dtype="Int64"), _cell=_keys(cells, CELL),
                       _label=[config_label(r) for _, r in cells.iterrows()])
    for _, group in out.groupby("_cell", sort=False):
        direction = group["higher_is_better"].dropna()
        if not direction.empty:
            ranks = group["mean"].rank(method="min", ascending=not bool(direction.iloc[-1]))
            out.loc[group.index, "rank"] = ranks.astype("Int64")
    out = out.assign(_unranked=out["rank"].isna(), _rank=out["rank"].fillna(0))
    out = out.sort_values(CELL + ["_unranked", "_rank", "_label"], na_position="first")
    return out.drop(columns=["_cell", "_label", "_unranked", "_rank"]).reset_index(drop=True)


def select(agg: pd.DataFrame, metric: str | None = None, stat: str | None = None,
           layer: int | None = None) -> pd.DataFrame:
    """Ranked cells over all classes: the headline stats (or ``stat``) of ``metric`` (a name or id,
    default all) at ``layer`` (default all). Unknown values are errors listing the valid ones."""
    cells = agg[agg["class"].isna() & agg["class_b"].isna()]
    if metric is not None:
        names = sorted(set(cells["metric"].dropna()) | set(cells["metric_id"].dropna()))
        if metric not in names:
            close = difflib.get_close_matches(metric, names, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise FFBenchError(f"No metric '{metric}' on this board.{hint} Metrics on it: "
                               f"{', '.join(sorted(set(cells['metric'].dropna())))}.")
        cells = cells[(cells["metric"] == metric) | (cells["metric_id"] == metric)]
    if stat is not None:
        stats = sorted(set(cells["stat"].dropna()))
        if stat not in stats:
            raise FFBenchError(f"No stat '{stat}'{f' for metric {metric}' if metric else ''}. Valid stats: "
                               f"{', '.join(stats)}.")
        cells = cells[cells["stat"] == stat]
    else:
        cells = headline_cells(cells)
    if layer is not None:
        layers = sorted(int(v) for v in cells["layer"].dropna().unique())
        if layer not in layers:
            raise FFBenchError(f"No layer {layer} in the selection. Valid layers: "
                               f"{', '.join(map(str, layers)) or '(none: the selection is whole-model)'}.")
        cells = cells[cells["layer"] == layer]
    return rank(cells)


# -- tables (shared by the terminal, Markdown and JSON views) -----------------------------------


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
    cols = (cells.drop_duplicates("_col").assign(_descriptive=lambda d: d["higher_is_better"].isna())
            .sort_values(["_descriptive", "_metric", "stat", "layer"], na_position="first"))
    configs = agg.assign(_config=_keys(agg, CONFIG))
    seeds = configs.groupby("_config", sort=False)["seeds"].agg(
        lambda s: len({x for v in s.dropna() for x in str(v).split(",") if x}))
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
    headers = ["#", *id_cols, "seeds"] + [cell_title(c["_metric"], c["stat"], c["layer"], c["higher_is_better"])
                                           for _, c in cols.iterrows()]
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
    return TextTable("Overview", headers, rows, [True] + [False] * len(id_cols) + [True] * (1 + len(cols)), note,
                     ranked_by)


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
        rows = [[_text(r["rank"]), *(_text(r[c]) for c in id_cols), fmt(r["mean"]), fmt(r["std"]), _text(r["n"])]
                for _, r in group.iterrows()]
        note = {True: "higher is better", False: "lower is better"}.get(higher, "descriptive: not ranked")
        tables.append(TextTable(title, ["rank", *id_cols, "mean", "std", "n"], rows,
                                [True] + [False] * len(id_cols) + [True] * 3, note))
    return tables


def records(ranked: pd.DataFrame, board: str) -> pd.DataFrame:
    """Machine-readable rows of a selection (``--json`` / ``--csv``)."""
    cols = ["rank", "rule", "goodness", "negatives", "dataset", "metric", "stat", "layer", "mean", "std", "n",
            "higher_is_better", "seeds", "last_run", "rule_id", "goodness_id", "negatives_id", "dataset_id",
            "dataset_version", "dataset_hash", "metric_id", "metric_version"]
    return ranked[cols].assign(board=board)[["board", *cols]]


# -- Markdown ---------------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(table: TextTable) -> str:
    lines = ["| " + " | ".join(map(_md_cell, table.headers)) + " |",
             "|" + "|".join("---:" if n else "---" for n in table.numeric) + "|"]
    lines += ["| " + " | ".join(map(_md_cell, row)) + " |" for row in table.rows]
    return "\n".join(lines)


GENERATED_MARK = "<!-- Generated by `ffbench leaderboard render`"


def _generated_note(source: str) -> str:
    return (f"{GENERATED_MARK} from {source} (leaderboard schema {SCHEMA_VERSION}). "
            "Do not edit: every update rewrites this file. -->")


def provenance(board: pd.DataFrame) -> TextTable:
    """Per configuration: full identities, seeds, when and with what it ran."""
    def joined(s: pd.Series) -> str:
        return ", ".join(sorted({str(v) for v in s.dropna()})) or "–"

    rows = []
    for _, g in board.groupby(CONFIG, dropna=False, sort=False):
        last = g.sort_values("started_at", na_position="first").iloc[-1]
        ids = " / ".join(f"`{v}`" for v in (last["rule_id"], last["goodness_id"], last["negatives_id"]) if not pd.isna(v))
        data = f"`{last['dataset_id']}` v{last['dataset_version']} ({_text(last['dataset_hash'])})"
        suites = joined(g["suite"].astype("string") + "@" + g["suite_version"].astype("string"))
        shas = g["git_sha"].dropna().map(lambda v: v[:12] + ("-dirty" if v.endswith("-dirty") else ""))
        rows.append([config_label(last), f"{ids} on {data}", joined(g["seed"]), _text(g["started_at"].max()), suites,
                     joined(g["ffbench_version"]), joined(shas), joined(g["torch_version"]), joined(g["device"])])
    rows.sort(key=lambda r: r[0])
    return TextTable("Configurations and provenance",
                     ["configuration", "identity", "seeds", "last run", "suite", "ffbench", "git", "torch", "device"],
                     rows, [False] * 9)


def render_board(board: pd.DataFrame, name: str, agg: pd.DataFrame | None = None) -> str:
    """The Markdown view of one board (deterministic: equal boards give equal text); ``agg``: its
    :func:`aggregate`, if already computed."""
    agg = aggregate(board) if agg is None else agg
    configs = board.drop_duplicates(CONFIG)
    parts = [_generated_note(f"{name}.parquet"), "", f"# Leaderboard: {name}", "",
             f"{len(configs)} configuration(s), {board.drop_duplicates(CONFIG + ['seed']).shape[0]} seeded run(s), "
             f"metrics: {', '.join(sorted(set(board['metric'].dropna()))) or '(none)'}. Values are mean ± std over "
             "seeds (sample std; a single seed shows its value; (n=k): only k seeds have a value). ▲ higher is better, ▼ lower is better, no arrow: "
             "descriptive, not ranked. Raw per-seed rows with provenance: "
             f"[{name}.parquet]({name}.parquet); schema: [SCHEMA.md](SCHEMA.md).", ""]
    if board.empty:
        return "\n".join(parts + ["No rows yet.", ""])
    view = overview(agg)
    parts += ["## Overview", "", view.note, "", markdown_table(view), "", "## Rankings", ""]
    ranked = select(agg)
    ranked = ranked[ranked["higher_is_better"].notna()]
    for table in ranking_tables(ranked):
        parts += [f"### {table.title}", "", f"{table.note}; rank 1 is best, ties share a rank.", "",
                  markdown_table(table), ""]
    if ranked.empty:
        parts += ["No metric on this board declares a direction, so nothing is ranked.", ""]
    prov = provenance(board)
    parts += [f"## {prov.title}", "", markdown_table(prov), ""]
    return "\n".join(parts)


def render_index(boards: dict[str, pd.DataFrame], aggs: dict[str, pd.DataFrame] | None = None) -> str:
    """``README.md`` of the boards folder: one line per board, its leader on the first ranked metric
    (``aggs``: the boards' aggregates, if already computed)."""
    parts = [_generated_note("the *.parquet boards in this folder"), "", "# ffbench leaderboards", "",
             "One board per dataset: the Parquet file holds every seed's rows with provenance, the Markdown "
             "page ranks the configurations. Regenerate with `ffbench leaderboard render`; update with "
             "`ffbench run --suite quick --out quick.parquet && ffbench leaderboard update quick.parquet`. "
             "Schema and version policy: [SCHEMA.md](SCHEMA.md).", ""]
    rows = []
    for name, board in sorted(boards.items()):
        agg = aggregate(board) if aggs is None else aggs[name]
        lead = "–"
        if not board.empty:
            view = overview(agg)
            if view.ranked_by and view.rows:  # rule, goodness, negatives of the first row
                lead = " / ".join(v for v in view.rows[0][1:4] if v != "–") + f" ({view.ranked_by})"
        rows.append([f"[{name}]({name}.md)", str(board.drop_duplicates(CONFIG).shape[0]),
                     str(board.drop_duplicates(CONFIG + ["seed"]).shape[0]),
                     ", ".join(sorted(set(board["metric"].dropna()))) or "–", lead,
                     _text(board["started_at"].max()) if not board.empty else "–"])
    table = TextTable("", ["board", "configurations", "seeded runs", "metrics", "leader", "last run"], rows,
                      [False, True, True, False, False, False])
    parts += [markdown_table(table) if rows else "No boards yet.", ""]
    return "\n".join(parts)


def _write_text_atomic(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` (temp file + rename) unless it already holds it; True if written."""
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return True


def expected_markdown(boards_dir: Path, boards: dict[str, pd.DataFrame]) -> dict[Path, str]:
    """Every Markdown file the boards folder should hold, with its text."""
    aggs = {name: aggregate(df) for name, df in boards.items()}
    texts = {boards_dir / f"{name}.md": render_board(df, name, aggs[name]) for name, df in boards.items()}
    texts[boards_dir / INDEX_NAME] = render_index(boards, aggs)
    return texts


def _orphans(boards_dir: Path, expected: dict[Path, str]) -> list[Path]:
    """Generated pages whose board is gone (hand-written pages such as SCHEMA.md are not touched)."""
    return [p for p in sorted(boards_dir.glob("*.md"))
            if p not in expected and p.read_text(encoding="utf-8").startswith(GENERATED_MARK)]


def render_all(boards_dir: Path, boards: dict[str, pd.DataFrame] | None = None) -> list[Path]:
    """(Re)write the Markdown of every board in ``boards_dir`` and the index, and remove generated
    pages whose board is gone; returns the files changed."""
    if boards is None:
        boards = {name: read_board(path) for name, path in list_boards(boards_dir).items()}
    expected = expected_markdown(boards_dir, boards)
    orphans = _orphans(boards_dir, expected)
    for path in orphans:
        path.unlink()
    return [p for p, text in expected.items() if _write_text_atomic(p, text)] + orphans


def stale_markdown(boards_dir: Path) -> list[Path]:
    """The Markdown files that differ from what their boards render to (edited by hand, or stale),
    and generated pages whose board is gone."""
    boards = {name: read_board(path) for name, path in list_boards(boards_dir).items()}
    expected = expected_markdown(boards_dir, boards)
    return [p for p, text in expected.items()
            if not p.exists() or p.read_text(encoding="utf-8") != text] + _orphans(boards_dir, expected)


# -- diff -------------------------------------------------------------------------------------


def _boards_at(path: Path) -> dict[str, pd.DataFrame]:
    if path.is_dir():
        return {name: read_board(p) for name, p in list_boards(path).items()}
    if not path.exists():
        raise FFBenchError(f"No leaderboard or boards folder at {path}.")
    return {path.stem: read_board(path)}


def diff(old: str | os.PathLike, new: str | os.PathLike) -> pd.DataFrame:
    """What changed between two boards (files) or two boards folders, one row per aggregated cell
    that was added, removed, changed (mean, std or n) or re-run (other runs, the same numbers).
    Ranks are compared for ranked headline cells."""
    old_boards, new_boards = _boards_at(Path(old)), _boards_at(Path(new))
    if Path(old).is_file() and Path(new).is_file():  # two files: compare them whatever their names
        old_boards = {Path(new).stem: next(iter(old_boards.values()))}
        new_boards = {Path(new).stem: next(iter(new_boards.values()))}
    parts = []
    for name in sorted(set(old_boards) | set(new_boards)):
        a = aggregate(old_boards.get(name, empty_board()))
        b = aggregate(new_boards.get(name, empty_board()))
        ranks_a, ranks_b = rank(headline_cells(a)), rank(headline_cells(b))
        key = CONFIG + CELL
        a = a.merge(ranks_a[key + ["rank"]], on=key, how="left")
        b = b.merge(ranks_b[key + ["rank"]], on=key, how="left")
        both = a.merge(b, on=key, how="outer", suffixes=("_old", "_new"), indicator=True)
        parts.append(both.assign(board=name))
    if not parts:
        return pd.DataFrame(columns=DIFF_COLUMNS)
    both = pd.concat(parts, ignore_index=True)

    def status(r) -> str:
        if r["_merge"] == "left_only":
            return "removed"
        if r["_merge"] == "right_only":
            return "added"
        same = all(_same(r[f"{c}_old"], r[f"{c}_new"]) for c in ("mean", "std", "n"))
        if not same:
            return "changed"
        return "rerun" if r["runs_old"] != r["runs_new"] else "same"

    both["status"] = [status(r) for _, r in both.iterrows()] if len(both) else []
    both = both[both["status"] != "same"]
    for col in ("rule", "goodness", "negatives", "dataset", "metric", "headline", "higher_is_better"):
        both[col] = both[f"{col}_new"].where(both[f"{col}_new"].notna(), both[f"{col}_old"])
    both["delta"] = both["mean_new"] - both["mean_old"]
    return both.rename(columns={"rank_old": "old_rank", "rank_new": "new_rank", "mean_old": "old_mean",
                                "mean_new": "new_mean", "n_old": "old_n", "n_new": "new_n"})[DIFF_COLUMNS] \
        .reset_index(drop=True)


DIFF_COLUMNS = ["board", "status", "rule", "goodness", "negatives", "dataset", "metric", "stat", "layer", "class",
                "class_b", "old_mean", "new_mean", "delta", "old_n", "new_n", "old_rank", "new_rank", "headline",
                "higher_is_better", "rule_id", "goodness_id", "negatives_id", "dataset_id", "dataset_version",
                "dataset_hash", "metric_id"]


def _same(a, b) -> bool:
    if pd.isna(a) and pd.isna(b):
        return True
    if pd.isna(a) or pd.isna(b):
        return False
    return abs(float(a) - float(b)) <= 1e-12 * max(1.0, abs(float(a)))


def diff_table(changes: pd.DataFrame, everything: bool = False) -> TextTable:
    """The diff as a table: headline cells over all classes, or every cell with ``everything``."""
    shown = changes if everything else changes[changes["headline"].fillna(False).astype(bool)
                                               & changes["class"].isna() & changes["class_b"].isna()]
    rows = []
    for _, r in shown.iterrows():
        cell = headline_column(r["metric"], r["stat"], r["layer"])
        if not pd.isna(r["class"]):
            cell += f" [{r['class']}{'' if pd.isna(r['class_b']) else ' vs ' + str(r['class_b'])}]"
        rank_text = "" if pd.isna(r["old_rank"]) and pd.isna(r["new_rank"]) else \
            f"{_text(r['old_rank'])} -> {_text(r['new_rank'])}"
        rows.append([r["board"], r["status"], config_label(r), cell, fmt(r["old_mean"]), fmt(r["new_mean"]),
                     "" if pd.isna(r["delta"]) else f"{r['delta']:+.4f}", f"{_text(r['old_n'])} -> {_text(r['new_n'])}",
                     rank_text])
    counts = changes["status"].value_counts()
    note = (", ".join(f"{counts.get(s, 0)} {s}" for s in ("added", "removed", "changed", "rerun"))
            + " cell(s)" + ("" if everything else "; headline cells over all classes shown (--all for every cell)"))
    return TextTable("Leaderboard changes", ["board", "status", "configuration", "cell", "old", "new", "delta", "n",
                                             "rank"], rows, [False, False, False, False, True, True, True, True, True],
                     note)
