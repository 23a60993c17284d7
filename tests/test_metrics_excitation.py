"""excitation (rho+) on hand-made weight matrices, and Sarle's bimodality coefficient."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ffbench.contracts import DatasetBundle, DataSplit, Evaluation, TrainedModel
from ffbench_plugins.metrics.excitation import BC_UNIFORM, Excitation, bimodality_coefficient, rho_plus


class WeightsOnly(TrainedModel):
    def __init__(self, weights: list[torch.Tensor]):
        self._weights = weights

    @property
    def num_layers(self) -> int:
        return len(self._weights)

    def predict(self, x):
        raise AssertionError("excitation reads weights only")

    def representations(self, x, y):
        raise AssertionError("excitation reads weights only")

    def weights(self):
        return self._weights


def evaluation(weights: list[torch.Tensor]) -> Evaluation:
    split = DataSplit(torch.zeros(1, 1, 1, 1), torch.zeros(1, dtype=torch.long))
    bundle = DatasetBundle("none", split, split, ["a", "b"], (1, 1, 1), (0.0,), (1.0,), "0" * 16)
    return Evaluation(WeightsOnly(weights), bundle, torch.device("cpu"))


# rho+ = [2/4 (the zero weight is not positive), 3/4, 0]
W_HAND = torch.tensor([[1.0, -1, 0, 2], [3, 4, 5, -6], [-1, -2, -3, -4]])


def two_point_weights() -> torch.Tensor:
    """100 units with 10 inputs: 50 with 1 positive weight (rho+ 0.1), 50 with 9 (rho+ 0.9)."""
    w = -torch.ones(100, 10)
    w[:50, 0] = 1.0
    w[50:, :9] = 1.0
    return w


def test_rho_plus_hand_made():
    assert rho_plus(W_HAND).tolist() == [0.5, 0.75, 0.0]


def test_bimodality_two_point_exact():
    # 50 zeros and 50 ones: skewness 0, excess kurtosis g2 = -2, n = 100:
    # G2 = 99/(98*97) * (101*(-2) + 6) = -19404/9506; 3*99^2/(98*97) = 29403/9506; BC = 9506/9999
    x = np.r_[np.zeros(50), np.ones(50)]
    assert bimodality_coefficient(x) == pytest.approx(9506 / 9999, rel=1e-12)
    assert bimodality_coefficient(0.1 + 0.8 * x) == pytest.approx(9506 / 9999, rel=1e-12)  # scale-free


def test_bimodality_uniform_and_normal_are_below_threshold():
    bc_uniform = bimodality_coefficient(np.linspace(0, 1, 101))
    assert 0.52 < bc_uniform < BC_UNIFORM  # tends to 5/9 from below as n grows
    assert bimodality_coefficient(np.linspace(0, 1, 10_001)) == pytest.approx(5 / 9, abs=1e-3)
    normal = np.random.default_rng(0).normal(size=5000)
    assert bimodality_coefficient(normal) == pytest.approx(1 / 3, abs=0.03)  # BC of a normal: 1/3


def test_bimodality_matches_bias_corrected_moments():
    stats = pytest.importorskip("scipy.stats")
    x = np.random.default_rng(1).random(30) ** 3
    g, k, n = stats.skew(x, bias=False), stats.kurtosis(x, bias=False), 30
    assert bimodality_coefficient(x) == pytest.approx((g**2 + 1) / (k + 3 * (n - 1) ** 2 / ((n - 2) * (n - 3))))


def test_bimodality_undefined_cases():
    assert math.isnan(bimodality_coefficient(np.array([0.1, 0.5, 0.9])))  # n < 4
    assert math.isnan(bimodality_coefficient(np.full(10, 0.5)))  # zero variance


def test_excitation_metric_rows_and_artifacts():
    result = Excitation(bins=4).compute(evaluation([W_HAND, two_point_weights()]))
    r = {(row.stat, row.layer): row.value for row in result.rows}
    assert all(row.cls is None for row in result.rows)
    # layer 1: rho+ [0.5, 0.75, 0]: mean 5/12, population variance (1 + 16 + 25)/144/3 = 7/72
    assert r[("mean", 1)] == pytest.approx(5 / 12) and r[("std", 1)] == pytest.approx(math.sqrt(7 / 72))
    assert r[("frac_excitatory", 1)] == pytest.approx(1 / 3)  # strictly > 0.5: only 0.75
    assert ("bimodality", 1) not in r and ("bimodal", 1) not in r  # 3 units: undefined
    # layer 2: rho+ 0.1 x50, 0.9 x50
    assert r[("mean", 2)] == pytest.approx(0.5) and r[("std", 2)] == pytest.approx(0.4)
    assert r[("frac_excitatory", 2)] == 0.5
    assert r[("bimodality", 2)] == pytest.approx(9506 / 9999) and r[("bimodal", 2)] == 1.0
    a = result.artifacts
    assert a["bin_edges"].tolist() == [0, 0.25, 0.5, 0.75, 1.0]
    assert a["hist_L1"].tolist() == [1, 0, 1, 1]  # 0 | - | 0.5 | 0.75 (last bin closed)
    assert a["hist_L2"].tolist() == [50, 0, 0, 50]
    assert a["rho_plus_L1"].dtype == np.float32 and a["rho_plus_L1"].tolist() == [0.5, 0.75, 0.0]


def test_excitation_unimodal_layer_is_not_bimodal():
    # 101 units with 0..100 positive weights out of 100: rho+ evenly spread over [0, 1]
    w = -torch.ones(101, 100)
    for i in range(101):
        w[i, :i] = 1.0
    r = {(row.stat, row.layer): row.value for row in Excitation().compute(evaluation([w])).rows}
    assert r[("mean", 1)] == pytest.approx(0.5) and r[("bimodal", 1)] == 0.0
    assert r[("bimodality", 1)] == pytest.approx(bimodality_coefficient(np.linspace(0, 1, 101)))


def test_skip_inputs_leaves_out_the_label_pixels_of_layer_one():
    from ffbench_plugins.metrics.excitation import image_inputs, rho_plus

    idx = image_inputs((2, 2, 3), 2)  # 2 channels of 6 values: drop 0,1 and 6,7
    assert idx.tolist() == [2, 3, 4, 5, 8, 9, 10, 11]
    w = torch.tensor([[1.0, 1.0, -1.0, -1.0, -1.0, 1.0, 1.0, 1.0, -1.0, -1.0, 1.0, 1.0]])
    assert float(rho_plus(w)) == 7 / 12
    assert float(rho_plus(w[:, idx])) == 3 / 8
