"""Pinned per-seed numbers of every built-in rule: a change in a rule's numbers without a version
bump fails here.

Each case trains one rule (with its quick preset, where a case spells out a parameter the preset
has since changed, that value; shrunk to 2 layers of 32 units, 3 epochs,
batches of 50) on the 300 / 100 embedded Fashion-MNIST images of ``ffbench.testing.tiny_bundle``
with seed 0 on the CPU, and compares five numbers with the table ``PINS``, which records the
versions of the components the case trains:

- ``acc``: test accuracy on the 100 test images;
- ``w1_sum``, ``w1_abs_sum``: the sums of the first layer's weights and of their absolute values
  (sensitive to any change of the initialisation or of the updates);
- ``state_abs_sum``: the sum of |v| over every tensor of the trained model's ``state_dict``
  (all layers, fixed random matrices, the dimcompress energy readout);
- ``act_sum``: the sum of the last hidden layer's activity on the test images (true labels
  embedded where the rule embeds them): it reads every layer.

Tolerances. Float32 results depend on the order of the reductions inside matmuls, which changes
with the number of BLAS/OpenMP threads and with the CPU's vector width; through a few dozen
optimiser steps such differences stay near 1e-7 relative (measured between 1, 2 and 4 threads on
the development machine: at most 2.3e-7, pepita's test activity, plain SGD). Hence a relative
tolerance ``RTOL`` = 1e-5 (40x the largest measured difference) on the sums of non-negative
terms (``w1_abs_sum``, ``state_abs_sum``, ``act_sum``), and on ``w1_sum`` relative to
the sum of |w| of that layer (the signed sum cancels: 447 in |w| for a sum of ~3, so a tolerance
relative to the sum itself would be ~100x tighter than the floats can promise). The accuracy may
differ by one test image (0.01): a sample whose two best labels tie to 1e-7 can flip. Real
changes (another initialisation, batch order, loss or update) move these numbers by 1e-3 or more.

To update a pin after checking that a change of numbers is intended (and bumping the version):
``python tests/test_pinned_numbers.py`` prints the table for the current code.
"""

from __future__ import annotations

import math

import pytest
import torch

from ffbench.contracts import TrainContext
from ffbench.registry import get_registry
from ffbench.testing import tiny_bundle

RTOL = 1e-5
ACC_TOL = 0.01 + 1e-9
SIZE = {"layers": 2, "width": 32, "epochs": 3, "batch_size": 50}

#: case -> (rule spec, goodness spec, negatives spec)
CASES: dict[str, tuple[str, str | None, str | None]] = {
    "ff": ("ff", "l2", "wrong-label"),
    # lr spelled out: the quick preset's lr moved to 1.5e-4 (stop 22), a configuration change, not a
    # change of the rule's numbers; the pin is of lr 1e-4
    "bp-ff": ("bp-ff[lr=0.0001]", "l2", "wrong-label"),
    "bp": ("bp", None, None),
    "mono-forward": ("mono-forward", None, None),
    "dfa": ("dfa", None, None),
    "cafo": ("cafo", None, None),
    "pepita": ("pepita", None, None),
    "random": ("random", None, None),
    "ff+dimcompress": ("ff", "dimcompress[copies=4,readout_epochs=2]", "none"),
    "conv-ff": ("conv-ff", "l2", "wrong-label"),
}

#: case -> ({component name: version}, numbers); written by ``python tests/test_pinned_numbers.py``
PINS: dict[str, tuple[dict[str, str], dict[str, float]]] = {
    "ff": (
        {"ff": "2", "l2": "1", "wrong-label": "1"},
        {
            "acc": 0.17000000178813934,
            "w1_sum": -141.00965555209405,
            "w1_abs_sum": 893.5964692841881,
            "state_abs_sum": 1027.878336374015,
            "act_sum": 1862.3378235697746,
        },
    ),
    "bp-ff": (
        {"bp-ff": "2", "l2": "1", "wrong-label": "1"},
        {
            "acc": 0.18000000715255737,
            "w1_sum": 3.7593152481385914,
            "w1_abs_sum": 447.9590354747015,
            "state_abs_sum": 540.36234516482,
            "act_sum": 246.61855749879032,
        },
    ),
    "bp": (
        {"bp": "2"},
        {
            "acc": 0.2199999988079071,
            "w1_sum": 3.7146316289381502,
            "w1_abs_sum": 447.21446741317595,
            "state_abs_sum": 567.3794312939226,
            "act_sum": 402.02484757406637,
        },
    ),
    "mono-forward": (
        {"mono-forward": "1"},
        {
            "acc": 0.17000000178813934,
            "w1_sum": -8.655331460768139,
            "w1_abs_sum": 470.4953677809917,
            "state_abs_sum": 618.4571019395826,
            "act_sum": 1513.5652679186314,
        },
    ),
    "dfa": (
        {"dfa": "1"},
        {
            "acc": 0.25999999046325684,
            "w1_sum": -27.96795883361483,
            "w1_abs_sum": 489.5210190331418,
            "state_abs_sum": 711.1775108011134,
            "act_sum": 2789.6918029580265,
        },
    ),
    "cafo": (
        {"cafo": "1"},
        {
            "acc": 0.6600000262260437,
            "w1_sum": -21.19725385908714,
            "w1_abs_sum": 472.3474186862095,
            "state_abs_sum": 622.2953073183544,
            "act_sum": 1694.016041061841,
        },
    ),
    "pepita": (
        {"pepita": "1"},
        {
            "acc": 0.25,
            "w1_sum": 7.693153343968106,
            "w1_abs_sum": 1094.8587694150294,
            "state_abs_sum": 1396.0220803432226,
            "act_sum": 1837.913348383212,
        },
    ),
    "random": (
        {"random": "1"},
        {
            "acc": 0.3700000047683716,
            "w1_sum": 3.140594317316072,
            "w1_abs_sum": 446.97574388557155,
            "state_abs_sum": 576.4633613994931,
            "act_sum": 340.9163901200518,
        },
    ),
    "ff+dimcompress": (
        {"ff": "2", "dimcompress": "2", "none": "1"},
        {
            "acc": 0.23999999463558197,
            "w1_sum": 66.95141511272232,
            "w1_abs_sum": 1229.9311456381256,
            "state_abs_sum": 1395.9211905417178,
            "act_sum": 96.62789410445839,
        },
    ),
    "conv-ff": (
        {"conv-ff": "1", "l2": "1", "wrong-label": "1"},
        {
            "acc": 0.10000000149011612,
            "w1_sum": 26.447753692937113,
            "w1_abs_sum": 136.69754664077118,
            "state_abs_sum": 304.01341631523064,
            "act_sum": 4481.188609965146,
        },
    ),
}


def train(case: str) -> tuple[dict[str, str], dict[str, float]]:
    """(versions of the case's components, its numbers) for the current code."""
    rule_spec, goodness_spec, negatives_spec = CASES[case]
    registry = get_registry()
    cls = registry.get("rule", rule_spec.split("[")[0]).cls
    rule = registry.build(
        "rule", rule_spec, preset="quick", overrides={k: v for k, v in SIZE.items() if k in cls.param_map()}
    )
    goodness = registry.build("goodness", goodness_spec) if goodness_spec else None
    negatives = registry.build("negatives", negatives_spec) if negatives_spec else None
    components = [c for c in (rule, goodness, negatives) if c is not None]
    versions = {c.name: str(c.version) for c in components}
    data = tiny_bundle()
    model = rule.fit(data, goodness, negatives, TrainContext(torch.device("cpu"), 0, list(range(10)), 10))
    # the first layer's weight matrix, or (a model without 2-D weights: conv-ff) its first parameter
    w1 = (
        model.weights()[0]
        if model.has_weight_matrices
        else next(v for v in model.state_dict().values() if v.is_floating_point())
    )
    numbers = {
        "acc": float((model.predict(data.test.x) == data.test.y).float().mean()),
        "w1_sum": float(w1.double().sum()),
        "w1_abs_sum": float(w1.double().abs().sum()),
        "state_abs_sum": sum(
            float(v.double().abs().sum()) for v in model.state_dict().values() if v.is_floating_point()
        ),
        "act_sum": float(model.representations(data.test.x, data.test.y)[-1].double().sum()),
    }
    return versions, numbers


def mismatches(pinned: dict[str, float], now: dict[str, float]) -> list[str]:
    """The numbers that differ beyond the tolerances of the module docstring."""
    scale = {"w1_sum": pinned["w1_abs_sum"]}
    bad = []
    for key, want in pinned.items():
        got = now[key]
        tol = ACC_TOL if key == "acc" else RTOL * abs(scale.get(key, want))
        if not math.isclose(got, want, rel_tol=0.0, abs_tol=tol):
            bad.append(f"{key}: pinned {want!r}, now {got!r} (tolerance {tol:.3g})")
    return bad


def test_every_builtin_rule_is_pinned():
    builtin = {
        e.name for e in get_registry().entries["rule"].values() if e.cls.__module__.startswith("ffbench_plugins.")
    }
    covered = {spec.split("[")[0] for spec, _, _ in CASES.values()}
    assert builtin - covered == set(), "pin the new built-in rules (add them to CASES and PINS)"
    assert set(PINS) == set(CASES)


@pytest.mark.parametrize("case", list(CASES))
def test_pinned_numbers(case):
    pinned_versions, pinned = PINS[case]
    versions, now = train(case)
    for name, version in versions.items():
        if pinned_versions.get(name) != version:
            pytest.fail(
                f"numbers of {name} (case {case}) are pinned for version {pinned_versions.get(name)}; "
                f"the code says {version}: update the pin after checking the change "
                "(python tests/test_pinned_numbers.py prints the new table)"
            )
    bad = mismatches(pinned, now)
    assert not bad, (
        f"the numbers of {case} changed at the same versions {versions}: bump the version of "
        "the component whose numbers changed (and update the pin). " + "; ".join(bad)
    )


if __name__ == "__main__":  # print the table for the current code
    print("PINS = {")
    for name in CASES:
        versions, numbers = train(name)
        print(f"    {name!r}: ({versions!r}, {{")
        print("".join(f"        {k!r}: {v!r},\n" for k, v in numbers.items()) + "    }),")
    print("}")
