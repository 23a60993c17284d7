"""Comparing a re-run seed with its submitted rows, value by value.

Where the re-run's environment matches the submitted run's (both on CPU, the same device label,
precision, torch thread count and torch version), the values are expected to be identical: the
comparison is ``exact``, and the record says whether every value was. Otherwise it is ``tolerance``.
Either way a value passes when identical or within its tolerance (:mod:`.tolerance`): an exact
comparison whose values differ, within tolerance, passes with ``identical: false`` (a CPU with other
vector instructions or another BLAS build rounds differently), so a reader sees how strong the check
was. Stats a metric declares as measurements of the machine (``Metric.unverified_stats``) are not
compared. The component versions, the dataset's content hash and the set of whole-model rows must
match; rows of one class (which exist only for classes with correct test samples, say) may differ in a
tolerance comparison and are listed as unmatched.

A value that differs by more than float rounding where the board has no cell to bound its
tolerance passes only on the submitter's own seed std, which whoever made the rows chose: it is
listed as ``unbounded``, and a configuration with such values is not verified (:mod:`.verify`
defers it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from ffbench.submission.canonical import cell_of, cell_text, plain
from ffbench.submission.tolerance import BoardSpread, tolerance

VERSION_COLUMNS = ("rule_version", "goodness_version", "negatives_version", "dataset_version", "dataset_hash")


@dataclass
class Comparison:
    exact: bool
    values: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    #: Values that differ beyond float rounding with no board cell to bound their tolerance.
    unbounded: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return all(v["identical"] for v in self.values)

    @property
    def largest(self) -> dict | None:
        """The compared value with the largest difference relative to its tolerance."""
        scored = [v for v in self.values if v["difference"] is not None]
        return max(scored, key=lambda v: v["difference"] / v["tolerance"], default=None)


def _whole_model_first(cell: tuple) -> tuple:
    return tuple((v is not None, str(v)) for v in cell)


def _float(value) -> float:
    return math.nan if plain(value) is None else float(value)


def _metric_rules(metric_classes: dict[str, type], name: str, problems: list[str]) -> tuple[float, tuple[str, ...]]:
    cls = metric_classes.get(name)
    factor = getattr(cls, "verify_tolerance", 1.0)
    skip = getattr(cls, "unverified_stats", ())
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not math.isfinite(factor) or factor < 0:
        problems.append(f"metric {name} declares verify_tolerance={factor!r}; it must be a number >= 0")
        factor = 0.0
    if not (isinstance(skip, tuple) and all(isinstance(s, str) for s in skip)):
        problems.append(f"metric {name} declares unverified_stats={skip!r}; it must be a tuple of stat names")
        skip = ()
    return float(factor), skip


def compare(
    submitted: pd.DataFrame,
    rerun: pd.DataFrame,
    *,
    exact: bool,
    spread: dict[tuple, float],
    board: BoardSpread,
    metric_classes: dict[str, type],
) -> Comparison:
    """Compare the submitted rows of one seed with the re-run's rows of that seed."""
    out = Comparison(exact)
    failed = rerun[rerun["status"] != "ok"]
    for r in failed.drop_duplicates("metric_id").to_dict("records"):
        out.problems.append(f"the re-run of metric {r['metric_id']} failed: {r['error']}")
    rerun = rerun[rerun["status"] == "ok"]
    sub_rows = {cell_of(r): r for r in submitted.to_dict("records")}
    new_rows = {cell_of(r): r for r in rerun.to_dict("records")}
    first_sub = next(iter(sub_rows.values()))
    if new_rows:
        first_new = next(iter(new_rows.values()))
        for col in VERSION_COLUMNS:
            if plain(first_sub[col]) != plain(first_new[col]):
                out.problems.append(
                    f"{col}: submitted {plain(first_sub[col])}, this installation {plain(first_new[col])}"
                )
        here = {r["metric_id"]: plain(r["metric_version"]) for r in new_rows.values()}
        for metric_id, version in sorted(
            {r["metric_id"]: plain(r["metric_version"]) for r in sub_rows.values()}.items()
        ):
            if metric_id in here and here[metric_id] != version:
                out.problems.append(
                    f"metric {metric_id} version: submitted {version}, this installation {here[metric_id]}"
                )
    failed_metrics = set(failed["metric_id"])
    for cell in sorted(set(sub_rows) | set(new_rows), key=_whole_model_first):
        if cell[0] in failed_metrics:
            continue
        sub, new = sub_rows.get(cell), new_rows.get(cell)
        if sub is None or new is None:
            side = "the re-run only" if sub is None else "the submission only"
            line = f"{cell_text(cell)}: in {side}"
            if cell[3] is not None and not exact:
                out.unmatched.append(line)
            else:
                out.problems.append(f"row {line}")
            continue
        factor, skip = _metric_rules(metric_classes, str(sub["metric"]), out.problems)
        if cell[1] in skip:
            out.unchecked.append(cell_text(cell))
            continue
        a, b = _float(sub["value"]), _float(new["value"])
        cap, source = board.cap(cell)
        tol = tolerance(factor, spread.get(cell, 0.0), cap, a)
        both_nan = math.isnan(a) and math.isnan(b)
        identical = both_nan or a == b
        difference = None if math.isnan(a) or math.isnan(b) else abs(a - b)
        ok = identical or (difference is not None and difference <= tol)
        unbounded = ok and not identical and cap is None and difference > tolerance(0.0, 0.0, None, a)
        out.values.append(
            {
                "metric_id": cell[0],
                "stat": cell[1],
                "layer": cell[2],
                "class": cell[3],
                "class_b": cell[4],
                "submitted": None if math.isnan(a) else a,
                "rerun": None if math.isnan(b) else b,
                "difference": difference,
                "tolerance": tol,
                "tolerance_cap": source,
                "identical": identical,
                "ok": ok,
                "unbounded": unbounded,
            }
        )
        if unbounded:
            out.unbounded.append(f"{cell_text(cell)}: submitted {a!r}, re-run {b!r}")
        if not ok:
            shown = "NaN" if difference is None else f"differs by {difference:.6g} (tolerance {tol:.3g})"
            out.problems.append(f"{cell_text(cell)}: submitted {a!r}, re-run {b!r}: {shown}")
    return out
