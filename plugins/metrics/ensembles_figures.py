"""The figures of the ensemble metrics (`loo-ensembles`, `jaccard`, `unseen-category`), as they
declare them to `ffbench report` (``Metric.figures``): per model, from one representative run
point per series (its lowest seed).

- ``activation-maps`` (loo-ensembles): per layer, test samples (rows, grouped by class) x units,
  the LOO ensemble of each class marked under its block;
- ``class-mean`` (loo-ensembles): mean activity per unit over one class (``--class``, default the
  first), ensemble units in the series colour, the LOO threshold dashed;
- ``jaccard`` (jaccard): class x class Jaccard maps per layer, one colour scale for all series;
- ``unseen-category`` (unseen-category): the activity map of the model trained without the held-out
  class next to each seen class's overlap with its ensemble.

They read the artifacts the metrics write (``class_mean_L*``, ``ensemble_L*``,
``sample_activity_L*``, ``sample_labels``, ``jaccard_L*``, ``shared_L*``, ``overlap_L*``; fields
``classes``, ``tau``, ``holdout``). Imported only when a report is built (matplotlib).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ffbench.report.figure_api import FigureSpec, NotDrawn, RunView, choose_class
from ffbench.report.figures import new_figure

ENSEMBLE_COLOUR = "#e6550d"  # orange ticks marking ensemble units under the blue activity maps
MISSING_COLOUR = "#dddddd"  # rows of a class block with fewer samples than the largest block
UNSEEN_COLOUR = "#c0392b"


# -- data -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerEnsembles:
    """One layer of a loo-ensembles (or unseen-category) artifact."""

    number: int  # the layer's number as the metric names it (``_L{number}``)
    class_mean: np.ndarray  # [C, D] mean activity of each unit over each class's samples
    ensemble: np.ndarray  # bool [C, D] LOO ensemble membership
    samples: np.ndarray  # [S, D] activity of test samples, grouped by class


@dataclass(frozen=True)
class Ensembles:
    classes: list[str]
    layers: list[LayerEnsembles]
    sample_labels: np.ndarray  # [S] class index of each row of ``samples``
    tau: float = 1.0


# -- activation maps -------------------------------------------------------------------------


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
    im = ax.imshow(
        image,
        aspect="auto",
        cmap=cmap,
        vmin=0.0,
        vmax=vmax,
        interpolation="nearest" if image.shape[1] <= 1000 else "antialiased",
    )
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
            ax.text(
                (d - 1) / 2,
                centres[-1],
                "no test sample read",
                ha="center",
                va="center",
                fontsize=8,
                color="0.35",
                zorder=3,
            )
    names = [f"{n} (unseen)" if c == unseen else n for c, n in enumerate(ens.classes)]
    ax.set_yticks(centres, names)
    if unseen is not None:
        tick = ax.get_yticklabels()[unseen]
        tick.set_color(UNSEEN_COLOUR)
        tick.set_fontweight("bold")
        ax.add_patch(
            Rectangle(
                (-0.5, unseen * (rows + band) - 0.5),
                d,
                rows + band,
                fill=False,
                edgecolor=UNSEEN_COLOUR,
                linewidth=2.0,
                zorder=4,
                clip_on=False,
            )
        )
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
    """Per layer, test samples (rows, grouped by class) x units, the LOO ensemble units of
    each class marked below its block: an ensemble shows as blue vertical stripes over orange ticks."""
    height = max(3.2, 0.34 * len(ens.classes) + 1.2)
    fig = new_figure(13, height * len(ens.layers) + 0.8)
    axes = fig.subplots(len(ens.layers), 1, squeeze=False)[:, 0]
    for ax, layer in zip(axes, ens.layers):
        im = draw_activity_map(ax, ens, layer)
        ax.set_title(f"Layer {layer.number}: {layer.samples.shape[1]} units; {size_text(layer)}", loc="left")
        fig.colorbar(im, ax=ax, label="activity", extend="max", pad=0.01, fraction=0.025)
    fig.suptitle(title)
    return fig


# -- mean activity of one class ----------------------------------------------------------


def loo_threshold(class_mean: np.ndarray, tau: float) -> float:
    """The activity above which a unit is in the LOO ensemble (docs/science.md, loo-ensembles).

    (m_i - a_i) / a_i > tau with a_i = (sum m - m_i) / (D - 1) is, solved for m_i,
    m_i > (1 + tau) * sum(m) / (D + tau): one threshold shared by all units of the layer."""
    d = class_mean.shape[-1]
    return float((1.0 + tau) * class_mean.sum() / (d + tau))


def class_mean_activity(ens: Ensembles, cls: int, title: str, colour: str) -> Figure:
    """Mean activity of every unit over one class's samples, per layer; the class's LOO
    ensemble in the series colour, the LOO threshold dashed."""
    fig = new_figure(12, 2.9 * len(ens.layers) + 0.8)
    axes = fig.subplots(len(ens.layers), 1, squeeze=False)[:, 0]
    for ax, layer in zip(axes, ens.layers):
        m, member = layer.class_mean[cls].astype(np.float64), layer.ensemble[cls].astype(bool)
        units = np.arange(m.shape[0])
        ax.set_title(f"Layer {layer.number}", loc="left")
        ax.set_xlim(-0.5, m.shape[0] - 0.5)
        ax.set_xlabel("hidden unit")
        if not np.isfinite(m).all():  # the metric read no sample of this class
            ax.text(
                0.5,
                0.5,
                f"no test sample of '{ens.classes[cls]}' was read",
                transform=ax.transAxes,
                ha="center",
                va="center",
            )
            ax.set_yticks([])
            continue
        ax.vlines(
            units[~member], 0, m[~member], colors="0.6", linewidth=0.9, label=f"other units ({int((~member).sum())})"
        )
        ax.vlines(
            units[member], 0, m[member], colors=colour, linewidth=1.4, label=f"ensemble units ({int(member.sum())})"
        )
        ax.axhline(
            loo_threshold(m, ens.tau),
            color="black",
            linestyle="--",
            linewidth=0.9,
            label=f"LOO threshold (τ = {ens.tau:g})",
        )
        ax.set_ylim(bottom=0)
        ax.set_ylabel("mean activity")
        ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), frameon=False, fontsize="small")
    fig.suptitle(f"{title}: mean activity per unit over class '{ens.classes[cls]}'")
    return fig


# -- Jaccard heat maps -----------------------------------------------------------------------


def jaccard_vmax(matrices: list[np.ndarray]) -> float:
    """Top of a colour scale shared by Jaccard maps: the largest off-diagonal value, rounded up to a
    tenth (at least 0.1), so that small overlaps are not all drawn the same dark colour."""
    peak = 0.0
    for m in matrices:
        off = np.asarray(m, dtype=np.float64)[~np.eye(len(m), dtype=bool)]
        off = off[np.isfinite(off)]
        peak = max(peak, float(off.max()) if off.size else 0.0)
    return min(1.0, max(0.1, math.ceil(round(peak * 10, 9)) / 10))


def jaccard_maps(
    jaccard: list[np.ndarray],
    classes: list[str],
    title: str,
    layer_numbers: list[int],
    ensemble_sizes: list[np.ndarray] | None = None,
    vmax: float = 1.0,
) -> Figure:
    """Class x class Jaccard index of the LOO ensembles, one heat map per layer, values
    written in the cells. Grey: the diagonal (1 by definition) and undefined pairs (NaN: both
    ensembles empty, or a class without samples). Ensemble sizes, when given, follow the class
    names (negative sizes mean "no samples" and show as –). ``vmax``: top of the colour scale, shared
    by the figures of a report so their colours compare."""
    n_cls, n_layers = len(classes), len(jaccard)
    ncols = min(n_layers, 2)
    nrows = math.ceil(n_layers / ncols)
    cell = 0.42
    fig = new_figure(ncols * (cell * n_cls + 2.7) + 1.0, nrows * (cell * n_cls + 1.6) + 0.5)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[n_layers:]:
        ax.remove()
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad=MISSING_COLOUR)
    im = None
    for k, ax in enumerate(axes[:n_layers]):
        j = np.array(jaccard[k], dtype=np.float64)
        np.fill_diagonal(j, np.nan)
        im = ax.imshow(j, cmap=cmap, vmin=0.0, vmax=vmax, interpolation="nearest")
        ylabels = (
            classes
            if ensemble_sizes is None
            else [f"{c} ({int(n) if n >= 0 else '–'})" for c, n in zip(classes, ensemble_sizes[k])]
        )
        ax.set_xticks(range(n_cls), classes, rotation=90)
        ax.set_yticks(range(n_cls), ylabels)
        ax.set_title(f"Layer {layer_numbers[k]}")
        if n_cls <= 15:
            for a, b in zip(*np.nonzero(np.isfinite(j))):
                v = j[a, b]
                ax.text(
                    b,
                    a,
                    "0" if v == 0 else f"{v:.2f}",
                    ha="center",
                    va="center",
                    fontsize=6.5,
                    color="white" if v < 0.55 * vmax else "black",
                )
    fig.colorbar(im, ax=list(axes[:n_layers]), label="Jaccard index of ensembles", shrink=0.8)
    fig.suptitle(title + ("  (ensemble size in brackets)" if ensemble_sizes is not None else ""))
    return fig


# -- unseen category -------------------------------------------------------------------------


def unseen_category(ens: Ensembles, holdout: int, overlap: list[np.ndarray], title: str, colour: str) -> Figure:
    """The activity map of a network trained without class ``holdout`` (its block in red),
    next to each seen class's overlap with the unseen class's ensemble (bars aligned with the blocks)."""
    height = max(3.2, 0.34 * len(ens.classes) + 1.2)
    fig = new_figure(13, height * len(ens.layers) + 0.8)
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


# -- from artifacts to figures --------------------------------------------------------------


def ensembles_of(run: RunView, metric: str) -> Ensembles:
    """The class means, ensembles and sample activity per layer of ``metric``'s artifact."""
    art = run.artifact(metric)
    numbers = art.layers("class_mean")
    if not numbers:
        raise NotDrawn(f"the {metric} artifact of run {run.run_id} has no class_mean_L<layer> array.")
    labels = art.array("sample_labels").astype(int)
    layers = [
        LayerEnsembles(
            n,
            art.array(f"class_mean_L{n}"),
            art.array(f"ensemble_L{n}").astype(bool),
            art.array(f"sample_activity_L{n}").astype(np.float32),
        )
        for n in numbers
    ]
    classes = run.classes(layers[0].class_mean.shape[0])
    return Ensembles(classes, layers, labels, float(art.meta.get("tau", 1.0)))


def draw_activation_maps(run: RunView):
    return activation_maps(ensembles_of(run, "loo-ensembles"), run.title), f"Activation maps of {run.series}"


def draw_class_mean(run: RunView):
    ens = ensembles_of(run, "loo-ensembles")
    cls = choose_class(run.option("class"), ens.classes)
    fig = class_mean_activity(ens, cls, run.title, run.colour)
    return fig, f"Mean activity per unit of {run.series}, class '{ens.classes[cls]}'"


def _jaccard_arrays(run: RunView) -> tuple[list[int], list[np.ndarray], list[np.ndarray] | None]:
    art = run.artifact("jaccard")
    numbers = art.layers("jaccard")
    if not numbers:
        raise NotDrawn(f"the jaccard artifact of run {run.run_id} has no jaccard_L<layer> array.")
    mats = [art.array(f"jaccard_L{n}") for n in numbers]
    sizes = (
        [np.diag(art.arrays[f"shared_L{n}"]) for n in numbers]
        if all(f"shared_L{n}" in art.arrays for n in numbers)
        else None
    )
    return numbers, mats, sizes


def draw_jaccard(run: RunView):
    shown = []  # one colour scale for every series' maps
    for peer in run.peers:
        try:
            shown += _jaccard_arrays(peer)[1]
        except NotDrawn:
            continue  # noted when that series' figure is drawn
    numbers, mats, sizes = _jaccard_arrays(run)
    classes = run.classes(mats[0].shape[0])
    fig = jaccard_maps(mats, classes, run.title, numbers, sizes, jaccard_vmax(shown))
    return fig, f"Jaccard maps of {run.series}"


def draw_unseen(run: RunView):
    holdout = int(run.artifact("unseen-category").field("holdout"))
    ens = ensembles_of(run, "unseen-category")
    art = run.artifact("unseen-category")
    overlap = [art.array(f"overlap_L{l.number}") for l in ens.layers]
    fig = unseen_category(ens, holdout, overlap, run.title, run.colour)
    return fig, f"Unseen category '{ens.classes[holdout]}' in {run.series}"


LOO_FIGURES = [
    FigureSpec(
        "activation-maps",
        "Activation maps per layer",
        draw_activation_maps,
        per_model=True,
        description="Post-ReLU activity (blue) of test samples (rows, grouped by class; grey rows: "
        "classes with fewer samples read, by default correctly classified ones) for every "
        "hidden unit (columns). Orange ticks under each class's block mark its LOO ensemble: "
        "an ensemble shows as blue vertical stripes over orange ticks.",
    ),
    FigureSpec(
        "class-mean",
        "Mean activity per unit for one class",
        draw_class_mean,
        per_model=True,
        description="Mean activity of each hidden unit over the chosen class's test samples; units of "
        "the class's LOO ensemble in the series colour, the LOO threshold dashed (choose the "
        "class with --class).",
    ),
]
JACCARD_FIGURES = [
    FigureSpec(
        "jaccard",
        "Jaccard similarity of class ensembles",
        draw_jaccard,
        per_model=True,
        description="J(E_a, E_b) = |E_a ∩ E_b| / |E_a ∪ E_b| for every pair of classes, per layer (one "
        "colour scale for all series); similar-looking classes share units. Grey: the "
        "diagonal, and pairs where J is undefined (both ensembles empty, or a class without "
        "correctly classified samples).",
    ),
]
UNSEEN_FIGURES = [
    FigureSpec(
        "unseen-category",
        "An unseen category",
        draw_unseen,
        per_model=True,
        description="A network trained with one class held out (positives and negatives), shown that "
        "class's test images: the activity it evokes (red block) next to the seen classes, and "
        "how much each seen class's ensemble overlaps the unseen class's ensemble.",
    ),
]
