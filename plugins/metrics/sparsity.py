"""Hoyer sparsity of hidden activity, per layer and per class (SCIENCE.md, "Metrics").

s(x) = (sqrt(n) - ||x||_1 / ||x||_2) / (sqrt(n) - 1) per sample over the n units of a layer; 1 for
a single active unit, 0 for all units equally active. All-zero samples have no defined sparsity:
they are skipped and counted (stat ``zero_samples``). The headline stat is ``sparsity``.
"""

from __future__ import annotations

import math

import torch

import ffbench
from ffbench.component import Param
from ffbench.contracts import Evaluation, Metric, MetricResult, MetricRow


def hoyer(h: torch.Tensor) -> torch.Tensor:
    """Hoyer sparsity of each row of h [N, n] (NaN for all-zero rows)."""
    n = h.shape[-1]
    if n < 2:
        raise ValueError("Hoyer sparsity needs at least 2 units")
    l1 = h.abs().sum(dim=-1)
    l2 = torch.linalg.vector_norm(h, dim=-1)
    ratio = torch.where(l2 > 0, l1 / l2, torch.full_like(l1, float("nan")))
    return (math.sqrt(n) - ratio) / (math.sqrt(n) - 1)


class HoyerSparsity(Metric):
    name = "sparsity"
    version = "1"
    description = "Hoyer sparsity of post-ReLU hidden activity, per layer and per class"
    higher_is_better = True
    params = (Param("samples", str, "correct", "test samples read: correctly classified, or all",
                    choices=("correct", "all")),)

    def compute(self, ev: Evaluation) -> MetricResult:
        keep = ev.sample_mask(self.values["samples"])
        y = ev.y[keep]
        rows: list[MetricRow] = []
        for layer, h in enumerate(ev.representations, start=1):
            s = hoyer(h[keep].double())
            valid = ~torch.isnan(s)
            rows.append(MetricRow("sparsity", _mean(s[valid]), layer=layer))
            rows.append(MetricRow("zero_samples", float((~valid).sum()), layer=layer))
            for c, name in enumerate(ev.classes):
                sel = valid & (y == c)
                if sel.any():
                    rows.append(MetricRow("sparsity", _mean(s[sel]), layer=layer, cls=name))
        return MetricResult(rows)


def _mean(values: torch.Tensor) -> float:
    return float(values.mean()) if values.numel() else float("nan")


@ffbench.hookimpl
def ffbench_register_metrics(register):
    register(HoyerSparsity)
