"""The board schema: frozen columns, the keys a board is merged and sorted by, its version."""

from __future__ import annotations

from ffbench.errors import FFBenchError

SCHEMA_KEY = "ffbench_leaderboard_schema"
SCHEMA_VERSION = "1"
INDEX_NAME = "README.md"

#: Schema version 1 (leaderboards/SCHEMA.md): column -> pandas dtype. Frozen here rather than derived
#: from the results columns, so that a new results column never silently changes committed boards:
#: adding one to boards is a schema change. Results columns not listed are not kept (status, error and
#: artifact: only ok rows are merged, and artifacts stay next to their results file).
BOARD_COLUMNS: dict[str, str] = {
    "run_id": "string",
    "config_hash": "string",
    "seed": "Int64",
    "preset": "string",
    **{
        f"{kind}{suffix}": "string"
        for kind in ("rule", "goodness", "negatives", "dataset", "metric")
        for suffix in ("", "_id", "_version", "_dist", "_dist_version")
    },
    "dataset_hash": "string",
    "higher_is_better": "boolean",
    "headline": "boolean",
    "stat": "string",
    "layer": "Int64",
    "class": "string",
    "class_b": "string",
    "value": "float64",
    "ffbench_version": "string",
    "git_sha": "string",
    "torch_version": "string",
    "python_version": "string",
    "device": "string",
    "precision": "string",
    "compiled": "boolean",
    "cached": "boolean",
    "train_seconds": "float64",
    "metric_seconds": "float64",
    "started_at": "string",
    "suite": "string",
    "suite_version": "string",
}
#: What makes two rows the same configuration (every parameter is inside the ids).
CONFIG = ["rule_id", "goodness_id", "negatives_id", "dataset_id", "dataset_version", "dataset_hash"]
#: The replacement unit: a newer run of a unit replaces all of the unit's rows.
UNIT = CONFIG + ["seed", "metric_id"]
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
]


class BoardError(FFBenchError):
    """A board file that is not a readable ffbench leaderboard of this schema version."""
