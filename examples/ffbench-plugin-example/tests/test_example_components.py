"""The example plugin's components: the ffbench conformance suite, plus hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch
from ffbench_plugin_example.lifetime import LifetimeSparsity, hoyer_over_samples, treves_rolls
from ffbench_plugin_example.symba import SymbaGoodness, symba_loss

from ffbench.contracts import DatasetBundle, DataSplit, Evaluation, TrainedModel
from ffbench.registry import get_registry
from ffbench.testing import conformance_suite

# One test per contract check (shapes, parameter schema, determinism, rows, ...).
TestSymbaConformance = conformance_suite(SymbaGoodness)
TestSymbaMeanSquaresConformance = conformance_suite(SymbaGoodness, params={"score": "meansq", "alpha": 1.0})
TestLifetimeSparsityConformance = conformance_suite(LifetimeSparsity)
TestLifetimeHoyerConformance = conformance_suite(LifetimeSparsity, params={"measure": "hoyer", "samples": "all"})


def test_installed_plugin_registers_both_components():
    registry = get_registry()
    assert registry.get("goodness", "symba").cls is SymbaGoodness
    assert registry.get("metric", "lifetime-sparsity").dist == "ffbench-plugin-example"


# -- SymBa -----------------------------------------------------------------------------------


def test_symba_loss_by_hand():
    # delta = 2.0 - 1.5 = 0.5; alpha * delta = 2; softplus(-2) = log(1 + e^-2)
    assert symba_loss(torch.tensor([2.0]), torch.tensor([1.5]), alpha=4.0).item() == pytest.approx(
        math.log(1 + math.exp(-2.0)), rel=1e-6
    )
    # mean over pairs: delta = 0 gives log 2
    value = symba_loss(torch.tensor([2.0, 1.0]), torch.tensor([1.5, 1.0]), alpha=4.0).item()
    assert value == pytest.approx((math.log(1 + math.exp(-2.0)) + math.log(2.0)) / 2, rel=1e-6)


def test_symba_gradients_are_symmetric():
    g_pos, g_neg = torch.tensor([1.0], requires_grad=True), torch.tensor([3.0], requires_grad=True)
    symba_loss(g_pos, g_neg, alpha=4.0).backward()
    # d/dg_pos = -alpha * sigmoid(-alpha * delta) = -4 * sigmoid(8)
    assert g_pos.grad.item() == pytest.approx(-4.0 / (1 + math.exp(-8.0)), rel=1e-6)
    assert g_neg.grad.item() == pytest.approx(-g_pos.grad.item(), rel=1e-6)


def test_symba_layer_loss_uses_the_chosen_score():
    h_pos, h_neg = torch.tensor([[1.0, 2.0]]), torch.tensor([[1.0, 1.0]])  # sumsq 5 vs 2, meansq 2.5 vs 1
    assert SymbaGoodness().layer_loss(h_pos, h_neg).item() == pytest.approx(math.log(1 + math.exp(-12.0)), rel=1e-5)
    meansq = SymbaGoodness(score="meansq", alpha=2.0)
    assert meansq.layer_loss(h_pos, h_neg).item() == pytest.approx(math.log(1 + math.exp(-3.0)), rel=1e-6)


def test_symba_needs_paired_negatives():
    h = torch.ones(4, 3)
    with pytest.raises(ValueError, match="needs a negative generator"):
        SymbaGoodness().layer_loss(h, None)
    with pytest.raises(ValueError, match="got 4 positives and 3 negatives"):
        SymbaGoodness().layer_loss(h, h[:3])


# -- lifetime sparsity -----------------------------------------------------------------------

#: Responses of 4 units (columns) to 4 samples (rows): one-sample unit, uniform unit, half-active
#: unit, dead unit.
RESPONSES = torch.tensor(
    [
        [1.0, 1.0, 1.0, 0.0],
        [0.0, 1.0, 1.0, 0.0],
        [0.0, 1.0, 0.0, 0.0],
        [0.0, 1.0, 0.0, 0.0],
    ]
)


def test_treves_rolls_by_hand():
    # [1,1,0,0]: mean 0.5, mean square 0.5, a = 0.25 / 0.5 = 0.5, S = 0.5 / (1 - 1/4) = 2/3
    s = treves_rolls(RESPONSES)
    assert s[:3].tolist() == pytest.approx([1.0, 0.0, 2 / 3])
    assert math.isnan(s[3])


def test_hoyer_over_samples_by_hand():
    # [1,1,0,0]: L1 / L2 = 2 / sqrt(2); (sqrt(4) - sqrt(2)) / (sqrt(4) - 1) = 2 - sqrt(2)
    s = hoyer_over_samples(RESPONSES)
    assert s[:3].tolist() == pytest.approx([1.0, 0.0, 2 - math.sqrt(2)])
    assert math.isnan(s[3])


class FixedModel(TrainedModel):
    """A one-layer 'model' whose representation of each test sample is that sample's pixels."""

    num_layers = 1

    def predict(self, x):
        return torch.zeros(len(x), dtype=torch.long)

    def representations(self, x, y):
        return [x.reshape(len(x), -1)]

    def weights(self):
        return [torch.zeros(4, 4)]


def test_metric_rows_by_hand():
    x = RESPONSES.reshape(4, 1, 1, 4)
    split = DataSplit(x, torch.tensor([0, 1, 0, 1]))
    bundle = DatasetBundle("hand", split, split, ["a", "b"], (1, 1, 4), (0.0,), (1.0,), "hash")
    result = LifetimeSparsity(samples="all").compute(Evaluation(FixedModel(), bundle, torch.device("cpu")))
    rows = {r.stat: r for r in result.rows}
    assert rows["lifetime_sparsity"].value == pytest.approx((1.0 + 0.0 + 2 / 3) / 3)
    assert rows["lifetime_sparsity_median"].value == pytest.approx(2 / 3)
    assert rows["dead_units"].value == 1.0
    assert {r.layer for r in result.rows} == {1}
    assert result.artifacts["layer1"][:3].tolist() == pytest.approx([1.0, 0.0, 2 / 3])
    # samples=correct: only samples 0 and 2 (label 0) are predicted right. Units 0 and 2 respond
    # [1, 0] there (S = (1 - 0.5) / (1 - 1/2) = 1), unit 1 [1, 1] (S = 0), unit 3 is dead.
    correct = LifetimeSparsity().compute(Evaluation(FixedModel(), bundle, torch.device("cpu")))
    values = {r.stat: r.value for r in correct.rows}
    assert values["lifetime_sparsity"] == pytest.approx(2 / 3)
    assert values["dead_units"] == 1.0


def test_metric_needs_two_samples():
    x = RESPONSES[:1].reshape(1, 1, 1, 4)
    split = DataSplit(x, torch.tensor([0]))
    bundle = DatasetBundle("hand", split, split, ["a", "b"], (1, 1, 4), (0.0,), (1.0,), "hash")
    with pytest.raises(ValueError, match="needs at least 2 samples, got 1"):
        LifetimeSparsity().compute(Evaluation(FixedModel(), bundle, torch.device("cpu")))
