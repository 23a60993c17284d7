"""Numbers as a reader wants them on a board page: a std to 3 significant digits and its mean to
the same decimal place, FLOPs in GFLOP, and the time and memory that a shared machine measured
marked as such (shown, never ranked).

Units and the shared-machine mark follow the stat's name, a convention metric plugins keep:
``*_flops`` (FLOPs, shown as GFLOP), ``*_seconds`` (s), ``*_mib`` (MiB), ``*_joules`` (J),
``*_per_second`` (a rate over measured time). Seconds, MiB, joules and rates depend on what else ran
on the machine, so they are never ranked, whatever direction a plugin declares.
"""

from __future__ import annotations

import math

import pandas as pd

#: stat suffix -> (factor, unit, measured on the machine that ran it), the first match applies
UNITS = (
    ("gflop_per_second", (1.0, "GFLOP/s", True)),
    ("_per_second", (1.0, "per s", True)),
    ("_flops", (1e-9, "GFLOP", False)),
    ("_seconds", (1.0, "s", True)),
    ("_mib", (1.0, "MiB", True)),
    ("_joules", (1.0, "J", True)),
)
SHARED_MACHINE = "shared machine"


def unit(stat) -> tuple[float, str, bool]:
    """(factor, unit, measured on a shared machine) of a stat; (1, "", False) for a plain value."""
    name = "" if stat is None or pd.isna(stat) else str(stat)
    for suffix, spec in UNITS:
        if name.endswith(suffix):
            return spec
    return 1.0, "", False


def machine_measured(stat) -> bool:
    """Time, memory or energy of a run: load-dependent, so never ranked."""
    return unit(stat)[2]


def significant(x: float, digits: int = 3) -> str:
    """``x`` to ``digits`` significant digits, in plain notation."""
    if x == 0 or not math.isfinite(x):
        return "0" if x == 0 else str(x)
    decimals = digits - 1 - math.floor(math.log10(abs(x)))
    return _fixed(x, decimals)


def _fixed(x: float, decimals: int) -> str:
    if decimals > 0:
        return f"{x:.{decimals}f}"
    return f"{round(x, decimals):.0f}"


def mean_std(mean: float, std: float, stat=None, with_unit: bool = True) -> str:
    """``mean ± std``: the std to 3 significant digits, the mean to the same decimal place; one
    seed (no std): the value to 4 significant digits; no spread: ``± 0``."""
    if mean is None or pd.isna(mean):
        return "–"
    factor, suffix, _ = unit(stat)
    mean = float(mean) * factor
    suffix = f" {suffix}" if suffix and with_unit else ""
    if std is None or pd.isna(std):
        return significant(mean, 4) + suffix
    std = float(std) * factor
    if std == 0:
        return f"{significant(mean, 4)} ± 0{suffix}"
    if not (math.isfinite(std) and math.isfinite(mean)):  # finite values so large their spread overflows
        return f"{significant(mean, 4)} ± {significant(std, 3)}{suffix}"
    decimals = 2 - math.floor(math.log10(abs(std)))
    return f"{_fixed(mean, decimals)} ± {_fixed(std, decimals)}{suffix}"


def value(x: float, stat=None, digits: int = 4) -> str:
    """One value (a seed's, or a difference) to ``digits`` significant digits, in the stat's unit."""
    if x is None or pd.isna(x):
        return "–"
    factor, suffix, _ = unit(stat)
    return significant(float(x) * factor, digits) + (f" {suffix}" if suffix else "")
