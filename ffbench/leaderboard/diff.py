"""What changed between two boards folders (for review of a leaderboard update)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ffbench.errors import FFBenchError
from ffbench.leaderboard.aggregate import aggregate, headline_cells, rank
from ffbench.leaderboard.merge import config_label
from ffbench.leaderboard.render import TextTable, _text, fmt
from ffbench.leaderboard.schema import CELL, CONFIG
from ffbench.leaderboard.separation import compare
from ffbench.leaderboard.store import empty_board, list_boards, read_board
from ffbench.summary import headline_column


def _boards_at(path: Path) -> dict[str, pd.DataFrame]:
    if path.is_dir():
        return {name: read_board(p) for name, p in list_boards(path).items()}
    if not path.exists():
        raise FFBenchError(f"No leaderboard or boards folder at {path}.")
    return {path.stem: read_board(path)}


def diff(old: str | os.PathLike, new: str | os.PathLike) -> pd.DataFrame:
    """What changed between two boards (files) or two boards folders, one row per aggregated cell
    that was added, removed, changed (mean, std or n) or re-run (other runs, the same numbers).
    Ranks (by the separation test) are compared for ranked headline cells, and a changed value's
    old and new seeds are compared by the same test (``change``: separated, not separated, or
    empty where either side has fewer than 3 seeds)."""
    old_boards, new_boards = _boards_at(Path(old)), _boards_at(Path(new))
    if Path(old).is_file() and Path(new).is_file():  # two files: compare them whatever their names
        old_boards = {Path(new).stem: next(iter(old_boards.values()))}
        new_boards = {Path(new).stem: next(iter(new_boards.values()))}
    parts = []
    for name in sorted(set(old_boards) | set(new_boards)):
        a = aggregate(old_boards.get(name, empty_board()))
        b = aggregate(new_boards.get(name, empty_board()))
        ranks_a, ranks_b = rank(headline_cells(a)), rank(headline_cells(b))
        key = CONFIG + CELL
        a = a.merge(ranks_a[key + ["rank"]], on=key, how="left")
        b = b.merge(ranks_b[key + ["rank"]], on=key, how="left")
        both = a.merge(b, on=key, how="outer", suffixes=("_old", "_new"), indicator=True)
        parts.append(both.assign(board=name))
    if not parts:
        return pd.DataFrame(columns=DIFF_COLUMNS)
    both = pd.concat(parts, ignore_index=True)

    def status(r) -> str:
        if r["_merge"] == "left_only":
            return "removed"
        if r["_merge"] == "right_only":
            return "added"
        same = all(_same(r[f"{c}_old"], r[f"{c}_new"]) for c in ("mean", "std", "n"))
        if not same:
            return "changed"
        return "rerun" if r["runs_old"] != r["runs_new"] else "same"

    both["status"] = [status(r) for _, r in both.iterrows()] if len(both) else []
    both = both[both["status"] != "same"]
    for col in ("rule", "goodness", "negatives", "dataset", "metric", "headline", "higher_is_better"):
        both[col] = both[f"{col}_new"].where(both[f"{col}_new"].notna(), both[f"{col}_old"])
    both["delta"] = both["mean_new"] - both["mean_old"]
    both["change"] = [_change(r) for _, r in both.iterrows()] if len(both) else []
    return both.rename(
        columns={
            "rank_old": "old_rank",
            "rank_new": "new_rank",
            "mean_old": "old_mean",
            "mean_new": "new_mean",
            "n_old": "old_n",
            "n_new": "new_n",
        }
    )[DIFF_COLUMNS].reset_index(drop=True)


DIFF_COLUMNS = [
    "board",
    "status",
    "rule",
    "goodness",
    "negatives",
    "dataset",
    "metric",
    "stat",
    "layer",
    "class",
    "class_b",
    "old_mean",
    "new_mean",
    "delta",
    "old_n",
    "new_n",
    "change",
    "old_rank",
    "new_rank",
    "headline",
    "higher_is_better",
    "rule_id",
    "goodness_id",
    "negatives_id",
    "dataset_id",
    "dataset_version",
    "dataset_hash",
    "metric_id",
]


def _change(r) -> str:
    """Whether the seeds separate a changed value's new numbers from its old ones (the same
    configuration: shared seeds pair)."""
    if r["status"] != "changed" or not isinstance(r["per_seed_old"], dict) or not isinstance(r["per_seed_new"], dict):
        return ""
    s = compare(r["per_seed_new"], r["per_seed_old"])
    if not s.test:
        return ""
    return "separated" if s.separated else "not separated"


def _same(a, b) -> bool:
    if pd.isna(a) and pd.isna(b):
        return True
    if pd.isna(a) or pd.isna(b):
        return False
    return abs(float(a) - float(b)) <= 1e-12 * max(1.0, abs(float(a)))


def diff_table(changes: pd.DataFrame, everything: bool = False) -> TextTable:
    """The diff as a table: headline cells over all classes, or every cell with ``everything``."""
    shown = (
        changes
        if everything
        else changes[
            changes["headline"].fillna(False).astype(bool) & changes["class"].isna() & changes["class_b"].isna()
        ]
    )
    rows = []
    for _, r in shown.iterrows():
        cell = headline_column(r["metric"], r["stat"], r["layer"])
        if not pd.isna(r["class"]):
            cell += f" [{r['class']}{'' if pd.isna(r['class_b']) else ' vs ' + str(r['class_b'])}]"
        rank_text = (
            ""
            if pd.isna(r["old_rank"]) and pd.isna(r["new_rank"])
            else f"{_text(r['old_rank'])} -> {_text(r['new_rank'])}"
        )
        rows.append(
            [
                r["board"],
                r["status"],
                config_label(r),
                cell,
                fmt(r["old_mean"]),
                fmt(r["new_mean"]),
                "" if pd.isna(r["delta"]) else f"{r['delta']:+.4f}",
                f"{_text(r['old_n'])} -> {_text(r['new_n'])}",
                r["change"] or "–",
                rank_text,
            ]
        )
    counts = changes["status"].value_counts()
    note = (
        ", ".join(f"{counts.get(s, 0)} {s}" for s in ("added", "removed", "changed", "rerun"))
        + " cell(s)"
        + ("" if everything else "; headline cells over all classes shown (--all for every cell)")
        + "; seeds say: whether the new seeds are separated from the old ones (paired t-test, two-sided 0.05; "
        "– with fewer than 3 seeds)"
    )
    return TextTable(
        "Leaderboard changes",
        ["board", "status", "configuration", "cell", "old", "new", "delta", "n", "seeds say", "rank"],
        rows,
        [False, False, False, False, True, True, True, True, False, True],
        note,
    )
