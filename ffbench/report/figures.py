"""The report's figures: one function per figure, each returning a matplotlib ``Figure``.

Figures are built on :class:`matplotlib.figure.Figure` directly (rendered by Agg when saved), never
through pyplot, so drawing leaves no global state behind, needs no display and no ``close``.
Inputs are plain arrays and small tidy frames, so every function can be tested on hand-made data.

Colours: a series (one rule/goodness/negatives/dataset combination) keeps one colour in every
figure of a report, and the papers' rules keep theirs across reports (:func:`palette`).
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

DPI = 110
#: Fixed colours for the papers' rules (tab10 blue, orange, green); other series take POOL colours.
RULE_COLOURS = {"ff": "#1f77b4", "bp-ff": "#ff7f0e", "bp": "#2ca02c"}
POOL = ["#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f",
        "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#9edae5"]
ENSEMBLE_COLOUR = "#e6550d"  # orange ticks marking ensemble units under the blue activity maps
MISSING_COLOUR = "#dddddd"   # rows of a class block with fewer samples than the largest block
UNSEEN_COLOUR = "#c0392b"
LEGEND_WRAP = 48


# -- data -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerEnsembles:
    """One layer of a loo-ensembles (or unseen-category) artifact."""

    number: int               # the layer's number as the metric names it (``_L{number}``)
    class_mean: np.ndarray    # [C, D] mean activity of each unit over each class's samples
    ensemble: np.ndarray      # bool [C, D] LOO ensemble membership
    samples: np.ndarray       # [S, D] activity of test samples, grouped by class


@dataclass(frozen=True)
class Ensembles:
    classes: list[str]
    layers: list[LayerEnsembles]
    sample_labels: np.ndarray  # [S] class index of each row of ``samples``
    tau: float = 1.0


# -- colours and labels -----------------------------------------------------------------------


def palette(series_rules: dict[str, str]) -> dict[str, str]:
    """A colour per series label, in the given order. ``series_rules`` maps each label to its
    rule's base name: the first series of ff, bp-ff and bp gets that rule's fixed colour; every
    other series the next unused pool colour."""
    colours: dict[str, str] = {}
    used: set[str] = set()
    for label, rule in series_rules.items():
        fixed = RULE_COLOURS.get(rule)
        if fixed and fixed not in used:
            colours[label] = fixed
            used.add(fixed)
    extra = [to_hex(matplotlib.colormaps["tab20b"](i)) for i in range(20)]
    pool = itertools.cycle([c for c in POOL if c not in used] + extra)  # repeats only past 35 series
    for label in series_rules:
        if label not in colours:
            colours[label] = next(pool)
    return {label: colours[label] for label in series_rules}


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
    """One legend under the figure naming every series in its colour."""
    if kind == "patch":
        handles = [Patch(facecolor=c, edgecolor="none") for c in colours.values()]
    else:
        handles = [Line2D([], [], color=c, marker="o", linestyle="none") for c in colours.values()]
    ncols = 1 if any(len(s) > 30 for s in colours) else min(len(colours), 4)
    fig.legend(handles, [wrap(s) for s in colours], loc="outside lower center", ncols=ncols, frameon=False)


def loo_threshold(class_mean: np.ndarray, tau: float) -> float:
    """The activity above which a unit is in the LOO ensemble (SCIENCE.md, loo-ensembles).

    (m_i - a_i) / a_i > tau with a_i = (sum m - m_i) / (D - 1) is, solved for m_i,
    m_i > (1 + tau) * sum(m) / (D + tau): one threshold shared by all units of the layer."""
    d = class_mean.shape[-1]
    return float((1.0 + tau) * class_mean.sum() / (d + tau))


def _floats(values: pd.Series) -> np.ndarray:
    """Values as floats, missing ones (a std over a single seed) NaN: no error bar is drawn."""
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


# -- 1. activation maps ---------------------------------------------------------------------


def _class_blocks(ens: Ensembles, layer: LayerEnsembles) -> tuple[np.ndarray, int, int]:
    """The map image: per class, its samples' rows padded with NaN to the largest class's count,
    then a band of NaN rows where the class's ensemble units are marked. Returns (image, rows
    per class block, band rows)."""
    labels = ens.sample_labels
    counts = [int((labels == c).sum()) for c in range(len(ens.classes))]
    rows = max(max(counts, default=0), 1)
    band = max(2, rows // 5)
    d = layer.samples.shape[1]
    image = np.full((len(ens.classes) * (rows + band), d), np.nan, dtype=np.float32)
    for c in range(len(ens.classes)):
        block = layer.samples[labels == c].astype(np.float32)
        start = c * (rows + band)
        image[start : start + len(block)] = block
    return image, rows, band


def draw_activity_map(ax: Axes, ens: Ensembles, layer: LayerEnsembles, unseen: int | None = None):
    """Samples x units activity (blue), class blocks labelled, ensemble units as orange ticks under
    each class's block. Returns the image (for a colour bar)."""
    image, rows, band = _class_blocks(ens, layer)
    cmap = matplotlib.colormaps["Blues"].with_extremes(bad=MISSING_COLOUR)
    finite = image[np.isfinite(image)]
    vmax = float(np.percentile(finite[finite > 0], 99)) if (finite > 0).any() else 1.0
    # nearest keeps single units crisp where each gets a pixel or more; wider layers are downsampled
    im = ax.imshow(image, aspect="auto", cmap=cmap, vmin=0.0, vmax=vmax,
                   interpolation="nearest" if image.shape[1] <= 1000 else "antialiased")
    d = image.shape[1]
    centres = []
    for c in range(len(ens.classes)):
        start = c * (rows + band)
        centres.append(start + (rows - 1) / 2)
        top, bottom = start + rows - 0.5, start + rows + band - 0.5
        ax.axhspan(top, bottom, color="white", zorder=1, linewidth=0)
        units = np.flatnonzero(layer.ensemble[c])
        pad = 0.15 * band
        ax.vlines(units, top + pad, bottom - pad, colors=ENSEMBLE_COLOUR, linewidth=0.8, zorder=2)
        if c:
            ax.axhline(start - 0.5, color="0.55", linewidth=0.6, zorder=3)
        if not (ens.sample_labels == c).any():
            ax.text((d - 1) / 2, centres[-1], "no test sample read",
                    ha="center", va="center", fontsize=8, color="0.35", zorder=3)
    names = [f"{n} (unseen)" if c == unseen else n for c, n in enumerate(ens.classes)]
    ax.set_yticks(centres, names)
    if unseen is not None:
        tick = ax.get_yticklabels()[unseen]
        tick.set_color(UNSEEN_COLOUR)
        tick.set_fontweight("bold")
        ax.add_patch(Rectangle((-0.5, unseen * (rows + band) - 0.5), d, rows + band, fill=False,
                               edgecolor=UNSEEN_COLOUR, linewidth=2.0, zorder=4, clip_on=False))
    ax.set_xlim(-0.5, d - 0.5)
    ax.set_xlabel("hidden unit")
    ax.tick_params(axis="y", length=0)
    return im


def size_text(layer: LayerEnsembles) -> str:
    """Ensemble sizes of the classes that had samples (a class without any has no ensemble)."""
    sizes = layer.ensemble[np.isfinite(layer.class_mean).all(axis=1)].sum(axis=1)
    if not sizes.size:
        return "no class had samples"
    if sizes.min() == sizes.max():
        return f"ensembles of {sizes.min()} units"
    return f"ensembles of {sizes.min()}–{sizes.max()} units (mean {sizes.mean():.1f})"


def activation_maps(ens: Ensembles, title: str) -> Figure:
    """Figure 1: per layer, test samples (rows, grouped by class) x units, the LOO ensemble units of
    each class marked below its block: an ensemble shows as blue vertical stripes over orange ticks."""
    height = max(3.2, 0.34 * len(ens.classes) + 1.2)
    fig = Figure(figsize=(13, height * len(ens.layers) + 0.8), dpi=DPI, layout="constrained")
    axes = fig.subplots(len(ens.layers), 1, squeeze=False)[:, 0]
    for ax, layer in zip(axes, ens.layers):
        im = draw_activity_map(ax, ens, layer)
        ax.set_title(f"Layer {layer.number}: {layer.samples.shape[1]} units; {size_text(layer)}",
                     loc="left")
        fig.colorbar(im, ax=ax, label="activity", extend="max", pad=0.01, fraction=0.025)
    fig.suptitle(title)
    return fig


# -- 2. mean activity of one class ----------------------------------------------------------


def class_mean_activity(ens: Ensembles, cls: int, title: str, colour: str) -> Figure:
    """Figure 2: mean activity of every unit over one class's samples, per layer; the class's LOO
    ensemble in the series colour, the LOO threshold dashed."""
    fig = Figure(figsize=(12, 2.9 * len(ens.layers) + 0.8), dpi=DPI, layout="constrained")
    axes = fig.subplots(len(ens.layers), 1, squeeze=False)[:, 0]
    for ax, layer in zip(axes, ens.layers):
        m, member = layer.class_mean[cls].astype(np.float64), layer.ensemble[cls].astype(bool)
        units = np.arange(m.shape[0])
        ax.set_title(f"Layer {layer.number}", loc="left")
        ax.set_xlim(-0.5, m.shape[0] - 0.5)
        ax.set_xlabel("hidden unit")
        if not np.isfinite(m).all():  # the metric read no sample of this class
            ax.text(0.5, 0.5, f"no test sample of '{ens.classes[cls]}' was read",
                    transform=ax.transAxes, ha="center", va="center")
            ax.set_yticks([])
            continue
        ax.vlines(units[~member], 0, m[~member], colors="0.6", linewidth=0.9,
                  label=f"other units ({int((~member).sum())})")
        ax.vlines(units[member], 0, m[member], colors=colour, linewidth=1.4,
                  label=f"ensemble units ({int(member.sum())})")
        ax.axhline(loo_threshold(m, ens.tau), color="black", linestyle="--", linewidth=0.9,
                   label=f"LOO threshold (τ = {ens.tau:g})")
        ax.set_ylim(bottom=0)
        ax.set_ylabel("mean activity")
        ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), frameon=False, fontsize="small")
    fig.suptitle(f"{title}: mean activity per unit over class '{ens.classes[cls]}'")
    return fig


# -- 3. sparsity per layer ------------------------------------------------------------------


def sparsity_by_layer(summary: pd.DataFrame, colours: dict[str, str], title: str,
                      points: pd.DataFrame | None = None) -> Figure:
    """Figure 3: Hoyer sparsity per layer, one bar per series (mean, error bar = std over seeds),
    each seed's value as a dot. ``summary``: series, layer, mean, std, n; ``points``: series, layer, value."""
    layers = sorted(int(v) for v in summary["layer"].unique())
    series = [s for s in colours if s in set(summary["series"])]
    fig = Figure(figsize=(max(6.0, 1.2 + 0.55 * len(layers) * len(series) + 0.6 * len(layers)), 4.6),
                 dpi=DPI, layout="constrained")
    ax = fig.subplots()
    width = 0.8 / len(series)
    for i, s in enumerate(series):
        rows = summary[summary["series"] == s].set_index("layer")
        x = np.array([layers.index(int(l)) for l in rows.index]) + (i - (len(series) - 1) / 2) * width
        ax.bar(x, rows["mean"], width * 0.9, yerr=_floats(rows["std"]), capsize=3, color=colours[s],
               error_kw={"linewidth": 1.0}, zorder=2)
        if points is not None:
            pts = points[points["series"] == s]
            px = np.array([layers.index(int(l)) for l in pts["layer"]]) + (i - (len(series) - 1) / 2) * width
            ax.scatter(px, pts["value"], s=12, color="black", zorder=3, linewidths=0)
    ax.set_xticks(range(len(layers)), [f"layer {l}" for l in layers])
    top = float(np.nanmax(_floats(summary["mean"]) + np.nan_to_num(_floats(summary["std"])))) if len(summary) else 1.0
    ax.set_ylim(0.0, min(1.0, max(0.1, top * 1.15)))
    ax.set_ylabel("Hoyer sparsity (1 = one active unit)")
    ax.grid(axis="y", linewidth=0.5, alpha=0.5, zorder=0)
    ax.set_title(title)
    series_legend(fig, {s: colours[s] for s in series})
    return fig


# -- 4. Jaccard heat maps -------------------------------------------------------------------


def jaccard_vmax(matrices: list[np.ndarray]) -> float:
    """Top of a colour scale shared by Jaccard maps: the largest off-diagonal value, rounded up to a
    tenth (at least 0.1), so that small overlaps are not all drawn the same dark colour."""
    peak = 0.0
    for m in matrices:
        off = np.asarray(m, dtype=np.float64)[~np.eye(len(m), dtype=bool)]
        off = off[np.isfinite(off)]
        peak = max(peak, float(off.max()) if off.size else 0.0)
    return min(1.0, max(0.1, math.ceil(round(peak * 10, 9)) / 10))


def jaccard_maps(jaccard: list[np.ndarray], classes: list[str], title: str, layer_numbers: list[int],
                 ensemble_sizes: list[np.ndarray] | None = None, vmax: float = 1.0) -> Figure:
    """Figure 4: class x class Jaccard index of the LOO ensembles, one heat map per layer, values
    written in the cells. Grey: the diagonal (1 by definition) and undefined pairs (NaN: both
    ensembles empty, or a class without samples). Ensemble sizes, when given, follow the class
    names (negative sizes mean "no samples" and show as –). ``vmax``: top of the colour scale, shared
    by the figures of a report so their colours compare."""
    n_cls, n_layers = len(classes), len(jaccard)
    ncols = min(n_layers, 2)
    nrows = math.ceil(n_layers / ncols)
    cell = 0.42
    fig = Figure(figsize=(ncols * (cell * n_cls + 2.7) + 1.0, nrows * (cell * n_cls + 1.6) + 0.5),
                 dpi=DPI, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[n_layers:]:
        ax.remove()
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad=MISSING_COLOUR)
    im = None
    for k, ax in enumerate(axes[:n_layers]):
        j = np.array(jaccard[k], dtype=np.float64)
        np.fill_diagonal(j, np.nan)
        im = ax.imshow(j, cmap=cmap, vmin=0.0, vmax=vmax, interpolation="nearest")
        ylabels = (classes if ensemble_sizes is None else
                   [f"{c} ({int(n) if n >= 0 else '–'})" for c, n in zip(classes, ensemble_sizes[k])])
        ax.set_xticks(range(n_cls), classes, rotation=90)
        ax.set_yticks(range(n_cls), ylabels)
        ax.set_title(f"Layer {layer_numbers[k]}")
        if n_cls <= 15:
            for a, b in zip(*np.nonzero(np.isfinite(j))):
                v = j[a, b]
                ax.text(b, a, "0" if v == 0 else f"{v:.2f}", ha="center", va="center", fontsize=6.5,
                        color="white" if v < 0.55 * vmax else "black")
    fig.colorbar(im, ax=list(axes[:n_layers]), label="Jaccard index of ensembles", shrink=0.8)
    fig.suptitle(title + ("  (ensemble size in brackets)" if ensemble_sizes is not None else ""))
    return fig


# -- 5. unseen category ---------------------------------------------------------------------


def unseen_category(ens: Ensembles, holdout: int, overlap: list[np.ndarray], title: str, colour: str) -> Figure:
    """Figure 5: the activity map of a network trained without class ``holdout`` (its block in red),
    next to each seen class's overlap with the unseen class's ensemble (bars aligned with the blocks)."""
    height = max(3.2, 0.34 * len(ens.classes) + 1.2)
    fig = Figure(figsize=(13, height * len(ens.layers) + 0.8), dpi=DPI, layout="constrained")
    subfigs = np.atleast_1d(fig.subfigures(len(ens.layers), 1))
    name = ens.classes[holdout]
    for sub, layer, ov in zip(subfigs, ens.layers, overlap):
        ax_map, ax_bar = sub.subplots(1, 2, sharey=True, width_ratios=[5, 1])
        im = draw_activity_map(ax_map, ens, layer, unseen=holdout)
        size = int(layer.ensemble[holdout].sum())
        ax_map.set_title(f"Layer {layer.number}: ensemble of unseen '{name}' has {size} units", loc="left")
        _, rows, band = _class_blocks(ens, layer)
        centres = [c * (rows + band) + (rows - 1) / 2 for c in range(len(ens.classes))]
        values = np.asarray(ov, dtype=np.float64)
        seen = [c for c in range(len(ens.classes)) if c != holdout and np.isfinite(values[c])]
        ax_bar.barh([centres[c] for c in seen], values[seen], height=0.6 * rows, color=colour)
        top = max(float(values[seen].max()) if seen else 0.0, 0.1)
        for c in seen:
            ax_bar.text(values[c] + 0.03 * top, centres[c], f"{values[c]:.2f}", va="center", fontsize=7)
        ax_bar.set_xlim(0.0, top * 1.35)
        ax_bar.set_xlabel("Jaccard with the\nunseen ensemble")
        ax_bar.tick_params(axis="y", left=False, labelleft=False)
        ax_bar.grid(axis="x", linewidth=0.5, alpha=0.5)
        sub.colorbar(im, ax=ax_bar, label="activity", extend="max", pad=0.02, fraction=0.12)
    fig.suptitle(f"{title}: class '{name}' held out of training")
    return fig


# -- 6. rho+ histograms ---------------------------------------------------------------------


def excitation_histograms(rho: dict[str, dict[int, np.ndarray]], bin_edges: np.ndarray, colours: dict[str, str],
                          title: str) -> Figure:
    """Figure 6: distribution over units of rho+ (fraction of positive incoming weights), one
    panel per layer, one outlined histogram per series. ``rho``: series -> layer number -> values
    (seeds pooled)."""
    layer_numbers = sorted({n for per_layer in rho.values() for n in per_layer})
    fig = Figure(figsize=(max(6.0, 4.0 * len(layer_numbers)), 3.9), dpi=DPI, layout="constrained")
    axes = fig.subplots(1, len(layer_numbers), squeeze=False, sharey=True)[0]
    series = [s for s in colours if s in rho]
    for ax, number in zip(axes, layer_numbers):
        for s in series:
            if number in rho[s]:
                values = np.asarray(rho[s][number], dtype=np.float64)
                ax.hist(values, bins=bin_edges, density=True, histtype="stepfilled", alpha=0.22, color=colours[s])
                ax.hist(values, bins=bin_edges, density=True, histtype="step", linewidth=1.5, color=colours[s])
        ax.set_xlim(float(bin_edges[0]), float(bin_edges[-1]))
        ax.set_xlabel("ρ+ (fraction of positive weights)")
        ax.set_title(f"Layer {number}")
    axes[0].set_ylabel("density of units")
    fig.suptitle(title)
    series_legend(fig, {s: colours[s] for s in series})
    return fig


# -- 7. accuracy vs sparsity ----------------------------------------------------------------


def accuracy_vs_sparsity(points: pd.DataFrame, colours: dict[str, str], title: str) -> Figure:
    """Figure 7: test accuracy against each layer's Hoyer sparsity, one dot per run point (or per
    series with std error bars when ``points`` has sparsity_std / accuracy_std columns).
    ``points``: series, layer, sparsity, accuracy."""
    layers = sorted(int(v) for v in points["layer"].unique())
    fig = Figure(figsize=(max(6.0, 3.8 * len(layers)), 4.0), dpi=DPI, layout="constrained")
    axes = fig.subplots(1, len(layers), squeeze=False, sharey=True)[0]
    series = [s for s in colours if s in set(points["series"])]
    has_err = {"sparsity_std", "accuracy_std"} <= set(points.columns)
    for ax, layer in zip(axes, layers):
        at = points[points["layer"] == layer]
        for s in series:
            p = at[at["series"] == s]
            if has_err:
                ax.errorbar(p["sparsity"], p["accuracy"], xerr=_floats(p["sparsity_std"]),
                            yerr=_floats(p["accuracy_std"]), fmt="o", color=colours[s], capsize=3, markersize=6)
            else:
                ax.scatter(p["sparsity"], p["accuracy"], color=colours[s], s=30, edgecolors="white", linewidths=0.5)
        ax.set_xlabel(f"Hoyer sparsity, layer {layer}")
        ax.set_title(f"Layer {layer}")
        ax.grid(linewidth=0.5, alpha=0.5)
        ax.margins(0.15)
    axes[0].set_ylabel("test accuracy")
    fig.suptitle(title)
    series_legend(fig, {s: colours[s] for s in series}, kind="marker")
    return fig


# -- per-metric bars ------------------------------------------------------------------------


def metric_bars(summary: pd.DataFrame, metric: str, colours: dict[str, str],
                higher_is_better: bool | None = None) -> Figure:
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
    for ax in axes[len(stats):]:
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
                    mean = float(_floats(sel["mean"])[0])
                    if np.isnan(mean):  # undefined for this series (e.g. Jaccard without ensembles)
                        ax.text(x, 0, "n/a", rotation=90, ha="center", va="bottom", fontsize=7, color="0.4")
                        continue
                    ax.bar(x, mean, width * 0.9, yerr=_floats(sel["std"])[:1], capsize=3, color=colours[s], zorder=2)
        ax.set_xticks(range(len(keys)), ["model" if k is None else f"layer {k}" for k in keys])
        ax.set_title(stat)
        ax.grid(axis="y", linewidth=0.5, alpha=0.5, zorder=0)
    direction = {True: " (higher is better)", False: " (lower is better)"}.get(higher_is_better, "")
    fig.suptitle(f"{metric}{direction}\nmean ± std over seeds")
    series_legend(fig, {s: colours[s] for s in series})
    return fig
