"""What a report is built from: a results file's rows, or a leaderboard's aggregates."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from ffbench import results_store
from ffbench.errors import FFBenchError
from ffbench.leaderboard import aggregate, read_board
from ffbench.results import newest_runs
from ffbench.untrusted import check_columns

BOARD_COLUMNS = ("rule", "dataset", "metric", "stat", "layer", "class", "mean", "std", "n")
#: What the columns of an aggregated board hold (checked on read: the file is untrusted).
AGGREGATED_TYPES = {
    **{c: "string" for c in ("rule", "dataset", "metric", "stat", "class")},
    "layer": "Int64",
    **{c: "float64" for c in ("mean", "std", "n")},
}
BOARD_SCHEMA_KEY = "ffbench_leaderboard_schema"  # ffbench.leaderboard.SCHEMA_KEY (imported only for boards)


@dataclass
class Source:
    """A results file's rows, or a leaderboard's aggregates (mean, std, n per configuration and
    cell) with its per-seed rows where the board keeps them."""

    kind: str  # "results" or "board"
    frame: pd.DataFrame
    seed_rows: pd.DataFrame | None = None


def results_rows(path: Path) -> pd.DataFrame:
    """The rows of the results at ``path`` that a report counts: the newest run of each unit
    (:func:`ffbench.results.newest_runs`, the rule ``leaderboard update`` merges by), so a point
    run twice is one seed."""
    return newest_runs(results_store.read(path))


def read_source(path: Path) -> Source:
    """A leaderboard written by ``ffbench leaderboard`` (its schema key in the Parquet metadata; per-seed
    rows, aggregated here), an aggregated board (``mean`` column, no ``value``), or a results file
    (the newest run of each unit: :func:`results_rows`)."""
    if not path.is_file():  # a folder store, or a results file whose points are all still parts
        if results_store.exists(path):
            return Source("results", results_rows(path))
        raise FFBenchError(f"No results file or leaderboard at {path}.")
    try:
        schema = pq.read_schema(path)
    except Exception as exc:
        raise FFBenchError(f"{path} is not a readable Parquet file ({exc}).") from None
    if BOARD_SCHEMA_KEY.encode() in (schema.metadata or {}):
        rows = read_board(path)
        return Source("board", aggregate(rows), rows)
    if "mean" in schema.names and "value" not in schema.names:
        missing = [c for c in BOARD_COLUMNS if c not in schema.names]
        if missing:
            raise FFBenchError(f"{path} looks like an aggregated leaderboard but lacks columns {', '.join(missing)}.")
        check_columns(schema, AGGREGATED_TYPES, path, "aggregated leaderboard", "It was not read.")
        df = pq.read_table(path).to_pandas()
        for col in ("goodness", "negatives", "class_b"):
            if col not in df.columns:
                df[col] = None
        return Source("board", df)
    return Source("results", results_rows(path))
