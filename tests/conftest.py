"""Shared fixtures and helpers: a tiny real dataset, an isolated model cache, a CPU device, and
fabricated results rows."""

from __future__ import annotations

import pytest
import torch

from ffbench.contracts import TrainContext


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory, monkeypatch):
    """Never read or write the user's model cache from tests."""
    monkeypatch.setenv("FFBENCH_CACHE", str(tmp_path_factory.mktemp("model-cache")))


@pytest.fixture(scope="session")
def tiny_data():
    """1 000 train / 500 test real Fashion-MNIST images (stratified), from the embedded set."""
    from ffbench_plugins.datasets.embedded import FashionMNISTMini

    return FashionMNISTMini(train_size=1000, test_size=500).load()


@pytest.fixture
def ctx():
    return TrainContext(device=torch.device("cpu"), seed=0, train_classes=list(range(10)), num_classes=10)


def accuracy(model, data) -> float:
    return float((model.predict(data.test.x) == data.test.y).float().mean())


T1 = "2026-01-02T00:00:00+00:00"


def result_row(
    rule="ff",
    seed=0,
    value=0.5,
    run="a",
    t=T1,
    metric="accuracy",
    stat=None,
    layer=None,
    cls=None,
    higher=True,
    status="ok",
    dataset="fashion-mnist-mini",
    **extra,
) -> dict:
    """One results row of a fabricated run; ``bp*`` rules read no goodness or negatives."""
    bp = rule.startswith("bp")
    return {
        "run_id": run,
        "status": status,
        "seed": seed,
        "rule": rule,
        "rule_id": f"{rule}[lr=0.1]",
        "rule_version": "1",
        "goodness": None if bp else "l2",
        "goodness_id": None if bp else "l2[threshold=3.0]",
        "negatives": None if bp else "wrong-label",
        "negatives_id": None if bp else "wrong-label[resample=false]",
        "dataset": dataset,
        "dataset_id": dataset,
        "dataset_version": "1",
        "dataset_hash": "h1",
        "metric": metric,
        "metric_id": metric,
        "metric_version": "1",
        "higher_is_better": higher,
        "stat": stat or metric,
        "layer": layer,
        "class": cls,
        "value": value,
        "started_at": t,
        "git_sha": "0123456789abcdef0123456789abcdef01234567",
        "precision": "fp32",
        "ffbench_version": "0.1.0",
        "device": "cpu:x86_64",
        "suite": "quick",
        "suite_version": "1",
        **extra,
    }


def small_grid(**kw):
    """``expand_grid`` on the embedded data with ff / l2 / wrong-label, quick preset, seed 0, accuracy;
    keyword arguments replace any of those axes."""
    from ffbench.grid import expand_grid
    from ffbench.registry import get_registry

    args = dict(
        rules=["ff"],
        goodness=["l2"],
        negatives=["wrong-label"],
        datasets=["fashion-mnist-mini"],
        metrics=["accuracy"],
        seeds=[0],
        params=[],
        preset="quick",
    )
    return expand_grid(get_registry(), **{**args, **kw})
