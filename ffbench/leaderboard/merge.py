"""From results to board rows, and merging them into a board: a newer run of a unit replaces its rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from ffbench.leaderboard.schema import BOARD_COLUMNS, CELL, UNIT
from ffbench.leaderboard.store import sort_board
from ffbench.registry import Registry
from ffbench.results import headline_flags, runs_by_age, start_times, unit_keys


def board_rows(results: pd.DataFrame, registry: Registry | None = None) -> pd.DataFrame:
    """The ok rows of a results frame, in the board schema."""
    ok = results[results["status"] == "ok"].copy()
    ok["headline"] = headline_flags(ok, registry)
    for col in BOARD_COLUMNS:  # provenance a results file of an older ffbench does not have
        if col not in ok.columns:
            ok[col] = None
    return ok[list(BOARD_COLUMNS)].astype(BOARD_COLUMNS).reset_index(drop=True)


def _keys(df: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    """One string per row joining ``columns`` (missing values kept distinct from any text)."""
    return unit_keys(df, list(columns))


def config_label(row: pd.Series | dict, with_dataset: bool = True) -> str:
    parts = [str(row["rule"])] + [str(row[c]) for c in ("goodness", "negatives") if not pd.isna(row[c])]
    text = " / ".join(parts)
    return f"{text} on {row['dataset']}" if with_dataset else text


@dataclass(frozen=True)
class Decision:
    """What happened to one unit (configuration x seed x metric) in an update."""

    board: str
    action: str  # added | replaced | kept | superseded | unchanged
    config: str
    seed: int
    metric: str
    run: str
    started_at: str | None
    other_run: str | None = None
    other_started_at: str | None = None

    @property
    def message(self) -> str:
        what = f"{self.config} seed {self.seed} {self.metric}"
        run = f"run {self.run} ({self.started_at or 'no start time'})"
        other = f"run {self.other_run} ({self.other_started_at or 'no start time'})"
        return {
            "added": f"added {what}: {run}",
            "replaced": f"replaced {what}: {other} -> newer {run}",
            "kept": f"kept {what} from newer {other}; the update's {run} is older and was not merged",
            "superseded": f"not merged {what} from {run}: the update also holds newer {other}",
            "unchanged": f"unchanged {what}: {run} is already on the board",
        }[self.action]


def _times(df: pd.DataFrame) -> pd.Series:
    return start_times(df)


def _newest_runs(rows: pd.DataFrame) -> pd.DataFrame:
    """One line per (unit, run), newest last per unit: the one rule every reader of results uses
    (:func:`ffbench.results.runs_by_age`)."""
    return runs_by_age(rows)


def merge(board: pd.DataFrame, incoming: pd.DataFrame, name: str = "") -> tuple[pd.DataFrame, list[Decision]]:
    """Merge ``incoming`` board rows into ``board``; returns the new board and one decision per
    unit of ``incoming`` (plus one per run of it superseded by a newer run in ``incoming`` itself)."""
    decisions: list[Decision] = []
    incoming = incoming.drop_duplicates(["run_id", *UNIT, *CELL], keep="last")  # a results file given twice

    def decide(action: str, run: pd.Series, other: pd.Series | None = None) -> None:
        decisions.append(
            Decision(
                name,
                action,
                config_label(run),
                int(run["seed"]),
                str(run["metric_id"]),
                str(run["run_id"]),
                None if pd.isna(run["started_at"]) else str(run["started_at"]),
                None if other is None else str(other["run_id"]),
                None if other is None or pd.isna(other["started_at"]) else str(other["started_at"]),
            )
        )

    new_runs = _newest_runs(incoming)
    chosen = new_runs.drop_duplicates("_unit", keep="last").set_index("_unit")
    for _, run in new_runs[new_runs.duplicated("_unit", keep="last")].iterrows():
        decide("superseded", run, chosen.loc[run["_unit"]])
    old_runs = _newest_runs(board)
    old_by_unit = old_runs.groupby("_unit", sort=False)
    old_units = set(old_runs["_unit"])
    take: set[tuple[str, str]] = set()  # (unit, run_id) of incoming rows to merge
    drop: set[str] = set()  # units whose board rows are replaced
    for unit, run in chosen.iterrows():
        if unit not in old_units:
            decide("added", run)
            take.add((unit, run["run_id"]))
            continue
        olds = old_by_unit.get_group(unit)
        newest_old = olds.iloc[-1]
        if run["run_id"] in set(olds["run_id"]):
            decide("unchanged", run)
        elif run["_t"] >= newest_old["_t"]:
            decide("replaced", run, newest_old)
            take.add((unit, run["run_id"]))
            drop.add(unit)
        else:
            decide("kept", run, newest_old)
    if not take:
        return board, decisions
    in_units = _keys(incoming, UNIT)
    keep_in = [(u, r) in take for u, r in zip(in_units, incoming["run_id"])]
    kept_board = board[~_keys(board, UNIT).isin(drop)]
    merged = pd.concat([kept_board, incoming[keep_in]], ignore_index=True).astype(BOARD_COLUMNS)
    return sort_board(merged), decisions
