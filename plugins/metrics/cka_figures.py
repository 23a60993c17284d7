"""The ``cka`` metric's report figure: linear CKA between series, layer by layer.

One heat map per layer l (up to the fewest layers any series has): cell (i, j) is the linear CKA
between layer l of series i and layer l of series j, each series read from its representative run
point (its lowest seed that saved the ``cka`` artifact), computed by :func:`cka.cka_between` on the
saved test subsets. Series whose subsets differ from the first series' (another dataset, samples
or seed) are left out with a note.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ffbench.report.figure_api import ComparisonView, FigureSpec, NotDrawn


def between_series(artifacts: dict[str, Any]) -> tuple[list[str], np.ndarray, list[str]]:
    """(series kept, [L, S, S] CKA of layer l between every pair of kept series, notes on the series
    left out) for one cka artifact per series (series order kept); L = the fewest layers."""
    from ffbench_plugins.metrics.cka import artifact_layers, cka_between

    names = list(artifacts)
    if not names:
        raise NotDrawn("no run point saved a cka artifact")
    first, kept, notes = artifacts[names[0]], [names[0]], []
    for name in names[1:]:
        try:
            cka_between(first, artifacts[name])
        except ValueError as exc:
            notes.append(f"cka between series: '{name}' left out ({exc})")
            continue
        kept.append(name)
    layers = min(len(artifact_layers(artifacts[s])) for s in kept)
    out = np.full((layers, len(kept), len(kept)), np.nan)
    for i, a in enumerate(kept):
        for j in range(i, len(kept)):
            m = cka_between(artifacts[a], artifacts[kept[j]])
            for layer in range(layers):
                out[layer, i, j] = out[layer, j, i] = m[layer, layer]
    return kept, out, notes


def draw_between_series(view: ComparisonView):
    from ffbench.report.figures import new_figure, wrap

    chosen: dict[str, Any] = {}
    for run in view.runs:  # lowest seed first within a series
        chosen.setdefault(run.series, run.artifact())
    if len(chosen) < 2:
        raise NotDrawn("CKA between series needs the cka artifacts of at least two series")
    series, matrices, notes = between_series(chosen)
    for note in notes:
        view.note(note)
    if len(series) < 2:
        raise NotDrawn("fewer than two series hold the same cka test subset")
    n, layers = len(series), matrices.shape[0]
    fig = new_figure(1.2 + 0.5 * n * layers + 1.0 * layers, 1.5 + 0.5 * n)
    axes = fig.subplots(1, layers, squeeze=False)[0]
    labels = [wrap(s, 24) for s in series]
    for layer, ax in enumerate(axes):
        image = ax.imshow(matrices[layer], vmin=0.0, vmax=1.0, cmap="viridis")
        ax.set_title(f"layer {layer + 1}")
        ax.set_xticks(range(n), labels if layer == 0 else [""] * n, rotation=90, fontsize=7)
        ax.set_yticks(range(n), labels if layer == 0 else [""] * n, fontsize=7)
        for i in range(n):
            for j in range(n):
                value = matrices[layer, i, j]
                colour = "k" if value > 0.6 else "w"  # readable on viridis' yellow and its blue
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color=colour)
    fig.colorbar(image, ax=list(axes), label="linear CKA")
    return fig, "Linear CKA between series, per layer (representative run point of each series)"


FIGURES = [
    FigureSpec(
        "cka-between-series",
        "CKA between series",
        draw_between_series,
        description="Linear CKA (Kornblith et al. 2019) between layer l of every pair of series, on the "
        "same seeded test subset; each series' lowest seed. 1: the same representation up to a "
        "rotation and scale.",
    )
]
