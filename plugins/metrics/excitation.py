"""Excitation rho+ (Tosato et al.; docs/science.md, "Metrics"): per unit, the fraction of its incoming
weights that are positive (strictly: a zero weight is not excitatory). All incoming weights count,
the label-pixel inputs of layer 1 included; biases do not.

Per layer: ``mean`` and ``std`` (population, ddof = 0) of rho+ over units, ``frac_excitatory``
(share of units with rho+ > 0.5), and whether the distribution is bimodal by Sarle's bimodality
coefficient with the finite-sample correction (SAS's definition),

    BC = (G1^2 + 1) / (G2 + 3 (n-1)^2 / ((n-2)(n-3)))

with G1, G2 the bias-corrected sample skewness and excess kurtosis over the n units. BC > 5/9 (the
value of a uniform distribution) suggests bimodality: ``bimodal`` = 1.0, else 0.0. BC needs n >= 4
units and rho+ values that are not all equal; otherwise no ``bimodality``/``bimodal`` rows.

``skip_inputs=10`` leaves layer 1's label pixels out (the first 10 values of every channel's
top row, where FF and BP/FF embed the label): rho+ of the image weights alone.

The metric needs one 2-D incoming weight matrix per layer (``TrainedModel.weights``, row i = the
weights into unit i). A model without them (``has_weight_matrices`` False, e.g. the ``conv-ff``
rule, whose units share a kernel per channel) gets a failed metric row saying so: rho+ per
convolution kernel would be a distribution over channels with a fan-in of C*k*k, not the paper's
distribution over units with the whole image as fan-in, and is not reported under this name.
"""

from __future__ import annotations

import numpy as np
import torch

import ffbench
from ffbench.component import Param
from ffbench.contracts import Evaluation, Metric, MetricResult, MetricRow

#: BC of a uniform distribution; larger values suggest bimodality (Pfister et al. 2013)
BC_UNIFORM = 5 / 9


def rho_plus(weight: torch.Tensor) -> torch.Tensor:
    """Fraction of positive incoming weights per unit, [D_out], of a weight matrix [D_out, D_in]."""
    return (weight > 0).double().mean(dim=1)


def image_inputs(shape: tuple[int, int, int], skip: int) -> torch.Tensor:
    """Indices of the flattened inputs [C*H*W] without the first ``skip`` of every channel."""
    c, h, w = shape
    keep = torch.ones(c * h * w, dtype=torch.bool)
    for ch in range(c):
        keep[ch * h * w : ch * h * w + skip] = False
    return torch.nonzero(keep).flatten()


def bimodality_coefficient(x: np.ndarray) -> float:
    """Sarle's bimodality coefficient of a sample with the finite-sample correction (NaN for fewer
    than 4 values or zero variance)."""
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    if n < 4:
        return float("nan")
    d = x - x.mean()
    m2, m3, m4 = (d**2).mean(), (d**3).mean(), (d**4).mean()
    if m2 <= 0:
        return float("nan")
    g1, g2 = m3 / m2**1.5, m4 / m2**2 - 3.0
    skew = np.sqrt(n * (n - 1)) / (n - 2) * g1
    kurt = (n - 1) / ((n - 2) * (n - 3)) * ((n + 1) * g2 + 6)
    return float((skew**2 + 1) / (kurt + 3 * (n - 1) ** 2 / ((n - 2) * (n - 3))))


class Excitation(Metric):
    name = "excitation"
    version = "1"
    description = "rho+: fraction of positive incoming weights per unit; distribution per layer, bimodality"
    higher_is_better = None
    headline = ("mean",)
    stat_help = {
        "mean": "mean share of positive incoming weights per unit (rho+), 0 .. 1; 0.5 = balanced",
    }
    params = (
        Param("bins", int, 20, "histogram bins over [0, 1]", min=1),
        Param(
            "skip_inputs",
            int,
            0,
            "leave out layer 1's first K inputs of every image channel (K = 10: "
            "the label pixels FF and BP/FF embed the label in), so rho+ reads image weights only",
            min=0,
        ),
    )

    @classmethod
    def figures(cls):
        from ffbench_plugins.metrics.excitation_figures import EXCITATION_FIGURES

        return EXCITATION_FIGURES

    def compute(self, ev: Evaluation) -> MetricResult:
        rows: list[MetricRow] = []
        edges = np.linspace(0.0, 1.0, self.values["bins"] + 1)
        artifacts: dict = {"bin_edges": edges}
        for layer, w in enumerate(ev.model.require_weight_matrices(self.name), start=1):
            w = w.detach().cpu()
            if layer == 1 and self.values["skip_inputs"]:
                w = w[:, image_inputs(ev.data.shape, self.values["skip_inputs"])]
            rho = rho_plus(w).numpy()
            rows += [
                MetricRow("mean", float(rho.mean()), layer=layer),
                MetricRow("std", float(rho.std()), layer=layer),
                MetricRow("frac_excitatory", float((rho > 0.5).mean()), layer=layer),
            ]
            bc = bimodality_coefficient(rho)
            if not np.isnan(bc):
                rows += [
                    MetricRow("bimodality", bc, layer=layer),
                    MetricRow("bimodal", float(bc > BC_UNIFORM), layer=layer),
                ]
            artifacts[f"rho_plus_L{layer}"] = rho.astype(np.float32)
            artifacts[f"hist_L{layer}"] = np.histogram(rho, bins=edges)[0]
        return MetricResult(rows, artifacts)


@ffbench.hookimpl
def ffbench_register_metrics(register):
    register(Excitation)
