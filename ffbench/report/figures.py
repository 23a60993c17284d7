"""The report's generic figure helpers: colours, legends, a new figure, and figures of any stat
(per-layer bars of one stat, a per-layer stat against a whole-model one, each metric's headline
bars). They name no metric: the figures live with their metrics
(:meth:`ffbench.contracts.Metric.figures`), which may use every helper here.

Figures are built on :class:`matplotlib.figure.Figure` directly (rendered by Agg when saved), never
through pyplot, so drawing leaves no global state behind, needs no display and no ``close``.
Inputs are plain arrays and small tidy frames, so every function can be tested on hand-made data.

Colours: a series (one rule/goodness/negatives/dataset combination) keeps one colour in every
figure of a report; colours are handed out in series order (:func:`palette`), whatever the rule.
"""

from __future__ import annotations

import itertools
import math
import re

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

DPI = 110
LEGEND_WRAP = 48


def _colour_cycle() -> list[str]:
    """tab10, then tab20b and tab20c: 50 distinct colours, the first ten the most distinct."""
    maps = [("tab10", 10), ("tab20b", 20), ("tab20c", 20)]
    return [to_hex(matplotlib.colormaps[name](i)) for name, n in maps for i in range(n)]


#: Colours in the order series receive them.
SERIES_COLOURS = _colour_cycle()


# -- colours, labels, figures ---------------------------------------------------------------


def palette(series: list[str] | dict[str, object]) -> dict[str, str]:
    """A colour per series label, by position: the first series gets the first colour of
    :data:`SERIES_COLOURS` (tab10 blue), the second the next, and so on; colours repeat only past
    50 series. (Iterating a dict uses its keys, so ``palette(colours)`` keeps an order.)"""
    cycle = itertools.cycle(SERIES_COLOURS)
    return {label: next(cycle) for label in series}


def new_figure(width: float, height: float) -> Figure:
    """A figure of ``width`` x ``height`` inches at the report's resolution, constrained layout."""
    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def wrap(text: str, width: int = LEGEND_WRAP) -> str:
    """Wrap a long label (component identities have no spaces) onto lines of about ``width``
    characters, breaking only after a comma or a space."""
    lines, line = [], ""
    for piece in re.split(r"(?<=[, ])", text):
        if line and len(line) + len(piece) > width:
            lines.append(line.rstrip())
            line = ""
        line += piece
    return "\n".join(lines + [line.rstrip()])


def series_legend(fig: Figure, colours: dict[str, str], kind: str = "patch") -> None:
    """One legend under the figure naming every series in its colour (``kind``: patch or marker)."""
    if kind == "patch":
        handles = [Patch(facecolor=c, edgecolor="none") for c in colours.values()]
    else:
        handles = [Line2D([], [], color=c, marker="o", linestyle="none") for c in colours.values()]
    ncols = 1 if any(len(s) > 30 for s in colours) else min(len(colours), 4)
    fig.legend(handles, [wrap(s) for s in colours], loc="outside lower center", ncols=ncols, frameon=False)


def floats(values: pd.Series) -> np.ndarray:
    """Values as floats, missing ones (a std over a single seed) NaN: no error bar is drawn."""
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


# -- one stat per layer ---------------------------------------------------------------------


def layer_bars(
    summary: pd.DataFrame,
    colours: dict[str, str],
    title: str,
    ylabel: str,
    points: pd.DataFrame | None = None,
    unit_range: bool = True,
) -> Figure:
    """One stat per layer, one bar per series (mean, error bar = std over seeds), each seed's value
    as a dot. ``summary``: series, layer, mean, std, n; ``points``: series, layer, value.
    ``unit_range``: the stat lies in [0, 1] (the y axis stops at 1)."""
    layers = sorted(int(v) for v in summary["layer"].unique())
    series = [s for s in colours if s in set(summary["series"])]
    fig = new_figure(max(6.0, 1.2 + 0.55 * len(layers) * len(series) + 0.6 * len(layers)), 4.6)
    ax = fig.subplots()
    width = 0.8 / len(series)
    for i, s in enumerate(series):
        rows = summary[summary["series"] == s].set_index("layer")
        x = np.array([layers.index(int(l)) for l in rows.index]) + (i - (len(series) - 1) / 2) * width
        ax.bar(
            x,
            rows["mean"],
            width * 0.9,
            yerr=floats(rows["std"]),
            capsize=3,
            color=colours[s],
            error_kw={"linewidth": 1.0},
            zorder=2,
        )
        if points is not None:
            pts = points[points["series"] == s]
            px = np.array([layers.index(int(l)) for l in pts["layer"]]) + (i - (len(series) - 1) / 2) * width
            ax.scatter(px, pts["value"], s=12, color="black", zorder=3, linewidths=0)
    ax.set_xticks(range(len(layers)), [f"layer {l}" for l in layers])
    if unit_range:
        top = float(np.nanmax(floats(summary["mean"]) + np.nan_to_num(floats(summary["std"])))) if len(summary) else 1.0
        ax.set_ylim(0.0, min(1.0, max(0.1, top * 1.15)))
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", linewidth=0.5, alpha=0.5, zorder=0)
    ax.set_title(title)
    series_legend(fig, {s: colours[s] for s in series})
    return fig


# -- a per-layer stat against a whole-model stat ---------------------------------------------


def layer_scatter(points: pd.DataFrame, colours: dict[str, str], title: str, xlabel: str, ylabel: str) -> Figure:
    """A whole-model stat (y) against a per-layer stat (x), one panel per layer: one dot per run
    point, or one per series with std error bars when ``points`` has x_std / y_std columns.
    ``points``: series, layer, x, y. Panel x labels: ``{xlabel}, layer {n}``."""
    layers = sorted(int(v) for v in points["layer"].unique())
    fig = Figure(figsize=(max(6.0, 3.8 * len(layers)), 4.0), dpi=DPI, layout="constrained")
    axes = fig.subplots(1, len(layers), squeeze=False, sharey=True)[0]
    series = [s for s in colours if s in set(points["series"])]
    has_err = {"x_std", "y_std"} <= set(points.columns)
    for ax, layer in zip(axes, layers):
        at = points[points["layer"] == layer]
        for s in series:
            p = at[at["series"] == s]
            if has_err:
                ax.errorbar(
                    p["x"],
                    p["y"],
                    xerr=floats(p["x_std"]),
                    yerr=floats(p["y_std"]),
                    fmt="o",
                    color=colours[s],
                    capsize=3,
                    markersize=6,
                )
            else:
                ax.scatter(p["x"], p["y"], color=colours[s], s=30, edgecolors="white", linewidths=0.5)
        ax.set_xlabel(f"{xlabel}, layer {layer}")
        ax.set_title(f"Layer {layer}")
        ax.grid(linewidth=0.5, alpha=0.5)
        ax.margins(0.15)
    axes[0].set_ylabel(ylabel)
    fig.suptitle(title)
    series_legend(fig, {s: colours[s] for s in series}, kind="marker")
    return fig


# -- per-metric bars ------------------------------------------------------------------------


def metric_bars(
    summary: pd.DataFrame, metric: str, colours: dict[str, str], higher_is_better: bool | None = None
) -> Figure:
    """Bars of every stat of one metric (over all classes), grouped by layer, one bar per series
    with its std over seeds. ``summary``: series, stat, layer (NA = whole model), mean, std."""
    stats = list(dict.fromkeys(summary["stat"]))
    ncols = min(len(stats), 3)
    nrows = math.ceil(len(stats) / ncols)
    series = [s for s in colours if s in set(summary["series"])]
    n_groups = max(summary.groupby("stat")["layer"].apply(lambda s: s.nunique(dropna=False)).max(), 1)
    panel_w = max(3.6, 0.9 + 0.45 * n_groups * len(series))
    fig = Figure(figsize=(max(5.5, ncols * panel_w), nrows * 3.3 + 1.1), dpi=DPI, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[len(stats) :]:
        ax.remove()
    width = 0.8 / len(series)
    for ax, stat in zip(axes, stats):
        rows = summary[summary["stat"] == stat]
        groups = sorted(rows["layer"].dropna().astype(int).unique().tolist())
        keys: list = ([None] if rows["layer"].isna().any() else []) + groups
        for i, s in enumerate(series):
            r = rows[rows["series"] == s]
            for g, key in enumerate(keys):
                sel = r[r["layer"].isna()] if key is None else r[r["layer"] == key]
                if len(sel):
                    x = g + (i - (len(series) - 1) / 2) * width
                    mean = float(floats(sel["mean"])[0])
                    if np.isnan(mean):  # undefined for this series (e.g. Jaccard without ensembles)
                        ax.text(x, 0, "n/a", rotation=90, ha="center", va="bottom", fontsize=7, color="0.4")
                        continue
                    ax.bar(x, mean, width * 0.9, yerr=floats(sel["std"])[:1], capsize=3, color=colours[s], zorder=2)
        ax.set_xticks(range(len(keys)), ["model" if k is None else f"layer {k}" for k in keys])
        ax.set_title(stat)
        ax.grid(axis="y", linewidth=0.5, alpha=0.5, zorder=0)
    direction = {True: " (higher is better)", False: " (lower is better)"}.get(higher_is_better, "")
    fig.suptitle(f"{metric}{direction}\nmean ± std over seeds")
    series_legend(fig, {s: colours[s] for s in series})
    return fig
