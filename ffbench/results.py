"""Tidy results in Parquet: one row per run point x metric x stat x layer x class.

Appends rewrite the file atomically (temp file + rename) under a file lock, so a crash never
leaves a half-written file and two processes appending at once lose nothing.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from filelock import FileLock

from ffbench.errors import FFBenchError

#: Column -> pandas dtype. Every results row has every column (provenance on every row).
COLUMNS: dict[str, str] = {
    "run_id": "string", "config_hash": "string", "status": "string", "error": "string",
    "seed": "Int64", "preset": "string",
    "rule": "string", "rule_id": "string", "rule_version": "string", "rule_dist": "string", "rule_dist_version": "string",
    "goodness": "string", "goodness_id": "string", "goodness_version": "string", "goodness_dist": "string",
    "goodness_dist_version": "string",
    "negatives": "string", "negatives_id": "string", "negatives_version": "string", "negatives_dist": "string",
    "negatives_dist_version": "string",
    "dataset": "string", "dataset_id": "string", "dataset_version": "string", "dataset_dist": "string",
    "dataset_dist_version": "string", "dataset_hash": "string",
    "metric": "string", "metric_id": "string", "metric_version": "string", "metric_dist": "string",
    "metric_dist_version": "string", "higher_is_better": "boolean",
    "stat": "string", "layer": "Int64", "class": "string", "class_b": "string", "value": "float64",
    "artifact": "string",
    "ffbench_version": "string", "git_sha": "string", "torch_version": "string", "python_version": "string",
    "device": "string", "precision": "string", "compiled": "boolean", "cached": "boolean", "train_seconds": "float64", "metric_seconds": "float64",
    "started_at": "string", "suite": "string", "suite_version": "string",
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
    path = Path(path)
    if not path.exists():
        raise FFBenchError(f"No results file at {path}.")
    try:
        df = pq.read_table(path).to_pandas()
    except Exception as exc:
        raise FFBenchError(f"{path} is not a readable Parquet results file ({exc}).") from None
    missing = [c for c in ("run_id", "metric", "value", "status") if c not in df.columns]
    if missing:
        raise FFBenchError(f"{path} is not an ffbench results file: columns {', '.join(missing)} are missing.")
    return to_frame(df.to_dict("records")) if set(df.columns) != set(COLUMNS) else df.astype(COLUMNS)


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
    """Append ``rows`` to the results file at ``path`` (created if absent); returns the new rows."""
    path = Path(path)
    new = to_frame(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        df = pd.concat([read_results(path), new], ignore_index=True) if path.exists() else new
        write_atomic(df, path, {"ffbench_results_schema": RESULTS_SCHEMA_VERSION})
    return new
