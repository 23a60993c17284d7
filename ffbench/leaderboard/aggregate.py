"""Aggregates over seeds (mean, std, n), the headline cells, ranks and selections."""

from __future__ import annotations

import difflib

import pandas as pd

from ffbench.errors import FFBenchError
from ffbench.leaderboard.merge import _keys, _times, config_label
from ffbench.leaderboard.schema import AGGREGATE_COLUMNS, BOARD_COLUMNS, CELL, CONFIG


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
    return pd.Series(
        [m if ids_per_name.get(m, 1) == 1 else i for m, i in zip(agg["metric"], agg["metric_id"])],
        index=agg.index,
        dtype="object",
    )


def headline_cells(agg: pd.DataFrame) -> pd.DataFrame:
    """The headline stats over all classes (what overviews show and rankings rank)."""
    return agg[agg["headline"].fillna(False).astype(bool) & agg["class"].isna() & agg["class_b"].isna()]


def rank(cells: pd.DataFrame) -> pd.DataFrame:
    """``cells`` with a ``rank`` column (1 = best; ties share the better rank) within each metric x
    stat x layer x class x class_b, following the metric's direction; descriptive metrics
    (``higher_is_better`` missing) and missing means get no rank. Sorted by cell, then rank."""
    out = cells.assign(
        rank=pd.array([pd.NA] * len(cells), dtype="Int64"),
        _cell=_keys(cells, CELL),
        _label=[config_label(r) for _, r in cells.iterrows()],
    )
    for _, group in out.groupby("_cell", sort=False):
        direction = group["higher_is_better"].dropna()
        if not direction.empty:
            ranks = group["mean"].rank(method="min", ascending=not bool(direction.iloc[-1]))
            out.loc[group.index, "rank"] = ranks.astype("Int64")
    out = out.assign(_unranked=out["rank"].isna(), _rank=out["rank"].fillna(0))
    out = out.sort_values(CELL + ["_unranked", "_rank", "_label"], na_position="first")
    return out.drop(columns=["_cell", "_label", "_unranked", "_rank"]).reset_index(drop=True)


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
