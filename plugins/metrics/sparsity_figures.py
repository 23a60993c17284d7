"""The figures of the `sparsity` metric, as it declares them to `ffbench report` (``Metric.figures``):

- ``sparsity-by-layer``: Hoyer sparsity per layer, one bar per series (mean over seeds, error bar:
  std over seeds), every seed as a dot where the source keeps per-seed rows;
- ``accuracy-vs-sparsity``: test accuracy (the `accuracy` metric's headline stat) against each
  layer's Hoyer sparsity, one panel per layer: a dot per run point from a results file, a dot per
  series with std error bars from a leaderboard. Not drawn (with the reason) where `accuracy` was
  not run.

Both read only rows (stat ``sparsity`` per layer, over all classes), so a leaderboard draws them
too. Imported only when a report is built (matplotlib).
"""

from __future__ import annotations

import pandas as pd

from ffbench.report.figure_api import ComparisonView, FigureSpec, NotDrawn
from ffbench.report.figures import layer_bars, layer_scatter

STAT = "sparsity"  # the stat of this metric both figures read
ACCURACY = ("accuracy", "accuracy")  # (metric, stat): test accuracy over all classes, whole model
HOYER_LABEL = "Hoyer sparsity (1 = one active unit)"


def sparsity_summary(view: ComparisonView) -> pd.DataFrame:
    summary = view.summary(STAT)
    if summary.empty:
        raise NotDrawn(f"the '{view.metric}' rows have no per-layer '{STAT}' stat.")
    return summary


def draw_sparsity_by_layer(view: ComparisonView):
    fig = layer_bars(sparsity_summary(view), view.colours, "Hoyer sparsity per layer", HOYER_LABEL, view.points(STAT))
    return fig, "Hoyer sparsity per layer, every series"


def accuracy_sparsity_points(view: ComparisonView) -> pd.DataFrame:
    """series, layer, x (sparsity), y (accuracy): per run point from a results file; per series,
    with x_std and y_std (std over seeds), from a leaderboard. :class:`NotDrawn` without accuracy."""
    metric, stat = ACCURACY
    summary = sparsity_summary(view)
    missing = NotDrawn(
        f"needs the test accuracy of metric '{metric}', which was not run; add it with --metric {metric}."
    )
    per_run = view.model_points(stat, metric=metric)
    if per_run is not None:  # a results file: pair each run point's accuracy with its sparsity
        if per_run.empty:
            raise missing
        sparsity = view.points(STAT)
        points = sparsity[["series", "run_id", "layer", "value"]].rename(columns={"value": "x"})
        points = points.merge(per_run.rename(columns={"value": "y"}), on=["series", "run_id"])
    else:  # a leaderboard: one point per series, mean and std over seeds
        accuracy = view.model_summary(stat, metric=metric)
        if accuracy.empty:
            raise missing
        points = summary.rename(columns={"mean": "x", "std": "x_std"})[["series", "layer", "x", "x_std"]].merge(
            accuracy.rename(columns={"mean": "y", "std": "y_std"})[["series", "y", "y_std"]], on="series"
        )
    points = points.dropna(subset=["x", "y"])
    if points.empty:
        raise NotDrawn("no run point has both an accuracy and a sparsity value.")
    return points


def draw_accuracy_vs_sparsity(view: ComparisonView):
    points = accuracy_sparsity_points(view)
    fig = layer_scatter(points, view.colours, "Accuracy vs Hoyer sparsity", "Hoyer sparsity", "test accuracy")
    return fig, "Accuracy vs sparsity per layer"


FIGURES = [
    FigureSpec(
        "sparsity-by-layer",
        "Hoyer sparsity per layer",
        draw_sparsity_by_layer,
        description="Mean Hoyer sparsity of post-ReLU activity over test samples, per layer and "
        "series; bars: mean over seeds, error bars: std over seeds, dots: single seeds.",
        stats=(STAT,),
    ),
    FigureSpec(
        "accuracy-vs-sparsity",
        "Accuracy vs sparsity",
        draw_accuracy_vs_sparsity,
        description="Test accuracy against Hoyer sparsity of each layer, across all run points.",
    ),
]
