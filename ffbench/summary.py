"""Summaries of tidy results: one row per run point with headline values as columns
(:func:`summary_table`), and the matrix the terminal tables show (:class:`StatMatrix`: a row per
headline stat and layer, a column per run point or series, short labels, a key per column and a
legend line per statistic)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pandas as pd

from ffbench.errors import FFBenchError
from ffbench.registry import Registry, get_registry
from ffbench.report.labels import mean_std, series_labels
from ffbench.results import headline_flags

ID_COLUMNS = ["rule", "goodness", "negatives", "dataset", "seed"]


def headline_column(metric: str, stat: str, layer) -> str:
    name = metric if stat == metric else f"{metric}.{stat}"
    return name if pd.isna(layer) else f"{name} L{int(layer)}"


def headline_rows(df: pd.DataFrame, registry: Registry | None = None) -> pd.DataFrame:
    """Rows over all classes whose stat is a headline stat of their metric."""
    ok = df[(df["status"] == "ok") & df["class"].isna() & df["class_b"].isna()]
    return ok[headline_flags(ok, registry).to_numpy(dtype=bool)]


def metric_labels(heads: pd.DataFrame) -> list[str]:
    """Per row: the metric's name, or its identity where the rows hold several parameter sets of
    it (``--param sparsity.samples=all,correct``)."""
    if "metric_id" not in heads.columns:
        return heads["metric"].astype(str).tolist()
    variants = heads.groupby("metric")["metric_id"].nunique()
    return [
        mid if variants.get(m, 0) > 1 and isinstance(mid, str) else m
        for m, mid in zip(heads["metric"], heads["metric_id"])
    ]


def summary_table(df: pd.DataFrame, registry: Registry | None = None) -> pd.DataFrame:
    """Wide table: one row per run point (run_id), identity columns, status, headline values."""
    points = df.groupby("run_id", sort=False).agg(
        **{c: (c, "first") for c in ID_COLUMNS},
        status=("status", lambda s: "failed" if (s == "failed").any() else "ok"),
    )
    heads = headline_rows(df, registry)
    if not heads.empty:
        # a metric measured with several parameter sets gets one column per variant, named by its identity
        label = metric_labels(heads)
        heads = heads.assign(
            column=[
                headline_column(lab, s if s != m else lab, l)
                for lab, m, s, l in zip(label, heads["metric"], heads["stat"], heads["layer"])
            ]
        )
        wide = heads.pivot_table(index="run_id", columns="column", values="value", aggfunc="first", sort=False)
        points = points.join(wide)
    return points.reset_index()


# -- the terminal view --------------------------------------------------------------------------


@dataclass
class StatMatrix:
    """What a terminal table shows: ``rows`` are (stat label, layer text, one cell per column),
    ``columns`` short labels of run points or series, ``keys`` one "label = full identity" line
    per column label (or group of them), ``legend`` (label, meaning) per stat label shown.
    ``status``: one status per column, or None when every column is ok."""

    title: str
    columns: list[str]
    rows: list[tuple[str, str, list[str]]]
    keys: list[tuple[str, str]] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)
    status: list[str] | None = None


def format_value(v) -> str:
    """A cell: 4 decimals for values below 100, 1 above, 3 significant digits from 1e5; '-' if missing."""
    if v is None or pd.isna(v):
        return "-"
    v = float(v)
    if abs(v) >= 1e5:
        return f"{v:.3g}"
    return f"{v:.1f}" if abs(v) >= 100 else f"{v:.4f}"


def stat_labels(pairs: list[tuple[str, str, str]]) -> dict[tuple[str, str], str]:
    """Short labels for (metric label, metric name, stat): the metric label for the stat named
    like the metric, else the stat alone, or ``metric.stat`` where two metrics share a stat name."""
    names = [lab if stat == metric else stat for lab, metric, stat in pairs]
    counts = Counter(names)
    return {
        (lab, stat): name if counts[name] == 1 or stat == metric else f"{lab}.{stat}"
        for (lab, metric, stat), name in zip(pairs, names)
    }


def direction_text(higher_is_better) -> str:
    if higher_is_better is None or pd.isna(higher_is_better):
        return "descriptive (not ranked)"
    return "ranked: higher is better" if bool(higher_is_better) else "ranked: lower is better"


def stat_meaning(metric: str, stat: str, registry: Registry | None, recorded_direction=None) -> str:
    """One legend line: what the stat of ``metric`` measures (the metric's ``stat_help``, else its
    description) and the direction (``higher_is_better``; for a metric that is not installed, the
    direction the rows recorded)."""
    try:
        cls = (registry or get_registry()).get("metric", metric).cls
    except FFBenchError:
        return f"metric '{metric}' is not installed, no description; {direction_text(recorded_direction)}"
    text = dict(getattr(cls, "stat_help", {}) or {}).get(stat)
    if not text:
        about = cls.description or "no description"
        text = f"{about} (stat '{stat}')" if stat != metric else about
    return f"{text}; {direction_text(cls.higher_is_better)}"


def spaced(identity: str) -> str:
    """``ff[a=1,b=2]`` -> ``ff[a=1, b=2]``: breakable between parameters when a key line wraps."""
    return identity.replace(",", ", ") if isinstance(identity, str) else str(identity)


def column_key(row: pd.Series) -> str:
    """rule / goodness / negatives on dataset, each as its row gives it, parameters spaced."""
    parts = [spaced(row[c]) for c in ("rule", "goodness", "negatives") if c in row and pd.notna(row[c])]
    on = f" on {spaced(row['dataset'])}" if "dataset" in row and pd.notna(row["dataset"]) else ""
    return " / ".join(parts) + on


def stat_rows(
    heads: pd.DataFrame, cell_of: dict[tuple[str, str, object], dict[str, str]], columns: list[str], registry
) -> tuple[list[tuple[str, str, list[str]]], list[tuple[str, str]]]:
    """Rows (label, layer, cells) in the order stats first appear, whole model before layers, and
    the legend of the labels shown. ``heads`` has metric, metric label (``mlabel``), stat, layer
    and higher_is_better; ``cell_of[(mlabel, stat, layer)]`` maps a column to its text."""
    pairs = list(dict.fromkeys(zip(heads["mlabel"], heads["metric"], heads["stat"])))
    labels = stat_labels(pairs)
    direction = {}
    if "higher_is_better" in heads.columns:
        direction = dict(zip(heads["metric"], heads["higher_is_better"]))
    rows, legend = [], []
    for lab, metric, stat in pairs:
        at = heads[(heads["mlabel"] == lab) & (heads["stat"] == stat)]
        layers = ([None] if at["layer"].isna().any() else []) + sorted(int(v) for v in at["layer"].dropna().unique())
        for layer in layers:
            cells = cell_of.get((lab, stat, layer), {})
            rows.append(
                (labels[(lab, stat)], "-" if layer is None else str(layer), [cells.get(c, "-") for c in columns])
            )
        legend.append((labels[(lab, stat)], stat_meaning(metric, stat, registry, direction.get(metric))))
    return rows, legend


def run_matrix(df: pd.DataFrame, registry: Registry | None = None) -> StatMatrix:
    """The run summary: a column per run point (short label: what tells the points apart, plus
    the seed where seeds differ), a row per headline stat and layer."""
    points = df.groupby("run_id", sort=False).agg(
        **{c: (c, "first") for c in ID_COLUMNS if c in df.columns},
        status=("status", lambda s: "failed" if (s == "failed").any() else "ok"),
    )
    for c in ID_COLUMNS:
        if c not in points.columns:
            points[c] = None
    series = series_labels(points)
    order = {s: i for i, s in enumerate(dict.fromkeys(series))}  # columns: series by first appearance, then seed
    sort_key = [(order[s], seed if pd.notna(seed) else -1) for s, seed in zip(series, points["seed"])]
    rank = sorted(range(len(points)), key=lambda i: sort_key[i])
    points, series = points.iloc[rank], series.iloc[rank]
    several_seeds = points.groupby(series)["seed"].nunique().max() > 1 or points["seed"].nunique() > 1
    labels = [
        f"{s} seed {int(seed)}" if several_seeds and pd.notna(seed) else s for s, seed in zip(series, points["seed"])
    ]
    labels = unique_labels(labels)
    column_of = dict(zip(points.index, labels))
    keys = list(dict.fromkeys(zip(series, [column_key(r) for _, r in points.iterrows()])))
    heads = headline_rows(df, registry)
    heads = heads.assign(mlabel=metric_labels(heads)) if not heads.empty else heads.assign(mlabel=[])
    cell_of: dict[tuple[str, str, object], dict[str, str]] = {}
    for run_id, lab, stat, layer, value in zip(
        heads["run_id"], heads["mlabel"], heads["stat"], heads["layer"], heads["value"]
    ):
        key = (lab, stat, None if pd.isna(layer) else int(layer))
        cell_of.setdefault(key, {}).setdefault(column_of[run_id], format_value(value))
    rows, legend = stat_rows(heads, cell_of, labels, registry)
    failed = (points["status"] == "failed").any()
    n = len(points)
    return StatMatrix(
        title=f"ffbench results: {n} run point{'s' if n != 1 else ''}, headline stats",
        columns=labels,
        rows=rows,
        keys=[(s, k) for s, k in keys if s != k],
        legend=legend,
        status=points["status"].tolist() if failed else None,
    )


def unique_labels(labels: list[str]) -> list[str]:
    """``labels`` with repeats numbered (``ff seed 0``, ``ff seed 0 (2)``): two runs of one point."""
    seen: dict[str, int] = {}
    out = []
    for lab in labels:
        seen[lab] = seen.get(lab, 0) + 1
        out.append(lab if seen[lab] == 1 else f"{lab} ({seen[lab]})")
    return out


def report_matrix(summary: pd.DataFrame, df: pd.DataFrame, registry: Registry | None = None) -> StatMatrix:
    """``ffbench report``'s terminal table: a column per series (mean ± std over its seeds), a row
    per headline stat and layer. ``summary``: a report builder's summary (series, metric, stat,
    layer, mean, std, headline); ``df``: its rows, with series and ID columns."""
    series = list(dict.fromkeys(df["series"]))
    heads = summary[summary["headline"].fillna(False).astype(bool)]
    direction = df.dropna(subset=["higher_is_better"]).drop_duplicates("metric") if "higher_is_better" in df else None
    heads = heads.assign(
        mlabel=heads["metric"],
        higher_is_better=heads["metric"].map(
            dict(zip(direction["metric"], direction["higher_is_better"])) if direction is not None else {}
        ),
    )
    cell_of: dict[tuple[str, str, object], dict[str, str]] = {}
    for s, metric, stat, layer, mean, std in zip(
        heads["series"], heads["metric"], heads["stat"], heads["layer"], heads["mean"], heads["std"]
    ):
        key = (metric, stat, None if pd.isna(layer) else int(layer))
        cell_of.setdefault(key, {})[s] = mean_std(mean, std)
    rows, legend = stat_rows(heads, cell_of, series, registry)
    firsts = df.drop_duplicates("series").set_index("series")
    keys = []
    for s in series:
        key = column_key(firsts.loc[s])
        if "seed" in df.columns:
            seeds = sorted({int(v) for v in df.loc[df["series"] == s, "seed"].dropna()})
            if seeds:
                key += f"; seed{'s' if len(seeds) > 1 else ''} {', '.join(str(v) for v in seeds)}"
        keys.append((s, key))
    return StatMatrix(
        title=f"Headline stats of {len(series)} series (mean ± std over seeds)",
        columns=series,
        rows=rows,
        keys=keys,
        legend=legend,
    )
