"""The runner's explicit run context (issue 14 item 5): loaded datasets and models trained with a
sibling seed belong to one RunContext, never to the process, so two runs in one process cannot
see each other's state."""

from pathlib import Path

import torch

from ffbench.grid import expand_grid
from ffbench.registry import get_registry
from ffbench.runner import RunContext, RunOptions, SilentReporter, model_key, train

DATA = "fashion-mnist-mini[train_size=200,test_size=50]"
RULE = "ff[width=16,layers=1,epochs=1,batch_size=100]"


def points(registry, seeds=(0, 1)):
    return expand_grid(
        registry,
        rules=[RULE],
        goodness=["l2"],
        negatives=["wrong-label"],
        datasets=[DATA],
        metrics=["accuracy"],
        seeds=list(seeds),
    ).points


def options(tmp_path: Path) -> RunOptions:
    # no model cache: a model can only come from training or from a context
    return RunOptions(out=tmp_path / "r.parquet", device=torch.device("cpu"), stack_seeds="on")


def test_a_dataset_is_loaded_once_per_context_and_never_shared(tmp_path):
    registry, opts = get_registry(), options(tmp_path)
    dataset = registry.build("dataset", DATA)
    one, other = RunContext(), RunContext()
    bundle = one.load_bundle(dataset, opts)
    assert one.load_bundle(dataset, opts) is bundle  # loaded once in its context
    assert other.load_bundle(dataset, opts) is not bundle  # another run loads its own
    assert len(bundle.train) == 200 and bundle.train.x.device.type == "cpu"
    assert list(one.bundles) == [(dataset.identity, "None", "cpu")]


def test_a_sibling_seeds_model_waits_in_its_context_only(tmp_path):
    registry, opts = get_registry(), options(tmp_path)
    seed0, seed1 = points(registry)
    first = RunContext()
    bundle = first.load_bundle(seed0.dataset, opts)
    model0, record0 = train(seed0, bundle, None, opts, SilentReporter(), first, sibling_seeds=(0, 1))
    assert record0.stacked_seeds == 2  # seeds 0 and 1 trained together
    key1 = model_key(seed1, bundle, None, opts)
    assert list(first.stacked) == [key1]  # seed 1's model waits for its own point, here only

    second = RunContext()  # another run in this process: trains seed 1 itself
    _, alone = train(seed1, bundle, None, opts, SilentReporter(), second)
    assert alone.stacked_seeds == 1 and not alone.cached and second.stacked == {}
    assert list(first.stacked) == [key1]  # untouched by the other run

    model1, record1 = train(seed1, bundle, None, opts, SilentReporter(), first, sibling_seeds=(0, 1))
    assert record1 is record0 and first.stacked == {}  # handed out once, then gone
    assert first.take_stacked(key1) is None
    assert not torch.equal(model0.weights()[0], model1.weights()[0])  # two seeds, two models


def test_runs_leave_no_state_in_the_runner_module():
    import ffbench.runner as runner

    module_state = [
        name
        for name, value in vars(runner).items()
        if isinstance(value, dict | list | set) and not name.startswith("__")
    ]
    assert module_state == []  # e.g. a process-wide cache of datasets or held models
