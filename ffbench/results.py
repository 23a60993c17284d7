"""Tidy results in Parquet: one row per run point x metric x stat x layer x class. This module
holds the schema (:data:`COLUMNS`) and the atomic writer; where rows are stored (a results file or
a folder of part files, append-only) is :mod:`ffbench.results_store`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

#: Column -> pandas dtype. Every results row has every column (provenance on every row).
COLUMNS: dict[str, str] = {
    "run_id": "string",
    "config_hash": "string",
    "status": "string",
    "error": "string",
    "seed": "Int64",
    "preset": "string",
    "rule": "string",
    "rule_id": "string",
    "rule_version": "string",
    "rule_dist": "string",
    "rule_dist_version": "string",
    "goodness": "string",
    "goodness_id": "string",
    "goodness_version": "string",
    "goodness_dist": "string",
    "goodness_dist_version": "string",
    "negatives": "string",
    "negatives_id": "string",
    "negatives_version": "string",
    "negatives_dist": "string",
    "negatives_dist_version": "string",
    "dataset": "string",
    "dataset_id": "string",
    "dataset_version": "string",
    "dataset_dist": "string",
    "dataset_dist_version": "string",
    "dataset_hash": "string",
    "metric": "string",
    "metric_id": "string",
    "metric_version": "string",
    "metric_dist": "string",
    "metric_dist_version": "string",
    "higher_is_better": "boolean",
    "headline": "boolean",
    "stat": "string",
    "layer": "Int64",
    "class": "string",
    "class_b": "string",
    "value": "float64",
    "artifact": "string",
    "ffbench_version": "string",
    "git_sha": "string",
    "torch_version": "string",
    "python_version": "string",
    "device": "string",
    "label_in_input": "boolean",
    "precision": "string",
    "compiled": "boolean",
    "cached": "boolean",
    "train_seconds": "float64",
    "metric_seconds": "float64",
    "started_at": "string",
    "suite": "string",
    "suite_version": "string",
}
RESULTS_SCHEMA_VERSION = "1"


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
    """Write ``df`` to ``path`` via a temp file in the same folder and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta.update({k.encode(): v.encode() for k, v in (metadata or {}).items()})
    table = table.replace_schema_metadata(meta)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        pq.write_table(table, tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are ordinary shared files
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


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
