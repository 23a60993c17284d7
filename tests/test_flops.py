"""Matmul FLOP counts of the zoo rules (mono-forward, dfa, cafo, pepita, random): the formulas in
plugins/rules/flops.py by hand, and each rule's ``training_flops`` against torch's own count of
every matmul its ``fit`` runs. ff, bp-ff and bp are checked the same way in tests/test_bench.py.

torch.utils.flop_counter.FlopCounterMode counts mm/addmm/bmm (forward and backward) as 2*m*k*n,
ignores the bias add of addmm and every elementwise op: the convention of flops.py, so the
analytic count must equal it exactly."""

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from ffbench.bench import synthetic_bundle
from ffbench.contracts import TrainContext
from ffbench.registry import get_registry
from ffbench_plugins.rules.flops import (
    cafo_flops,
    dfa_flops,
    mono_forward_flops,
    pepita_flops,
    random_readout_flops,
)

# dims [4, 3, 2], n = 10, classes = 5; the products on 10 rows: layer 1 mm(10, 4, 3) = 240, layer 2
# mm(10, 3, 2) = 120, width -> classes 300 (width 3) and 200 (width 2), classes -> input mm(10, 5, 4) = 400


def test_mono_forward_by_hand():
    # per layer: forward + weight gradient of W_l; forward + weight + input gradient of M_l
    assert mono_forward_flops([4, 3, 2], 10, epochs=1, classes=5) == 2 * 240 + 3 * 300 + 2 * 120 + 3 * 200 == 2220
    assert mono_forward_flops([4, 3, 2], 10, epochs=3, classes=5) == 3 * 2220


def test_dfa_by_hand():
    # per layer: forward + weight gradient, feedback e B_l; head (reads h_L detached): forward + weight gradient
    assert dfa_flops([4, 3, 2], 10, epochs=1, classes=5) == (480 + 300) + (240 + 200) + 2 * 200 == 1620
    assert dfa_flops([4, 3, 2], 10, epochs=2, classes=5) == 2 * 1620


def test_cafo_by_hand():
    # trained: per epoch block forward + weight gradient, predictor forward + weight + input
    # gradient; block 1's output on the training set once for block 2 (the last block's is not needed)
    assert cafo_flops([4, 3, 2], 10, epochs=1, classes=5) == (480 + 900) + 240 + (240 + 600) == 2460
    assert cafo_flops([4, 3, 2], 10, epochs=2, classes=5) == 2 * 1380 + 240 + 2 * 840 == 4680
    # frozen: each block's output once, then per epoch the predictor's forward + weight gradient
    assert cafo_flops([4, 3, 2], 10, epochs=2, classes=5, frozen=True) == (240 + 2 * 600) + (120 + 2 * 400) == 2360


def test_pepita_by_hand():
    # two forward passes of the hidden stack + the update products (3x), the output layer forward
    # and its update (2x), and the perturbation e F^T
    assert pepita_flops([4, 3, 2], 10, epochs=1, classes=5) == 3 * (240 + 120) + 2 * 200 + 400 == 1880
    assert pepita_flops([4, 3, 2], 10, epochs=4, classes=5) == 4 * 1880


def test_random_by_hand():
    # the frozen stack once, then per epoch the readout's forward + weight gradient
    assert random_readout_flops([4, 3, 2], 10, epochs=3, classes=5) == 240 + 120 + 3 * 2 * 200 == 1560


@pytest.mark.parametrize(
    "rule",
    ["mono-forward", "mono-forward[predict=sum]", "dfa", "cafo", "cafo[frozen=true]", "pepita", "random"],
)
@pytest.mark.parametrize("layers", [1, 3])
def test_training_flops_equal_torchs_count_of_a_real_fit(rule, layers):
    """300 samples of 6x6 (input 36), width 8, 4 classes, batches of 64 (the last one 44 rows):
    every matmul the rule's fit runs, forward and backward, counted by torch."""
    data = synthetic_bundle(300, (1, 6, 6), num_classes=4)
    r = get_registry().build("rule", rule, overrides=dict(width=8, layers=layers, epochs=2, batch_size=64))
    expected = r.training_flops(data, None, None)
    assert isinstance(expected, int) and expected > 0
    with FlopCounterMode(display=False) as counter:
        r.fit(data, None, None, TrainContext(torch.device("cpu"), 0, list(range(4)), 4))
    assert counter.get_total_flops() == expected


def test_counts_scale_with_the_auto_width():
    """training_flops reads the rule's own shape: width None is the auto width (1000 for 28x28)."""
    data = synthetic_bundle(20, (1, 28, 28), num_classes=10)
    r = get_registry().build("rule", "dfa", overrides=dict(layers=2, epochs=1))
    assert r.training_flops(data, None, None) == dfa_flops([784, 1000, 1000], 20, 1, 10)
