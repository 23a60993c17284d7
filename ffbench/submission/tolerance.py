"""How far a re-run value may lie from the submitted one when the two cannot be identical.

For a cell (metric, stat, layer, class) of a configuration, the tolerance is the metric's
``verify_tolerance`` (a multiple; :class:`ffbench.contracts.Metric`, default 1.0) times the
cell's standard deviation over the submitted seeds (ddof 1; 0 when fewer than two seeds have a
value), never wider than the cell's seed std on the board: this configuration's own cell when the
board has it, else the median of that cell's seed std over the board's configurations. Float
rounding (:data:`FLOAT_RELATIVE` of the value, at least :data:`FLOAT_ABSOLUTE`) is always allowed.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ffbench.leaderboard.store import board_path, read_board, safe_board_name
from ffbench.safe_paths import UnsafePathError
from ffbench.submission.canonical import CONFIG_COLUMNS, cell_of, plain

FLOAT_RELATIVE = 1e-6
FLOAT_ABSOLUTE = 1e-9


def _std(values: list[float]) -> float | None:
    values = [v for v in values if v is not None and not math.isnan(v)]
    return statistics.stdev(values) if len(values) >= 2 else None


def seed_spread(rows: pd.DataFrame) -> dict[tuple, float]:
    """cell -> std of its values over the seeds of one configuration's rows (0 if under two values)."""
    by_cell: dict[tuple, list[float]] = defaultdict(list)
    for r in rows.to_dict("records"):
        by_cell[cell_of(r)].append(float(r["value"]) if plain(r["value"]) is not None else math.nan)
    return {cell: _std(vs) or 0.0 for cell, vs in by_cell.items()}


@dataclass
class BoardSpread:
    """Seed std per cell on the board: of this configuration, and the median over the board's configurations."""

    board: Path | None
    own: dict[tuple, float]
    typical: dict[tuple, float]

    def cap(self, cell: tuple) -> tuple[float | None, str]:
        if cell in self.own:
            return self.own[cell], f"this configuration's seed std on {self.board}"
        if cell in self.typical:
            return self.typical[cell], f"median seed std of this cell on {self.board}"
        return None, "no board cell"


def board_spread(boards_dir: Path | None, identity: dict) -> BoardSpread:
    """The board spread for a configuration (``identity``: its manifest identity); empty without a board."""
    if boards_dir is None:
        return BoardSpread(None, {}, {})
    try:  # the manifest is untrusted: its dataset_id names a board only if that stays in boards_dir
        path = board_path(Path(boards_dir), safe_board_name(identity.get("dataset_id"), "the submission's manifest"))
    except UnsafePathError:
        return BoardSpread(None, {}, {})  # no board of that name can exist: no board spread
    if not path.is_file():
        return BoardSpread(None, {}, {})
    board = read_board(path)
    mine = tuple(identity.get(c) for c in CONFIG_COLUMNS)
    values: dict[tuple, dict[tuple, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in board.to_dict("records"):
        config = tuple(plain(r.get(c)) for c in CONFIG_COLUMNS)
        value = plain(r.get("value"))
        values[config][cell_of(r)].append(math.nan if value is None else float(r["value"]))
    own: dict[tuple, float] = {}
    others: dict[tuple, list[float]] = defaultdict(list)
    for config, cells in values.items():
        for cell, vs in cells.items():
            std = _std(vs)
            if std is None:
                continue
            if config == mine:
                own[cell] = std
            else:
                others[cell].append(std)
    return BoardSpread(path, own, {cell: statistics.median(v) for cell, v in others.items()})


def tolerance(factor: float, spread: float, cap: float | None, value: float) -> float:
    """``factor`` x ``spread``, at most ``cap``, plus float rounding at ``value``."""
    allowed = factor * spread
    if cap is not None:
        allowed = min(allowed, cap)
    rounding = max(FLOAT_ABSOLUTE, FLOAT_RELATIVE * abs(value)) if not math.isnan(value) else FLOAT_ABSOLUTE
    return allowed + rounding
