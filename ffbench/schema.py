"""The one schema module: every column ffbench writes, with its dtype, and the versions and
metadata keys that mark a file as ffbench's. Readers and writers import from here:

- **results** (:data:`COLUMNS`): one row per run point x metric x stat x layer x class, with the
  provenance of the run on every row (:mod:`ffbench.results`, :mod:`ffbench.results_store`);
  marked by ``RESULTS_SCHEMA_KEY`` = ``RESULTS_SCHEMA_VERSION`` in each file's Parquet metadata.
- **leaderboards** (:data:`BOARD_COLUMNS`): a frozen subset of the results columns, version
  ``BOARD_SCHEMA_VERSION`` under ``BOARD_SCHEMA_KEY`` (leaderboards/SCHEMA.md documents it; the keys
  boards are sorted by are in :mod:`ffbench.leaderboard.schema`).
- **units** (:data:`CONFIG`, :data:`UNIT`): what makes rows one configuration, and one unit of
  results that a newer run replaces (reading results and merging boards use the same).

Changing a column here is a schema change: bump the version and keep the readers accepting the old
one (tests/test_results_schema.py checks that every board column has its results dtype).
This module imports nothing, so anything may import it at no cost.
"""

from __future__ import annotations

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
    "threads": "Int64",
    "label_in_input": "boolean",
    "precision": "string",
    "compiled": "boolean",
    "cached": "boolean",
    "train_seconds": "float64",
    "metric_seconds": "float64",
    "started_at": "string",
    "suite": "string",
    "suite_version": "string",
    "verification": "string",
}
#: Version 2 added ``threads`` (torch's intra-op thread count when the point trained) and
#: ``verification`` (how a row was checked: empty for a local run; see ffbench verify).
RESULTS_SCHEMA_VERSION = "2"
RESULTS_SCHEMA_KEY = "ffbench_results_schema"
#: Columns each results version added: a results file may lack these (it reads them as missing
#: values), never the others (:data:`RESULTS_REQUIRED`).
RESULTS_COLUMNS_ADDED = {"2": ("threads", "verification")}
#: The columns of results schema 1, which every ffbench results file has.
RESULTS_REQUIRED = tuple(c for c in COLUMNS if not any(c in cols for cols in RESULTS_COLUMNS_ADDED.values()))

#: What makes two rows the same configuration (every parameter is inside the ids).
CONFIG = ["rule_id", "goodness_id", "negatives_id", "dataset_id", "dataset_version", "dataset_hash", "precision"]
#: The replacement unit: a newer run of a unit replaces all of the unit's rows.
UNIT = CONFIG + ["seed", "metric_id"]

BOARD_SCHEMA_KEY = "ffbench_leaderboard_schema"
BOARD_SCHEMA_VERSION = "2"
#: Board versions a reader accepts; an older board reads with the columns it lacks as missing values.
BOARD_SCHEMA_READABLE = ("1", "2")
#: Columns each board version added (read as missing values from older boards).
BOARD_COLUMNS_ADDED = {"2": ("threads", "verification")}

#: Schema version 2 (leaderboards/SCHEMA.md; 2 added threads and verification): column -> pandas dtype.
#: Frozen here rather than derived
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
    "threads": "Int64",
    "precision": "string",
    "compiled": "boolean",
    "cached": "boolean",
    "train_seconds": "float64",
    "metric_seconds": "float64",
    "started_at": "string",
    "suite": "string",
    "suite_version": "string",
    "verification": "string",
}
