"""The figure of the `excitation` metric, as it declares it to `ffbench report`
(``Metric.figures``): ``excitation``, histograms of rho+ (fraction of positive incoming weights)
over units, one panel per layer, one outlined histogram per series, every seed of a series pooled.
Reads the artifacts ``rho_plus_L<layer>`` and ``bin_edges``. Imported only when a report is built.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ffbench.report.figure_api import ComparisonView, FigureSpec, NotDrawn
from ffbench.report.figures import new_figure, series_legend


def excitation_histograms(
    rho: dict[str, dict[int, np.ndarray]], bin_edges: np.ndarray, colours: dict[str, str], title: str
) -> Figure:
    """Distribution over units of rho+, one panel per layer, one outlined histogram per series
    (density, so series with different unit counts compare). ``rho``: series -> layer number ->
    values (seeds pooled)."""
    layer_numbers = sorted({n for per_layer in rho.values() for n in per_layer})
    fig = new_figure(max(6.0, 4.0 * len(layer_numbers)), 3.9)
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


def draw_excitation(view: ComparisonView):
    """Every run point's rho+ per layer, pooled over the seeds of each series; a run point whose
    artifact lacks the arrays is left out with a note. The first usable run's bin edges are used."""
    rho: dict[str, dict[int, list[np.ndarray]]] = {}
    edges = None
    for run in view.runs:
        art = run.artifact()
        numbers = art.layers("rho_plus")
        if not numbers or "bin_edges" not in art.arrays:
            view.note(f"ρ+ histograms: run {run.run_id} left out: its artifact lacks rho_plus_L<layer> or bin_edges.")
            continue
        edges = art.arrays["bin_edges"] if edges is None else edges
        for n in numbers:
            rho.setdefault(run.series, {}).setdefault(n, []).append(np.ravel(art.arrays[f"rho_plus_L{n}"]))
    if edges is None:
        raise NotDrawn("no usable 'excitation' artifact (see the notes above).")
    pooled = {s: {n: np.concatenate(v) for n, v in layers.items()} for s, layers in rho.items()}
    fig = excitation_histograms(pooled, np.asarray(edges), view.colours, "ρ+ per unit, per layer")
    return fig, "ρ+ histograms per layer, every series"


EXCITATION_FIGURES = [
    FigureSpec(
        "excitation",
        "Excitatory weights: ρ+ per unit",
        draw_excitation,
        description="For each hidden unit, the fraction ρ+ of its incoming weights that are positive; "
        "histograms over units per layer, every seed of a series pooled.",
    ),
]
