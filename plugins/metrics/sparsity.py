"""Hoyer sparsity of hidden activity, dead units and live-unit sparsity, per layer and per class
(docs/science.md, "Metrics").

The samples read are the metric's ``samples``: the correctly classified test samples (default) or
all of them. Per layer, over the n units of the layer:

- ``sparsity``: s(x) = (sqrt(n) - ||x||_1 / ||x||_2) / (sqrt(n) - 1) per sample; 1 for a single
  active unit, 0 for all units equally active; the mean over the samples read. All-zero samples
  have no defined sparsity: they are skipped and counted (stat ``zero_samples``).
- ``dead_fraction``: the fraction of the layer's units whose activity is zero on every sample read.
  Per class c: the fraction of units that are zero on every sample of class c read.
- ``hoyer_live``: the same Hoyer sparsity computed over the layer's live units only (live = not dead
  over all samples read of the layer), mean over samples, samples that are zero on every live unit
  (= all-zero samples) skipped. Per class: the mean over that class's samples, with the live units
  still those of the whole layer. NaN (no row for a class) when fewer than 2 units are live.

Why the dead-unit stats: a unit that never fires adds zeros to every sample and so raises Hoyer
sparsity, although it is no part of the code the network uses. A rule that kills units would look
"sparser" without representing anything more sparsely; ``hoyer_live`` removes that effect and
``dead_fraction`` shows its size. For the same reason the metric is descriptive (not ranked):
ranking sparsity as "better" would reward dead units. Headline stats: ``sparsity``, ``hoyer_live``,
``dead_fraction``.

Activity of any sign: Hoyer's measure reads |x| (||x||_1 is a sum of absolute values) and a dead
unit is one that is exactly zero on every sample read, so both are defined for signed activity
(tanh, pre-activations) as for post-ReLU activity; the metric needs no weights and no declared
non-negativity. (On signed activity a "zero" is rarer than after a ReLU, so dead fractions of
signed and rectified models are not comparable; the rows say what the model computes.)

Report figures (sparsity_figures.py): Hoyer sparsity per layer, and test accuracy (metric
`accuracy`) against each layer's Hoyer sparsity.
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


def dead_units(h: torch.Tensor) -> torch.Tensor:
    """Which units (columns of h [N, n]) are zero on every row, [n] bool (all True for N == 0)."""
    return (h == 0).all(dim=0)


class HoyerSparsity(Metric):
    name = "sparsity"
    version = "2"
    description = (
        "Hoyer sparsity of post-ReLU hidden activity, dead-unit fraction and Hoyer sparsity "
        "of the live units, per layer and per class"
    )
    higher_is_better = None
    headline = ("sparsity", "hoyer_live", "dead_fraction")
    stat_help = {
        "sparsity": "Hoyer sparsity of a layer's activity, 0 all units equal .. 1 one unit active; higher = sparser",
        "hoyer_live": "Hoyer sparsity over the layer's live units only (dead units left out), 0 .. 1",
        "dead_fraction": "share of the layer's units that are zero on every sample read, 0 .. 1",
    }
    params = (
        Param("samples", str, "correct", "test samples read: correctly classified, or all", choices=("correct", "all")),
    )

    def compute(self, ev: Evaluation) -> MetricResult:
        keep = ev.sample_mask(self.values["samples"])
        y = ev.y[keep]
        rows: list[MetricRow] = []
        for layer, h in enumerate(ev.representations, start=1):
            h = h[keep].double()
            s = hoyer(h)
            valid = ~torch.isnan(s)
            rows.append(MetricRow("sparsity", _mean(s[valid]), layer=layer))
            rows.append(MetricRow("zero_samples", float((~valid).sum()), layer=layer))
            dead = dead_units(h)
            has_samples = h.shape[0] > 0
            rows.append(
                MetricRow("dead_fraction", float(dead.double().mean()) if has_samples else float("nan"), layer=layer)
            )
            live = ~dead
            if int(live.sum()) >= 2:
                s_live = hoyer(h[:, live])
            else:  # Hoyer sparsity over fewer than 2 units is undefined
                s_live = torch.full((h.shape[0],), float("nan"), dtype=torch.float64)
            valid_live = ~torch.isnan(s_live)
            rows.append(MetricRow("hoyer_live", _mean(s_live[valid_live]), layer=layer))
            for c, name in enumerate(ev.classes):
                of_c = y == c
                if not of_c.any():
                    continue
                sel = valid & of_c
                if sel.any():
                    rows.append(MetricRow("sparsity", _mean(s[sel]), layer=layer, cls=name))
                rows.append(
                    MetricRow("dead_fraction", float(dead_units(h[of_c]).double().mean()), layer=layer, cls=name)
                )
                sel = valid_live & of_c
                if sel.any():
                    rows.append(MetricRow("hoyer_live", _mean(s_live[sel]), layer=layer, cls=name))
        return MetricResult(rows)

    @classmethod
    def figures(cls):
        from ffbench_plugins.metrics.sparsity_figures import FIGURES

        return FIGURES


def _mean(values: torch.Tensor) -> float:
    return float(values.mean()) if values.numel() else float("nan")


@ffbench.hookimpl
def ffbench_register_metrics(register):
    register(HoyerSparsity)
