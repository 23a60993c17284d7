"""What a submission refuses: rows that failed or hold an infinite value, that a modified checkout
computed, or that leave a configuration incomplete. Each problem is one line naming the configuration, seed and metric.

Used by ``ffbench submit`` (which refuses to write a submission with any of them) and by
``ffbench verify`` (a submission edited by hand afterwards fails with them)."""

from __future__ import annotations

import math
from collections import defaultdict

import pandas as pd

from ffbench.submission.canonical import CONFIG_COLUMNS, UNIFORM_COLUMNS, cell_of, config_key, config_label, plain
from ffbench.submission.manifest import DISPLAY_FIELDS, DIST_KINDS

#: At least this many seeds per configuration: one is drawn for the re-run, and their spread sets
#: the tolerance.
MIN_SEEDS = 2
#: At most this many lines of one kind of problem are listed (then a count of the rest).
LISTED = 12


def _label(row: dict) -> str:
    return config_label({c: plain(row.get(c)) for c in CONFIG_COLUMNS + DISPLAY_FIELDS})


def _limit(lines: list[str]) -> list[str]:
    lines = sorted(dict.fromkeys(lines))
    if len(lines) <= LISTED:
        return lines
    return lines[:LISTED] + [f"... and {len(lines) - LISTED} more like these"]


def _failed(records: list[dict]) -> list[str]:
    return _limit(
        [
            f"failed row: {_label(r)} seed {plain(r.get('seed'))} metric {plain(r.get('metric_id'))}: "
            f"{plain(r.get('error')) or 'no error recorded'}"
            for r in records
            if plain(r.get("status")) != "ok"
        ]
    )


def _infinite(records: list[dict]) -> list[str]:
    """Ok rows whose value is infinite (an undefined value is NaN; boards refuse infinity)."""
    lines = []
    for r in records:
        value = r.get("value")
        if plain(r.get("status")) == "ok" and isinstance(value, (int, float)) and math.isinf(value):
            lines.append(
                f"infinite value: {_label(r)} seed {plain(r.get('seed'))} metric {plain(r.get('metric_id'))} "
                f"stat {plain(r.get('stat'))} = {float(value)}"
            )
    return _limit(lines)


def _dirty(records: list[dict]) -> list[str]:
    lines = []
    for r in records:
        sha = plain(r.get("git_sha"))
        if sha is None:
            lines.append(
                f"no git sha: {_label(r)} seed {plain(r.get('seed'))} was not run from a git checkout of ffbench"
            )
        elif str(sha).endswith("-dirty"):
            lines.append(
                f"dirty checkout: {_label(r)} seed {plain(r.get('seed'))} was run from {sha} "
                "(uncommitted changes: commit them and run again)"
            )
    return _limit(lines)


def _identity(records: list[dict]) -> list[str]:
    lines = []
    for r in records:
        missing = [c for c in ("rule_id", "dataset_id", "metric_id", "seed", "stat") if plain(r.get(c)) is None]
        if missing:
            lines.append(f"row without {', '.join(missing)} (run {plain(r.get('run_id'))})")
    return _limit(lines)


def _per_configuration(groups: dict[str, list[dict]]) -> list[str]:
    lines: list[str] = []
    for rows in groups.values():
        label = _label(rows[0])
        for col in UNIFORM_COLUMNS + ("metric_version",):
            key = "metric_id" if col == "metric_version" else None
            seen: dict = defaultdict(set)
            for r in rows:
                seen[plain(r.get(key)) if key else None].add(plain(r.get(col)))
            for what, values in seen.items():
                if len(values) > 1:
                    shown = ", ".join(sorted(map(str, values)))
                    lines.append(f"{label}: {col}{f' of {what}' if what else ''} differs between its rows ({shown})")
        runs: dict = defaultdict(set)
        cells: dict = defaultdict(int)
        for r in rows:
            runs[plain(r.get("seed"))].add(plain(r.get("run_id")))
            cells[(plain(r.get("seed")), cell_of(r))] += 1
        for seed, ids in runs.items():
            if len(ids) > 1:
                lines.append(
                    f"{label} seed {seed} comes from {len(ids)} runs ({', '.join(sorted(map(str, ids)))}): "
                    "submit the rows of one run per seed"
                )
        for (seed, cell), n in cells.items():
            if n > 1:
                lines.append(f"{label} seed {seed}: {cell[0]}/{cell[1]} appears {n} times (rows of one run, once)")
        if len(runs) < MIN_SEEDS:
            lines.append(
                f"{label} has {len(runs)} seed(s); a submission needs at least {MIN_SEEDS} per configuration "
                "(the verifier draws one, and their spread sets its tolerance)"
            )
    return _limit(lines)


def _incomplete(groups: dict[str, list[dict]]) -> list[str]:
    seeds = {k: {plain(r.get("seed")) for r in rows} for k, rows in groups.items()}
    metrics = {k: {plain(r.get("metric_id")) for r in rows} for k, rows in groups.items()}
    all_seeds = set().union(*seeds.values()) if seeds else set()
    all_metrics = set().union(*metrics.values()) if metrics else set()
    lines = []
    for k, rows in groups.items():
        label = _label(rows[0])
        for s in sorted(all_seeds - seeds[k], key=str):
            lines.append(f"incomplete: {label} lacks seed {s}, which the other configurations have")
        for m in sorted(all_metrics - metrics[k], key=str):
            lines.append(f"incomplete: {label} lacks metric {m}, which the other configurations have")
        per_seed: dict = defaultdict(set)
        for r in rows:
            per_seed[plain(r.get("seed"))].add(plain(r.get("metric_id")))
        for s, ms in per_seed.items():
            for m in sorted(metrics[k] - ms, key=str):
                lines.append(f"incomplete: {label} seed {s} lacks metric {m}, which its other seeds have")
    return _limit(lines)


def _distributions(records: list[dict]) -> list[str]:
    versions: dict = defaultdict(set)
    for r in records:
        for kind in DIST_KINDS:
            if plain(r.get(f"{kind}_dist")) is not None:
                versions[plain(r.get(f"{kind}_dist"))].add(plain(r.get(f"{kind}_dist_version")))
    return [
        f"distribution {name} appears at several versions ({', '.join(sorted(map(str, v)))}): "
        "submit rows computed with one version of each plugin"
        for name, v in sorted(versions.items())
        if len(v) > 1
    ]


def problems(results: pd.DataFrame) -> list[str]:
    """Every reason these rows cannot be a submission (empty: they can)."""
    records = results.to_dict("records")
    if not records:
        return ["no rows"]
    found = _failed(records) + _infinite(records) + _dirty(records) + _identity(records) + _distributions(records)
    ok = [r for r in records if plain(r.get("status")) == "ok"]
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in ok:
        groups[config_key(r)].append(r)
    return found + _per_configuration(groups) + _incomplete(groups)
