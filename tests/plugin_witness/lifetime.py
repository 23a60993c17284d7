"""Lifetime sparsity: how selectively each hidden unit responds across test samples.

Population sparsity (ffbench's built-in ``sparsity``) asks how few units one sample activates;
lifetime sparsity asks, per unit, how few samples activate it (Willmore & Tolhurst 2001). For the
responses r_1..r_N of one unit to N samples:

- ``treves-rolls`` (Vinje & Gallant 2000): a = (mean r)^2 / mean(r^2), S = (1 - a) / (1 - 1/N)
- ``hoyer``: S = (sqrt(N) - ||r||_1 / ||r||_2) / (sqrt(N) - 1)

Both are 0 for a unit equally active on every sample and 1 for a unit active on exactly one.
A unit silent on every sample (dead) has no defined lifetime sparsity: it is left out of the mean
and counted (stat ``dead_units``). Rows per layer: ``lifetime_sparsity`` (mean over live units),
``lifetime_sparsity_median`` and ``dead_units``; the per-unit values are saved as artifacts
(``layer<l>``, NaN for dead units).
"""

from __future__ import annotations

import math

import torch

import ffbench
from ffbench.component import Param
from ffbench.contracts import Evaluation, Metric, MetricResult, MetricRow


def treves_rolls(r: torch.Tensor) -> torch.Tensor:
    """Lifetime sparsity of each column of r [N, units] (NaN for all-zero columns)."""
    n = r.shape[0]
    mean_sq = r.pow(2).mean(dim=0)
    a = torch.where(mean_sq > 0, r.mean(dim=0).pow(2) / mean_sq, torch.full_like(mean_sq, float("nan")))
    return (1 - a) / (1 - 1 / n)


def hoyer_over_samples(r: torch.Tensor) -> torch.Tensor:
    """Hoyer sparsity of each column of r [N, units] over its N samples (NaN for all-zero columns)."""
    n = r.shape[0]
    l1, l2 = r.abs().sum(dim=0), torch.linalg.vector_norm(r, dim=0)
    ratio = torch.where(l2 > 0, l1 / l2, torch.full_like(l1, float("nan")))
    return (math.sqrt(n) - ratio) / (math.sqrt(n) - 1)


MEASURES = {"treves-rolls": treves_rolls, "hoyer": hoyer_over_samples}


class LifetimeSparsity(Metric):
    name = "lifetime-sparsity"
    version = "1"
    description = "per-unit selectivity across test samples (Treves-Rolls or Hoyer), mean over live units, per layer"
    #: Descriptive: FF's category-specific ensembles raise it, but more is not better in itself.
    higher_is_better = None
    headline = ("lifetime_sparsity",)
    params = (
        Param("measure", str, "treves-rolls", "lifetime sparsity measure", choices=tuple(MEASURES)),
        Param("samples", str, "correct", "test samples read: correctly classified, or all", choices=("correct", "all")),
    )

    def compute(self, ev: Evaluation) -> MetricResult:
        keep = ev.sample_mask(self.values["samples"])
        if int(keep.sum()) < 2:
            raise ValueError(
                f"lifetime sparsity needs at least 2 samples, got {int(keep.sum())} "
                f"({self.values['samples']} test samples)"
            )
        measure = MEASURES[self.values["measure"]]
        rows: list[MetricRow] = []
        artifacts: dict[str, torch.Tensor] = {}
        for layer, h in enumerate(ev.representations, start=1):
            s = measure(h[keep].double())
            live = s[~torch.isnan(s)]
            mean = float(live.mean()) if live.numel() else float("nan")
            median = float(live.median()) if live.numel() else float("nan")
            rows.append(MetricRow("lifetime_sparsity", mean, layer=layer))
            rows.append(MetricRow("lifetime_sparsity_median", median, layer=layer))
            rows.append(MetricRow("dead_units", float(s.numel() - live.numel()), layer=layer))
            artifacts[f"layer{layer}"] = s.float()
        return MetricResult(rows, artifacts)


@ffbench.hookimpl
def ffbench_register_metrics(register):
    register(LifetimeSparsity)
