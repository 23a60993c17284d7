"""Tidy results in Parquet: one row per run point x metric x stat x layer x class. This module
builds frames of the schema (:data:`ffbench.schema.COLUMNS`), writes them and says which rows count;
where rows are stored and how they are read back (a results file or a folder of part files,
append-only) is :mod:`ffbench.results_store`, which builds on this module.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ffbench.atomic_write import atomic_path
from ffbench.errors import FFBenchError
from ffbench.registry import Registry, get_registry
from ffbench.schema import COLUMNS, RESULTS_SCHEMA_KEY, RESULTS_SCHEMA_VERSION, UNIT  # noqa: F401 (one schema module)


def to_frame(rows: list[dict]) -> pd.DataFrame:
    """A frame with exactly :data:`COLUMNS`, in order, with their dtypes."""
    df = pd.DataFrame(rows)
    for col in COLUMNS:
        if col not in df.columns:
            df[col] = None
    df = df[list(COLUMNS)]
    return df.astype(COLUMNS)


def artifacts_folder(path: str | os.PathLike) -> Path:
    """The folder of the metric artifacts of the results at ``path`` (``r.parquet`` -> ``r.parquet.artifacts``):
    a run writes them there, and a report reads artifacts from there only."""
    path = Path(path)
    return path.with_name(path.name + ".artifacts")


def write_parquet(df: pd.DataFrame, path: Path, metadata: dict[str, str] | None = None) -> None:
    """Write ``df`` to ``path`` as Parquet (not atomically: ``path`` is a temporary file of
    :mod:`ffbench.atomic_write`), with ``metadata`` added to the file's key-value metadata."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta.update({k.encode(): v.encode() for k, v in (metadata or {}).items()})
    pq.write_table(table.replace_schema_metadata(meta), path)


def write_atomic(df: pd.DataFrame, path: Path, metadata: dict[str, str] | None = None) -> None:
    """Write ``df`` to ``path`` as Parquet, atomically (:mod:`ffbench.atomic_write`), with
    ``metadata`` added to the file's key-value metadata."""
    with atomic_path(path) as tmp:
        write_parquet(df, tmp, metadata)


def unit_keys(df: pd.DataFrame, columns: list[str] | None = None) -> pd.Series:
    """One string per row joining ``columns`` (missing values kept distinct from any text); by
    default the columns of a *unit* of results (:data:`ffbench.schema.UNIT`: one configuration,
    i.e. every component's id with all its parameters, the dataset's version and content hash, ...
    x seed x metric id), the boards' unit too."""
    columns = UNIT if columns is None else columns
    key = pd.Series("", index=df.index, dtype="object")
    for col in columns:
        key = key + "\x1f" + df[col].astype("string").fillna("\x00").astype("object")
    return key


def start_times(df: pd.DataFrame) -> pd.Series:
    """Each row's ``started_at`` as a UTC timestamp (NaT where missing or unreadable)."""
    return pd.to_datetime(df["started_at"], utc=True, errors="coerce", format="ISO8601").dt.as_unit("ns")


def runs_by_age(rows: pd.DataFrame) -> pd.DataFrame:
    """One line per (unit, run) of ``rows``: its unit key ``_unit``, run id, start time ``_t`` and
    position ``_pos``, sorted by unit and then by age, so the *newest run of a unit is its last
    line*: the later ``started_at`` wins, a missing one counts as oldest, and a tie goes to the run
    stored later (the later position)."""
    runs = rows.assign(_unit=unit_keys(rows), _t=start_times(rows), _pos=range(len(rows)))
    runs = runs.drop_duplicates(["_unit", "run_id"], keep="last")
    runs["_t"] = runs["_t"].fillna(pd.Timestamp.min.tz_localize("UTC"))
    return runs.sort_values(["_unit", "_t", "_pos"], kind="stable")


def newest_runs(df: pd.DataFrame) -> pd.DataFrame:
    """The rows every reader of a results file counts (the report, ``ffbench results info``, the
    run summary; ``ffbench leaderboard update`` merges by the same rule): of the ok runs of each
    unit (:data:`ffbench.schema.UNIT`), only the newest (:func:`runs_by_age`), so a point run twice is one seed,
    not two. Failed rows are all kept (each is a failure that happened; none reaches a board).
    Row order is kept."""
    ok = (df["status"] == "ok").fillna(False).to_numpy(dtype=bool)
    if not ok.any():
        return df
    rows = df[ok]
    newest = runs_by_age(rows).drop_duplicates("_unit", keep="last")
    chosen = set(zip(newest["_unit"], newest["run_id"]))
    keep = [(u, r) in chosen for u, r in zip(unit_keys(rows), rows["run_id"])]
    mask = ~ok
    mask[ok] = keep
    return df[mask]


def headline_flags(df: pd.DataFrame, registry: Registry | None = None) -> pd.Series:
    """Whether each row's stat is a headline stat of its metric: the ``headline`` column the run
    recorded (results are self-describing, so a report or board renders the same after the plugin
    is uninstalled); for rows of an older ffbench without it, what the installed metric declares;
    failing that, the stat named like the metric. The one place this is decided."""
    recorded = df["headline"] if "headline" in df.columns else pd.Series(pd.NA, index=df.index, dtype="boolean")
    known: dict[str, tuple[str, ...]] = {}
    for name in df.loc[recorded.isna(), "metric"].dropna().unique():
        try:
            known[name] = (registry or get_registry()).get("metric", name).cls.headline_stats()
        except FFBenchError:
            known[name] = (name,)
    fallback = [stat in known.get(metric, (metric,)) for metric, stat in zip(df["metric"], df["stat"])]
    return recorded.astype("boolean").fillna(pd.Series(fallback, index=df.index, dtype="boolean"))
