"""The keys a board is sorted and aggregated by; its columns, version and units (``CONFIG``, ``UNIT``,
re-exported here) are in :mod:`ffbench.schema`."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ffbench.errors import FFBenchError
from ffbench.schema import BOARD_COLUMNS as BOARD_COLUMNS  # re-exported: the one schema module
from ffbench.schema import BOARD_SCHEMA_KEY, BOARD_SCHEMA_VERSION
from ffbench.schema import CONFIG as CONFIG  # re-exported: results are read by the same units
from ffbench.schema import UNIT as UNIT

#: The board's metadata key and version live in the one schema module; the names boards have
#: always used are kept here.
SCHEMA_KEY = BOARD_SCHEMA_KEY
SCHEMA_VERSION = BOARD_SCHEMA_VERSION

INDEX_NAME = "README.md"

#: One aggregated value of a configuration.
CELL = ["metric_id", "stat", "layer", "class", "class_b"]
ROW_ORDER = CONFIG + ["seed"] + CELL
#: Columns of :func:`aggregate` (identity, display names, the cell, the aggregate, provenance summary).
AGGREGATE_COLUMNS = [
    "rule",
    "goodness",
    "negatives",
    "dataset",
    *CONFIG,
    "metric",
    "metric_id",
    "metric_version",
    "higher_is_better",
    "headline",
    "stat",
    "layer",
    "class",
    "class_b",
    "mean",
    "std",
    "n",
    "seeds",
    "runs",
    "last_run",
    "per_seed",
    "superseded",
    "verification",
]


class BoardError(FFBenchError):
    """A board file that is not a readable ffbench leaderboard of this schema version."""


def row_keys(df: pd.DataFrame, columns: Sequence[str] = CONFIG) -> pd.Series:
    """One string per row joining ``columns`` (missing values kept distinct from any text): the key
    pages and ranks group configurations (default) or cells by."""
    key = pd.Series("", index=df.index, dtype="object")
    for col in columns:
        key = key + "\x1f" + df[col].astype("string").fillna("\x00").astype("object")
    return key
