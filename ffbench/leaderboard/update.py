"""`ffbench leaderboard update`: merge results files into the boards, under the folder lock, and re-render.

Results files are untrusted: every ``dataset_id`` that names a board is checked to be a plain
name whose board file resolves inside the boards folder before anything is read from the folder
or written to it; ok rows whose value is infinite are refused; rows of runs made from a checkout
with uncommitted changes (``git_sha`` ending in ``-dirty``) or with no recorded commit are refused
unless ``allow_dirty``. Every board that
changes and every Markdown page are computed first and then written as one unit
(:func:`ffbench.atomic_write.atomic_paths`): a failure anywhere before the renames leaves every
file as it was.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ffbench import results_store
from ffbench.atomic_write import atomic_paths
from ffbench.errors import FFBenchError
from ffbench.leaderboard.merge import Decision, board_rows, config_label, merge
from ffbench.leaderboard.render import GENERATED_MARK, expected_markdown
from ffbench.leaderboard.store import (
    board_path,
    empty_board,
    list_boards,
    read_board,
    safe_board_name,
    write_board,
)
from ffbench.locking import folder_lock
from ffbench.registry import Registry
from ffbench.safe_paths import UnsafePathError


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
    #: One line per run merged with ``allow_dirty`` whose git_sha is missing or ends in -dirty.
    dirty: list[str] = field(default_factory=list)

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
            "allowed_dirty": self.dirty,
        }


def _failed_lines(results: pd.DataFrame) -> list[str]:
    failed = results[results["status"] != "ok"].drop_duplicates(["run_id", "metric_id"])
    return [
        f"not merged: failed run {r['run_id']} ({r['rule']} on {r['dataset']}, seed {r['seed']}), "
        f"metric {r['metric']}: {r['error']}"
        for _, r in failed.iterrows()
    ]


def _board_names(frames: list[tuple[Path, pd.DataFrame]], rows: pd.DataFrame) -> pd.Series:
    """The board of each row of ``rows`` (the ok rows of ``frames``, in order); every unsafe
    ``dataset_id`` of every file is refused at once, named with its file."""
    refused: list[str] = []
    for path, frame in frames:
        for dataset_id in frame.loc[frame["status"] == "ok", "dataset_id"].drop_duplicates():
            try:
                safe_board_name(None if pd.isna(dataset_id) else dataset_id, str(path))
            except UnsafePathError as exc:
                refused.append(str(exc).removesuffix("; nothing was read or written."))
    if refused:
        raise UnsafePathError(
            "; ".join(refused) + ". No board was read or written: fix or drop these rows (a dataset_id is the "
            "dataset's name, optionally with [k=v,...])."
        )
    return rows["dataset_id"].map(safe_board_name)


def _refuse_infinite_values(frames: list[tuple[Path, pd.DataFrame]]) -> None:
    """Refuse every ok row of every file whose value is infinite, named with its file and run: a
    metric reports an undefined value as NaN (kept: a board's aggregates skip it), never as
    infinity, so an infinite value is a broken or crafted row. Magnitudes are not capped: no metric
    declares a range, and some (operation counts) are legitimately huge."""
    refused: list[str] = []
    for path, frame in frames:
        ok = frame[frame["status"].eq("ok").fillna(False).astype(bool)]
        bad = ok[np.isinf(ok["value"].astype("float64").to_numpy())]
        for run_id, rows in bad.groupby("run_id", sort=True, dropna=False):
            r = rows.iloc[0]
            where = "".join(f" {c} {r[c]}" for c in ("layer", "class") if not pd.isna(r[c]))
            first = f"{r['metric']}/{r['stat']}{where} = {r['value']}"
            refused.append(f"{path}: run {run_id}, {len(rows)} row(s) (first: {first})")
    if refused:
        shown = "; ".join(refused[:10]) + (f"; and {len(refused) - 10} more run(s)" if len(refused) > 10 else "")
        raise FFBenchError(
            f"Refused rows whose value is infinite: {shown}. A metric reports an undefined value as NaN, "
            "never as infinity: fix or drop these rows. No board was read or written."
        )


def is_dirty(git_sha: object) -> bool:
    """A git_sha that does not name a clean commit: missing, or ending in ``-dirty``."""
    return git_sha is None or pd.isna(git_sha) or str(git_sha).endswith("-dirty") or not str(git_sha).strip()


def _dirty_lines(rows: pd.DataFrame, taken: set[str]) -> list[str]:
    """One line per run of ``rows`` in ``taken`` (run ids to be merged) whose git_sha is dirty or missing."""
    picked = rows[rows["run_id"].isin(taken)]
    picked = picked[picked["git_sha"].map(is_dirty)].drop_duplicates("run_id")
    return [
        f"run {r['run_id']} ({config_label(r)}, seed {r['seed']}): git_sha "
        + ("missing" if pd.isna(r["git_sha"]) else str(r["git_sha"]))
        for _, r in picked.iterrows()
    ]


def _starts_generated(path: Path) -> bool:
    """Whether the file at ``path`` is a page the renderer wrote (read as bytes: any file may be in the folder)."""
    mark = GENERATED_MARK.encode()
    try:
        with open(path, "rb") as fh:
            return fh.read(len(mark)) == mark
    except OSError:
        return False


def _pages(boards_dir: Path, boards: dict[str, pd.DataFrame]) -> tuple[dict[Path, str], list[Path]]:
    """(every Markdown page that differs from what ``boards`` render to, with its text; generated
    pages whose board is gone). Files are compared as bytes, so a page that is not UTF-8 text is
    simply out of date, never an error."""
    expected = expected_markdown(boards_dir, boards)
    changed = {p: t for p, t in expected.items() if not (p.is_file() and p.read_bytes() == t.encode("utf-8"))}
    orphans = [p for p in sorted(boards_dir.glob("*.md")) if p not in expected and _starts_generated(p)]
    return changed, orphans


def update(
    results_paths: Iterable[str | os.PathLike],
    boards_dir: str | os.PathLike,
    *,
    registry: Registry | None = None,
    render: bool = True,
    lock_timeout: float = 600.0,
    allow_dirty: bool = False,
    log: Callable[[str], None] = lambda message: None,
) -> UpdateReport:
    """Merge the ok rows of results files into the boards in ``boards_dir`` (created as needed) and
    re-render the Markdown. Every board in the folder is read (and so checked), every merge and
    every page computed, before anything is written; then the changed boards and pages are
    written as one unit. A board is rewritten only if its rows change, so a repeated update
    changes nothing. Rows of runs whose git_sha is missing or ends in ``-dirty`` are refused
    (:class:`FFBenchError` naming them, nothing written) unless ``allow_dirty``; then they keep
    their git_sha and the report lists them."""
    paths = [Path(p) for p in results_paths]
    if not paths:
        raise FFBenchError("No results files given. Usage: ffbench leaderboard update RESULTS.parquet ...")
    frames = [(p, results_store.read(p)) for p in paths]
    _refuse_infinite_values(frames)
    results = pd.concat([f for _, f in frames], ignore_index=True)
    rows = board_rows(results, registry)
    names = _board_names(frames, rows)
    failed = _failed_lines(results)
    boards_dir = Path(boards_dir)
    boards_dir.mkdir(parents=True, exist_ok=True)
    updates: list[BoardUpdate] = []
    with folder_lock(boards_dir, lock_timeout, "the leaderboards folder (another leaderboard update)"):
        current = {name: read_board(path) for name, path in list_boards(boards_dir).items()}
        boards = dict(current)
        for name in sorted(set(names)):
            path = board_path(boards_dir, name)
            before = current.get(name, empty_board())
            merged, decisions = merge(before, rows[names == name].reset_index(drop=True), name)
            written = merged is not before
            if written:
                boards[name] = merged
            updates.append(BoardUpdate(name, path, len(before), len(merged), written, decisions))
        taken = {d.run for u in updates for d in u.decisions if d.action in ("added", "replaced")}
        dirty = _dirty_lines(rows, taken)
        if dirty and not allow_dirty:
            raise FFBenchError(
                f"Refused {len(dirty)} run(s) whose rows would reach a board without a clean commit behind "
                f"them (git_sha missing or ending in -dirty: made from a checkout with uncommitted changes): "
                f"{'; '.join(dirty)}. Rerun them from a clean checkout, or pass --allow-dirty to merge them "
                "anyway (their git_sha stays as recorded and the update report lists them). Nothing was written."
            )
        for line in failed:
            log(line)
        for u in updates:
            for d in u.decisions:
                log(f"{u.name}: {d.message}")
        for line in dirty:
            log(f"merged with --allow-dirty: {line}")
        pages, orphans = _pages(boards_dir, boards) if render else ({}, [])
        with atomic_paths() as stage:  # boards and pages: all staged, then renamed together
            for u in updates:
                if u.written:
                    write_board(boards[u.name], u.path, stage)
            for page, text in pages.items():
                stage(page).write_text(text, encoding="utf-8")
        for page in orphans:
            page.unlink(missing_ok=True)
    return UpdateReport(updates, failed, list(pages) + orphans, dirty)
