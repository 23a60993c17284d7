"""`ffbench leaderboard update`: merge results files into the boards, under the folder lock, and re-render."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ffbench.errors import FFBenchError
from ffbench.leaderboard.merge import Decision, board_rows, merge
from ffbench.leaderboard.render import render_all
from ffbench.leaderboard.store import board_name, empty_board, list_boards, read_board, write_board
from ffbench.locking import folder_lock
from ffbench.registry import Registry
from ffbench.results import read_results


@dataclass
class BoardUpdate:
    name: str
    path: Path
    rows_before: int
    rows_after: int
    written: bool
    decisions: list[Decision] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(d.action == action for d in self.decisions)


@dataclass
class UpdateReport:
    boards: list[BoardUpdate]
    #: One line per failed (run, metric) left out of the boards.
    failed: list[str]
    #: Markdown files (re)written.
    rendered: list[Path]

    def as_dict(self) -> dict:
        return {
            "boards": [
                {
                    "board": b.name,
                    "path": str(b.path),
                    "rows_before": b.rows_before,
                    "rows_after": b.rows_after,
                    "written": b.written,
                    "counts": {a: b.count(a) for a in ("added", "replaced", "kept", "superseded", "unchanged")},
                    "decisions": [d.message for d in b.decisions],
                }
                for b in self.boards
            ],
            "failed": self.failed,
            "rendered": [str(p) for p in self.rendered],
        }


def _failed_lines(results: pd.DataFrame) -> list[str]:
    failed = results[results["status"] != "ok"].drop_duplicates(["run_id", "metric_id"])
    return [
        f"not merged: failed run {r['run_id']} ({r['rule']} on {r['dataset']}, seed {r['seed']}), "
        f"metric {r['metric']}: {r['error']}"
        for _, r in failed.iterrows()
    ]


def update(
    results_paths: Iterable[str | os.PathLike],
    boards_dir: str | os.PathLike,
    *,
    registry: Registry | None = None,
    render: bool = True,
    lock_timeout: float = 600.0,
    log: Callable[[str], None] = lambda message: None,
) -> UpdateReport:
    """Merge the ok rows of results files into the boards in ``boards_dir`` (created as needed) and
    re-render the Markdown. Every board in the folder is read (and so checked) before anything is
    written; a board is rewritten only if its rows change, so a repeated update changes nothing."""
    paths = [Path(p) for p in results_paths]
    if not paths:
        raise FFBenchError("No results files given. Usage: ffbench leaderboard update RESULTS.parquet ...")
    results = pd.concat([read_results(p) for p in paths], ignore_index=True)
    failed = _failed_lines(results)
    for line in failed:
        log(line)
    rows = board_rows(results, registry)
    boards_dir = Path(boards_dir)
    boards_dir.mkdir(parents=True, exist_ok=True)
    names = rows["dataset_id"].map(board_name)
    updates: list[BoardUpdate] = []
    with folder_lock(boards_dir, lock_timeout, "the leaderboards folder (another leaderboard update)"):
        current = {name: read_board(path) for name, path in list_boards(boards_dir).items()}
        for name in sorted(set(names)):
            path = boards_dir / f"{name}.parquet"
            before = current.get(name, empty_board())
            merged, decisions = merge(before, rows[names == name].reset_index(drop=True), name)
            for d in decisions:
                log(f"{name}: {d.message}")
            written = merged is not before
            if written:
                write_board(merged, path)
                current[name] = merged
            updates.append(BoardUpdate(name, path, len(before), len(merged), written, decisions))
        rendered = render_all(boards_dir, current) if render else []
    return UpdateReport(updates, failed, rendered)
