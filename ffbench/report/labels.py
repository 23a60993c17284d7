"""Series labels for a report: a series is one rule/goodness/negatives/dataset combination (seeds
pooled); its label names only what tells it apart from the others."""

from __future__ import annotations

import re

import pandas as pd

ID_COLUMNS = ("rule", "goodness", "negatives", "dataset")


def compact_identities(values: list[str]) -> dict[str, str]:
    """Shortest names that still tell identities apart: the base name where it is unique, else the
    base with only the parameters that differ among the identities sharing it."""
    by_base: dict[str, list[str]] = {}
    for v in dict.fromkeys(values):
        by_base.setdefault(v.partition("[")[0], []).append(v)
    names: dict[str, str] = {}
    for base, ids in by_base.items():
        if len(ids) == 1:
            names[ids[0]] = base
            continue
        params = {i: i.partition("[")[2].rstrip("]").split(",") for i in ids}
        common = set.intersection(*(set(p) for p in params.values()))
        for i in ids:
            kept = [p for p in params[i] if p and p not in common]
            names[i] = f"{base}[{','.join(kept)}]" if kept else base
    return names


def series_labels(keys: pd.DataFrame) -> pd.Series:
    """A label per row of ``keys`` (the ID columns): the rule, plus every other ID column whose
    non-null values differ between combinations, each as short as stays unambiguous."""
    combos = keys[list(ID_COLUMNS)].drop_duplicates()
    varying = [c for c in ID_COLUMNS if c == "rule" or combos[c].dropna().nunique() > 1]
    names = {c: compact_identities(combos[c].dropna().tolist()) for c in varying}

    def label(row: pd.Series, cols: list[str], short: bool) -> str:
        return " · ".join((names[c][row[c]] if short else row[c]) for c in cols if pd.notna(row[c]))

    labels = keys.apply(lambda r: label(r, varying, True), axis=1)
    if labels.nunique() != len(combos):  # abbreviations collided: fall back to full identities
        labels = keys.apply(lambda r: label(r, list(ID_COLUMNS), False), axis=1)
    return labels.astype(object)


def slug(text: str, taken: set[str]) -> str:
    """A file-safe name for ``text``, unique among ``taken`` (which it joins)."""
    base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60].strip("-") or "series"
    name, k = base, 2
    while name in taken:
        name, k = f"{base}-{k}", k + 1
    taken.add(name)
    return name


def number(value: float, scale: float | None = None) -> str:
    """3 decimals below 100 (``0.810``), 1 up to 1e5 (``225.8``), 3 significant digits above
    (``9.08e+12``); ``scale`` (default the value) picks the form, so a std reads like its mean."""
    size = abs(value if scale is None else scale)
    if size >= 1e5:
        return f"{value:.3g}"
    return f"{value:.1f}" if size >= 100 else f"{value:.3f}"


def mean_std(mean: float, std: float) -> str:
    """``0.810 ± 0.014``; the mean alone for one seed; an en dash when missing."""
    if pd.isna(mean):
        return "–"
    return number(mean) if pd.isna(std) else f"{number(mean)} ± {number(std, mean)}"
