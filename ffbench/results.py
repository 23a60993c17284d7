"""Tidy results in Parquet: one row per run point x metric x stat x layer x class. This module
builds frames of the schema (:data:`ffbench.schema.COLUMNS`) and writes them; where rows are stored
(a results file or a folder of part files, append-only) is :mod:`ffbench.results_store`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ffbench.atomic_write import atomic_path
from ffbench.schema import COLUMNS, RESULTS_SCHEMA_KEY, RESULTS_SCHEMA_VERSION  # noqa: F401,E402 (one schema module)


def to_frame(rows: list[dict]) -> pd.DataFrame:
    """A frame with exactly :data:`COLUMNS`, in order, with their dtypes."""
    df = pd.DataFrame(rows)
    for col in COLUMNS:
        if col not in df.columns:
            df[col] = None
    df = df[list(COLUMNS)]
    return df.astype(COLUMNS)


def read_results(path: str | os.PathLike) -> pd.DataFrame:
    """Every row stored at ``path``: a results file (plus parts not yet compacted) or a folder store."""
    from ffbench.results_store import read

    return read(path)


def write_atomic(df: pd.DataFrame, path: Path, metadata: dict[str, str] | None = None) -> None:
    """Write ``df`` to ``path`` as Parquet, atomically (:mod:`ffbench.atomic_write`), with
    ``metadata`` added to the file's key-value metadata."""
    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta.update({k.encode(): v.encode() for k, v in (metadata or {}).items()})
    table = table.replace_schema_metadata(meta)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def append_results(path: str | os.PathLike, rows: list[dict]) -> pd.DataFrame:
    """Append ``rows`` to the results at ``path`` and compact, so a ``.parquet`` file holds them
    all at once (for scripts and tests; a run appends one part per point and compacts at the end)."""
    from ffbench import results_store

    results_store.append(Path(path), rows)
    results_store.compact(Path(path))
    return to_frame(rows)


def headline_flags(df: pd.DataFrame, registry=None) -> pd.Series:
    """Whether each row's stat is a headline stat of its metric: the ``headline`` column the run
    recorded (results are self-describing, so a report or board renders the same after the plugin
    is uninstalled); for rows of an older ffbench without it, what the installed metric declares;
    failing that, the stat named like the metric. The one place this is decided."""
    from ffbench.errors import FFBenchError
    from ffbench.registry import get_registry

    recorded = df["headline"] if "headline" in df.columns else pd.Series(pd.NA, index=df.index, dtype="boolean")
    known: dict[str, tuple[str, ...]] = {}
    for name in df.loc[recorded.isna(), "metric"].dropna().unique():
        try:
            known[name] = (registry or get_registry()).get("metric", name).cls.headline_stats()
        except FFBenchError:
            known[name] = (name,)
    fallback = [stat in known.get(metric, (metric,)) for metric, stat in zip(df["metric"], df["stat"])]
    return recorded.astype("boolean").fillna(pd.Series(fallback, index=df.index, dtype="boolean"))
