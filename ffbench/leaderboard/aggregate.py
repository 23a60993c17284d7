"""Aggregates over seeds (mean, std, n, each seed's value), the headline cells, ranks by the
separation test (:mod:`.separation`) and selections."""

from __future__ import annotations

import difflib

import numpy as np
import pandas as pd

from ffbench.errors import FFBenchError
from ffbench.leaderboard.formatting import machine_measured
from ffbench.leaderboard.labels import data_identity
from ffbench.leaderboard.merge import config_label
from ffbench.leaderboard.schema import AGGREGATE_COLUMNS, BOARD_COLUMNS, CELL, CONFIG, row_keys
from ffbench.leaderboard.separation import Ranking, rank_configurations
from ffbench.leaderboard.superseded import superseded

#: The verification of rows that carry none (run locally, not checked by anyone else).
LOCAL = "local"


def aggregate(board: pd.DataFrame) -> pd.DataFrame:
    """Mean, std (sample, ddof=1; NaN for one seed) and n (seeds with a value) over seeds, one row
    per configuration x metric x stat x layer x class x class_b, in :data:`AGGREGATE_COLUMNS`, with
    each seed's value (``per_seed``: seed -> value, for the separation test), whether the
    configuration is superseded (:mod:`.superseded`) and how its rows were verified (``local``
    where the board has no verification). Display names and the metric's version and direction
    come from the newest run."""
    if board.empty:
        return pd.DataFrame({c: pd.Series(dtype=BOARD_COLUMNS.get(c, "object")) for c in AGGREGATE_COLUMNS})
    df = board.assign(_t=_times(board)).sort_values("_t", kind="stable", na_position="first")
    if "verification" not in df.columns:
        df["verification"] = pd.NA
    df["_verification"] = df["verification"].astype("string").fillna(LOCAL)
    df["_g"] = df.groupby(CONFIG + CELL, dropna=False, sort=False).ngroup()
    out = df.groupby("_g").agg(
        **{c: (c, "first") for c in CONFIG + CELL},
        rule=("rule", "last"),
        goodness=("goodness", "last"),
        negatives=("negatives", "last"),
        dataset=("dataset", "last"),
        metric=("metric", "last"),
        metric_version=("metric_version", "last"),
        higher_is_better=("higher_is_better", "last"),
        headline=("headline", "last"),
        mean=("value", "mean"),
        std=("value", "std"),
        n=("value", "count"),
        last_run=("started_at", "max"),
    )
    out["seeds"] = _joined_per_group(df["_g"], df["seed"], out.index)
    out["runs"] = _joined_per_group(df["_g"], df["run_id"], out.index)
    out["verification"] = _joined_per_group(df["_g"], df["_verification"], out.index)
    out["per_seed"] = _per_seed(df["_g"], df["seed"], df["value"], out.index)
    stale = superseded(board)
    out["superseded"] = row_keys(out, CONFIG).map(stale).notna().to_numpy()
    out = out.reset_index(drop=True)[AGGREGATE_COLUMNS]
    out = out.astype({c: BOARD_COLUMNS[c] for c in AGGREGATE_COLUMNS if c in BOARD_COLUMNS and c != "verification"})
    out = out.astype(
        {
            "mean": "float64",
            "std": "float64",
            "n": "Int64",
            "seeds": "string",
            "runs": "string",
            "verification": "string",
            "superseded": "bool",
        }
    )
    return out.sort_values(CONFIG + CELL, na_position="first", kind="stable").reset_index(drop=True)


def _times(df: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(df["started_at"], utc=True, errors="coerce", format="ISO8601")


def _per_seed(groups: pd.Series, seeds: pd.Series, values: pd.Series, order: pd.Index) -> list[dict]:
    """Each group's finite values by seed (rows come oldest first: a seed's newest value wins)."""
    found: dict[int, dict] = {}
    for g, seed, v in zip(groups.tolist(), seeds.tolist(), values.tolist()):
        if not pd.isna(seed) and not pd.isna(v):
            found.setdefault(g, {})[int(seed)] = float(v)
    return [found.get(g, {}) for g in order]


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
    return pd.Series(
        [m if ids_per_name.get(m, 1) == 1 else i for m, i in zip(agg["metric"], agg["metric_id"])],
        index=agg.index,
        dtype="object",
    )


def headline_cells(agg: pd.DataFrame) -> pd.DataFrame:
    """The headline stats over all classes (what overviews show and rankings rank)."""
    return agg[agg["headline"].fillna(False).astype(bool) & agg["class"].isna() & agg["class_b"].isna()]


#: What :func:`rank` says of each configuration on a cell.
RANKED, PRELIMINARY, SUPERSEDED, DESCRIPTIVE, MACHINE = (
    "ranked",
    "preliminary",
    "superseded",
    "descriptive",
    "shared machine",
)


def rankable(group: pd.DataFrame) -> str | None:
    """Why a cell (one metric x stat x layer x class) is not ranked, or None when it is."""
    if group["higher_is_better"].dropna().empty:
        return DESCRIPTIVE
    if machine_measured(group["stat"].iloc[0]):
        return MACHINE
    return None


def direction(group: pd.DataFrame) -> bool | None:
    d = group["higher_is_better"].dropna()
    return None if d.empty else bool(d.iloc[-1])


def cell_ranking(group: pd.DataFrame) -> Ranking:
    """The separation ranking of the current (not superseded) configurations of one cell, keyed by
    the rows' index; rows are configurations (aggregate rows of one cell with a direction)."""
    current = group[~group["superseded"].astype(bool)]
    values = dict(zip(current.index, current["per_seed"]))
    data = {i: data_identity(r) for i, r in current.iterrows()}
    return rank_configurations(values, bool(direction(group)), data)


def rank(cells: pd.DataFrame) -> pd.DataFrame:
    """``cells`` with ``rank`` (1 + the configurations the seeds separate above it,
    :mod:`.separation`; ties share a rank), ``status`` (ranked, preliminary: fewer than 3 seeds,
    superseded, descriptive: the metric has no direction, shared machine: time or memory),
    ``separable`` (the median smallest separable difference of the cell's pairs) and ``test``
    within each metric x stat x layer x class x class_b. Sorted by cell, then rank (configurations
    of one rank, and unranked ones, by name: the seeds do not order them), then unranked rows."""
    out = cells.assign(
        rank=pd.array([pd.NA] * len(cells), dtype="Int64"),
        status=pd.Series([""] * len(cells), index=cells.index, dtype="object"),
        separable=float("nan"),
        test="",
        _cell=row_keys(cells, CELL),
        _label=[config_label(r) for _, r in cells.iterrows()],
    )
    for _, group in out.groupby("_cell", sort=False):
        why = rankable(group)
        if why is not None:
            out.loc[group.index, "status"] = why
            continue
        ranking = cell_ranking(group)
        for i, r in ranking.ranks.items():
            out.loc[i, ["rank", "status"]] = [r, RANKED]
        out.loc[ranking.preliminary, "status"] = PRELIMINARY
        out.loc[group.index[group["superseded"].astype(bool)], "status"] = SUPERSEDED
        smallest = ranking.smallest()
        out.loc[group.index, "separable"] = float(np.median(smallest)) if smallest else float("nan")
        out.loc[group.index, "test"] = ", ".join(ranking.tests())
    order = {RANKED: 0, PRELIMINARY: 1, DESCRIPTIVE: 1, MACHINE: 1, SUPERSEDED: 2}
    out = out.assign(_order=out["status"].map(order), _rank=out["rank"].fillna(0))
    out = out.sort_values(CELL + ["_order", "_rank", "_label"], na_position="first", kind="stable")
    return out.drop(columns=["_cell", "_label", "_order", "_rank"]).reset_index(drop=True)


def select(
    agg: pd.DataFrame, metric: str | None = None, stat: str | None = None, layer: int | None = None
) -> pd.DataFrame:
    """Ranked cells over all classes: the headline stats (or ``stat``) of ``metric`` (a name or id,
    default all) at ``layer`` (default all). Unknown values are errors listing the valid ones."""
    cells = agg[agg["class"].isna() & agg["class_b"].isna()]
    if metric is not None:
        names = sorted(set(cells["metric"].dropna()) | set(cells["metric_id"].dropna()))
        if metric not in names:
            close = difflib.get_close_matches(metric, names, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise FFBenchError(
                f"No metric '{metric}' on this board.{hint} Metrics on it: "
                f"{', '.join(sorted(set(cells['metric'].dropna())))}."
            )
        cells = cells[(cells["metric"] == metric) | (cells["metric_id"] == metric)]
    if stat is not None:
        stats = sorted(set(cells["stat"].dropna()))
        if stat not in stats:
            raise FFBenchError(
                f"No stat '{stat}'{f' for metric {metric}' if metric else ''}. Valid stats: {', '.join(stats)}."
            )
        cells = cells[cells["stat"] == stat]
    else:
        cells = headline_cells(cells)
    if layer is not None:
        layers = sorted(int(v) for v in cells["layer"].dropna().unique())
        if layer not in layers:
            raise FFBenchError(
                f"No layer {layer} in the selection. Valid layers: "
                f"{', '.join(map(str, layers)) or '(none: the selection is whole-model)'}."
            )
        cells = cells[cells["layer"] == layer]
    return rank(cells)
