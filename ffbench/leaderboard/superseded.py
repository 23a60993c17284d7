"""Which configurations of a board are superseded: kept on the board, shown apart, never ranked.

A configuration is **superseded** when every one of its rows was made by a suite (``ffbench run
--suite``) at a version older than the newest version of that suite on the board, and another
configuration of the same components (the same rule, goodness, negatives and dataset names; other
parameters) has rows of that newest version: the suite's newer version replaced it, e.g. a preset
retuned between two versions of a suite. Rows run without a suite are never superseded (nothing
says what replaced them).
"""

from __future__ import annotations

import re

import pandas as pd

from ffbench.leaderboard.schema import CONFIG, row_keys

#: What makes two configurations "the same components" (names without parameters).
NAMES = ["rule", "goodness", "negatives", "dataset"]


def _version_key(version: str) -> tuple:
    """Suite versions compare as numbers where they are numbers ("10" after "9"), else as text."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"[.\-]", str(version)))


def _base(name) -> str:
    return "" if pd.isna(name) else str(name).partition("[")[0]


def superseded(board: pd.DataFrame) -> dict[str, str]:
    """Config key (``row_keys(board, CONFIG)``) -> what supersedes it (``suite@version``), for the
    superseded configurations of ``board``."""
    if board.empty or "suite" not in board.columns:
        return {}
    names = board.assign(**{c: board[c].map(_base) for c in NAMES})
    df = board.assign(_config=row_keys(board, CONFIG), _names=row_keys(names, NAMES))
    tagged = df.dropna(subset=["suite", "suite_version"])
    if tagged.empty:
        return {}
    newest = {s: max(v.astype(str), key=_version_key) for s, v in tagged.groupby("suite")["suite_version"]}
    at_newest = tagged[[newest[s] == str(v) for s, v in zip(tagged["suite"], tagged["suite_version"])]]
    newest_by_names: dict[str, set] = {}
    for names, suite in zip(at_newest["_names"], at_newest["suite"]):
        newest_by_names.setdefault(names, set()).add(suite)
    out = {}
    for config, rows in df.groupby("_config", sort=False):
        if rows["suite"].isna().any() or rows["suite_version"].isna().any():
            continue
        suites = set(rows["suite"])
        if any(str(v) == newest[s] for s, v in zip(rows["suite"], rows["suite_version"])):
            continue
        replaced_in = sorted(suites & newest_by_names.get(rows["_names"].iloc[0], set()))
        if replaced_in:
            out[config] = ", ".join(f"{s}@{newest[s]}" for s in replaced_in)
    return out
