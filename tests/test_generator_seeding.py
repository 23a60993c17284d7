"""Every built-in rule draws its randomness (initial weights, batch order, negatives, noise) from the
run's generator ``ctx.generator`` only: training twice with the same seed gives bit-identical
models even when torch's global generator is disturbed in between, two seeds give different
models, and a TrainContext leaves the global generator alone."""

from __future__ import annotations

import pytest
import torch

from ffbench.contracts import TrainContext
from ffbench.registry import get_registry
from ffbench.testing import tiny_bundle

#: rule spec, goodness spec, negatives spec: every built-in rule, plus the paths where a goodness
#: draws randomness itself (dimcompress: noisy copies and an energy readout with dropout)
CASES = [
    ("ff", "l2", "wrong-label"),
    ("ff[schedule=simultaneous]", "l2", "wrong-label[resample=true]"),
    ("bp-ff", "l2", "wrong-label"),
    ("bp", None, None),
    ("mono-forward", None, None),
    ("dfa", None, None),
    ("cafo", None, None),
    ("pepita", None, None),
    ("random", None, None),
    ("ff", "dimcompress[copies=4,readout_epochs=2]", "none"),
    ("bp-ff", "dimcompress[copies=4,readout_epochs=2]", "none"),
    ("conv-ff", "l2", "wrong-label"),
]
SIZE = {"layers": 2, "width": 16, "epochs": 2, "batch_size": 100}


@pytest.fixture(scope="module")
def data():
    return tiny_bundle()  # 300 / 100 real Fashion-MNIST images


def make_ctx(seed: int) -> TrainContext:
    return TrainContext(torch.device("cpu"), seed, list(range(10)), 10)


def train(case, data, ctx):
    rule_spec, goodness_spec, negatives_spec = case
    registry = get_registry()
    cls = registry.get("rule", rule_spec.split("[")[0]).cls
    rule = registry.build("rule", rule_spec, overrides={k: v for k, v in SIZE.items() if k in cls.param_map()})
    goodness = registry.build("goodness", goodness_spec) if goodness_spec else None
    negatives = registry.build("negatives", negatives_spec) if negatives_spec else None
    return rule.fit(data, goodness, negatives, ctx)


def state(model) -> dict[str, torch.Tensor]:
    """Every tensor the trained model holds (weights, fixed random matrices, readouts)."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def case_id(case) -> str:
    return "+".join(part for part in case if part)


def test_cases_cover_every_builtin_rule():
    builtin = {
        e.name for e in get_registry().entries["rule"].values() if e.cls.__module__.startswith("ffbench_plugins.")
    }
    covered = {spec.split("[")[0] for spec, _, _ in CASES}
    assert builtin - covered == set(), "add the new built-in rules to CASES"


def test_train_context_leaves_the_global_generator_alone():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    ctx = make_ctx(7)
    assert torch.equal(torch.get_rng_state(), before)
    assert ctx.generator.initial_seed() == 7


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_same_seed_same_model_whatever_the_global_generator(case, data):
    first_ctx, second_ctx = make_ctx(0), make_ctx(0)
    torch.manual_seed(0)
    first = train(case, data, first_ctx)
    torch.manual_seed(123)
    torch.randn(7)
    second = train(case, data, second_ctx)
    a, b = state(first), state(second)
    assert a.keys() == b.keys()
    differ = [k for k in a if not torch.equal(a[k], b[k])]
    assert differ == [], f"{case_id(case)}: {differ} differ after the global generator was disturbed"
    assert torch.equal(first.predict(data.test.x), second.predict(data.test.x))


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_two_seeds_give_different_models(case, data):
    first = [next(iter(train(case, data, make_ctx(seed)).state_dict().values())) for seed in (0, 1)]
    assert not torch.equal(*first)
