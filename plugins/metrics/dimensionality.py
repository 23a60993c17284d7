"""Effective dimensionality of hidden activity (docs/science.md, "Metrics", going further): the
participation ratio of the centred covariance's eigenvalues, per layer and per class.

For the samples read (``samples``: the correctly classified test samples, default, or all of them;
representations as every metric reads them, FF and BP/FF with the true label embedded), per layer
with activity H [n, D] and centred covariance C = (H - mean)^T (H - mean) / (n - 1), eigenvalues
lambda_1..lambda_D:

    participation_ratio  PR = (sum_i lambda_i)^2 / sum_i lambda_i^2 = tr(C)^2 / ||C||_F^2

PR is 1 when all variance lies along one direction and k when it is spread evenly over k orthogonal
directions; it needs no eigendecomposition (the trace and the Frobenius norm suffice; the norm is
taken from the smaller Gram matrix, n x n or D x D, since ||X^T X||_F = ||X X^T||_F), and it does
not depend on the 1/(n - 1) scale. ``normalised`` = PR / live units, with live units those not zero
on every sample read (dead units add no variance), in (0, 1]: 1 when the variance is spread evenly
over every live unit. ``live_units`` reports the count.

Per class c: the same numbers over the class-c samples read (the covariance around the class mean:
the dimensionality *within* a class), normalised by the units live on those samples. The layer row
(class None) is over all samples read together, so it includes the spread between classes.

Undefined (NaN; no per-class row): fewer than 2 samples, or no variance at all (tr C = 0).
Descriptive (not ranked): a higher dimensionality is neither better nor worse in itself. Headline
stats: ``participation_ratio``, ``normalised``.

Cost: per layer and sample set one Gram matrix of the live units in float64, min(n, D)^2 * max(n, D)
multiply-adds (10 000 x 1 000: about 10^10, seconds on one CPU core).
"""

from __future__ import annotations

import torch

import ffbench
from ffbench.component import Param
from ffbench.contracts import Evaluation, Metric, MetricResult, MetricRow
from ffbench_plugins.metrics.sparsity import dead_units


def participation_ratio(h: torch.Tensor) -> float:
    """(tr C)^2 / ||C||_F^2 of the centred covariance of h [n, D] (NaN for n < 2 or no variance)."""
    if h.shape[0] < 2:
        return float("nan")
    x = h.double()
    x = x - x.mean(dim=0, keepdim=True)
    gram = x @ x.T if x.shape[0] <= x.shape[1] else x.T @ x
    trace = float(x.square().sum())
    frob2 = float(gram.square().sum())
    if trace <= 0 or frob2 <= 0:
        return float("nan")
    return trace * trace / frob2


def dimensionality_rows(h: torch.Tensor, layer: int, cls: str | None = None) -> list[MetricRow]:
    """participation_ratio, normalised (and for the layer row, live_units) of activity h [n, D]."""
    live = ~dead_units(h) if h.shape[0] else torch.zeros(h.shape[1], dtype=torch.bool)
    n_live = int(live.sum())
    pr = participation_ratio(h[:, live])
    rows = [
        MetricRow("participation_ratio", pr, layer=layer, cls=cls),
        MetricRow("normalised", pr / n_live if n_live else float("nan"), layer=layer, cls=cls),
    ]
    if cls is None:
        rows.append(MetricRow("live_units", float(n_live), layer=layer))
    return rows


class Dimensionality(Metric):
    name = "dimensionality"
    version = "1"
    description = (
        "effective dimensionality (participation ratio of the centred covariance's eigenvalues) "
        "of hidden activity, and per live unit, per layer and per class"
    )
    higher_is_better = None
    headline = ("participation_ratio", "normalised")
    stat_help = {
        "participation_ratio": "effective number of dimensions of the layer's activity, 1 .. live units",
        "normalised": "participation ratio / live units, 0 .. 1; 1 = variance spread evenly over them",
    }
    params = (
        Param("samples", str, "correct", "test samples read: correctly classified, or all", choices=("correct", "all")),
    )

    def compute(self, ev: Evaluation) -> MetricResult:
        keep = ev.sample_mask(self.values["samples"])
        y = ev.y[keep]
        rows: list[MetricRow] = []
        for layer, h in enumerate(ev.representations, start=1):
            h = h[keep]
            rows += dimensionality_rows(h, layer)
            for c, name in enumerate(ev.classes):
                of_c = y == c
                if int(of_c.sum()) < 2:
                    continue
                class_rows = dimensionality_rows(h[of_c], layer, name)
                rows += [r for r in class_rows if r.value == r.value]  # undefined: no per-class row
        return MetricResult(rows)


@ffbench.hookimpl
def ffbench_register_metrics(register):
    register(Dimensionality)
