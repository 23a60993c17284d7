"""Shared fixtures: a tiny real dataset, an isolated model cache, and a CPU device."""

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
