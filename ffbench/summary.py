"""Summaries of tidy results: one row per run point, headline values as columns."""

from __future__ import annotations

import pandas as pd

from ffbench.registry import Registry

ID_COLUMNS = ["rule", "goodness", "negatives", "dataset", "seed"]


def headline_column(metric: str, stat: str, layer) -> str:
    name = metric if stat == metric else f"{metric}.{stat}"
    return name if pd.isna(layer) else f"{name} L{int(layer)}"


def headline_rows(df: pd.DataFrame, registry: Registry | None = None) -> pd.DataFrame:
    """Rows over all classes whose stat is a headline stat of their metric."""
    from ffbench.results import headline_flags

    ok = df[(df["status"] == "ok") & df["class"].isna() & df["class_b"].isna()]
    return ok[headline_flags(ok, registry).to_numpy(dtype=bool)]


def summary_table(df: pd.DataFrame, registry: Registry | None = None) -> pd.DataFrame:
    """Wide table: one row per run point (run_id), identity columns, status, headline values."""
    points = df.groupby("run_id", sort=False).agg(
        **{c: (c, "first") for c in ID_COLUMNS},
        status=("status", lambda s: "failed" if (s == "failed").any() else "ok"),
    )
    heads = headline_rows(df, registry)
    if not heads.empty:
        # a metric measured with several parameter sets (--param sparsity.samples=all,correct) gets
        # one column per variant, named by its identity; otherwise the column is the metric's name
        variants = heads.groupby("metric")["metric_id"].nunique()
        label = [
            mid if variants[m] > 1 and isinstance(mid, str) else m
            for m, mid in zip(heads["metric"], heads["metric_id"])
        ]
        heads = heads.assign(
            column=[
                headline_column(lab, s if s != m else lab, l)
                for lab, m, s, l in zip(label, heads["metric"], heads["stat"], heads["layer"])
            ]
        )
        wide = heads.pivot_table(index="run_id", columns="column", values="value", aggfunc="first", sort=False)
        points = points.join(wide)
    return points.reset_index()
