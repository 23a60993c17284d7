"""Leaderboards: one Parquet board per dataset, merged from run results, ranked, diffed, rendered.

A board (``<boards>/<dataset>.parquet``, ``<dataset>`` = the dataset's name without parameters)
holds the *per-seed* rows of every configuration that has been run on that dataset: the results
columns with their provenance, as frozen in :data:`BOARD_COLUMNS` (not ``status``, ``error`` or
``artifact``: only ok rows are merged and artifacts stay with the results file), plus ``headline``.
Aggregates over seeds
(mean, std, n) are computed from them by :func:`aggregate` whenever a board is shown, rendered or
diffed, so the per-seed numbers and their provenance are never thrown away. The schema version
is stored in the Parquet metadata under :data:`SCHEMA_KEY`; leaderboards/SCHEMA.md documents it.

Merging (:func:`merge`): a *unit* is one configuration (the rule, goodness, negatives and dataset
ids with every parameter, the dataset version and content hash) x seed x metric id. A unit's rows
always come from one run: a newer run of the unit (later ``started_at``; a tie goes to the rows
being merged) replaces all its rows, an older one is kept out, and every decision is logged. Units
not in the update are never touched. Failed rows are not merged (they are logged).

Writes are atomic (temp file + rename) and serialised by a lock on the boards folder; a
board that cannot be read, lacks the schema key, has another schema version or other columns is
refused with a clear error and left as it is.

The package, one job per module: :mod:`.schema` (columns and keys), :mod:`.store` (board files),
:mod:`.merge` (results to board rows; merging), :mod:`.update` (the locked update),
:mod:`.aggregate` (over seeds; ranks), :mod:`.separation` (the test behind every rank),
:mod:`.superseded`, :mod:`.labels` (short configuration labels), :mod:`.formatting` (numbers),
:mod:`.page` (what a board page says), :mod:`.render` (Markdown), :mod:`.site` (HTML), :mod:`.diff`.
Everything public is importable from ``ffbench.leaderboard`` directly.
"""

from __future__ import annotations

from ffbench.atomic_write import FILE_MODE  # noqa: F401
from ffbench.leaderboard.aggregate import (  # noqa: F401
    aggregate,
    cell_ranking,
    headline_cells,
    metric_labels,
    rank,
    select,
)
from ffbench.leaderboard.diff import (  # noqa: F401
    DIFF_COLUMNS,
    diff,
    diff_table,
)
from ffbench.leaderboard.formatting import machine_measured  # noqa: F401
from ffbench.leaderboard.labels import short_labels  # noqa: F401
from ffbench.leaderboard.merge import (  # noqa: F401
    Decision,
    board_rows,
    config_label,
    merge,
)
from ffbench.leaderboard.page import BoardPage, build_page  # noqa: F401
from ffbench.leaderboard.render import (  # noqa: F401
    ARROWS,
    GENERATED_MARK,
    TextTable,
    cell_title,
    expected_markdown,
    fmt,
    leader,
    markdown_table,
    mean_std,
    overview,
    page_markdown,
    provenance,
    ranking_tables,
    records,
    render_all,
    render_board,
    render_index,
    stale_markdown,
)
from ffbench.leaderboard.schema import (  # noqa: F401
    AGGREGATE_COLUMNS,
    BOARD_COLUMNS,
    CELL,
    CONFIG,
    INDEX_NAME,
    ROW_ORDER,
    SCHEMA_KEY,
    SCHEMA_VERSION,
    UNIT,
    BoardError,
    row_keys,
)
from ffbench.leaderboard.separation import (  # noqa: F401
    ALPHA,
    MIN_SEEDS,
    Separation,
    compare,
    rank_configurations,
)
from ffbench.leaderboard.store import (  # noqa: F401
    board_name,
    empty_board,
    list_boards,
    read_board,
    resolve_board,
    sort_board,
    write_board,
)
from ffbench.leaderboard.superseded import superseded  # noqa: F401
from ffbench.leaderboard.update import (  # noqa: F401
    BoardUpdate,
    UpdateReport,
    update,
)
