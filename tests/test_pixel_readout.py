"""The pixel-readout metric (docs/science.md, DC goodness): dimcompress's energy readout on the noisy raw
pixels, with the evaluated dimcompress goodness's readout settings, else the metric's own."""

import types

import pytest
import torch

from ffbench.contracts import Evaluation, TrainContext
from ffbench.registry import get_registry
from ffbench_plugins.goodness.dimcompress import DimCompressGoodness
from ffbench_plugins.goodness.norms import L2Goodness
from ffbench_plugins.metrics import pixel_readout
from ffbench_plugins.metrics.pixel_readout import READOUT_KEYS, PixelReadout

DC = dict(copies=8, readout_epochs=2, readout_batch_size=50)


@pytest.fixture(scope="module")
def data():
    from ffbench_plugins.datasets.embedded import FashionMNISTMini

    return FashionMNISTMini(train_size=500, test_size=200).load()  # fashion-mnist-mini[train_size=500,test_size=200]


@pytest.fixture(autouse=True)
def fresh_memo():
    pixel_readout._MEMO.clear()
    yield
    pixel_readout._MEMO.clear()


def evaluation(data, goodness) -> Evaluation:
    """The metric reads only the data and ``model.goodness`` (as an FF network keeps it)."""
    return Evaluation(types.SimpleNamespace(goodness=goodness), data, torch.device("cpu"))


def overall(result) -> float:
    [row] = [r for r in result.rows if r.cls is None]
    return row.value


def test_registered_with_the_dimcompress_defaults():
    entry = get_registry().get("metric", "pixel-readout")
    assert entry.cls is PixelReadout and PixelReadout.higher_is_better is True
    ours, theirs = PixelReadout().values, DimCompressGoodness().values
    assert {k: ours[k] for k in READOUT_KEYS} == {k: theirs[k] for k in READOUT_KEYS}
    assert ours["seed"] == 0 and ours["from_goodness"] is True


def test_pixel_readout_learns_is_deterministic_and_reports_per_class(data):
    ev = evaluation(data, DimCompressGoodness(**DC))
    rng = torch.get_rng_state()
    result = PixelReadout().compute(ev)
    assert torch.equal(torch.get_rng_state(), rng)  # the global RNG is left as it was
    acc = overall(result)
    assert acc > 0.4, f"energy readout on noisy pixels: test accuracy {acc:.3f} (chance 0.1)"
    assert {r.stat for r in result.rows} == {"pixel_readout"}
    per_class = [r for r in result.rows if r.cls is not None]
    assert [r.cls for r in per_class] == data.classes and all(0 <= r.value <= 1 for r in per_class)
    counts = torch.bincount(data.test.y, minlength=10).float()
    assert acc == pytest.approx(float((torch.tensor([r.value for r in per_class]) * counts).sum() / counts.sum()))

    pixel_readout._MEMO.clear()  # recomputed from scratch: the same numbers
    again = PixelReadout().compute(evaluation(data, DimCompressGoodness(**DC)))
    assert [(r.stat, r.cls, r.value) for r in again.rows] == [(r.stat, r.cls, r.value) for r in result.rows]


def test_it_is_the_goodness_own_pixel_readout(data):
    goodness = DimCompressGoodness(**DC)
    readout = goodness.fit_pixel_readout(
        data, TrainContext(device=torch.device("cpu"), seed=3, train_classes=list(range(10)), num_classes=10)
    )
    flat = data.test.flat()
    expected = (readout.predict([goodness.augment(flat)], len(flat)) == data.test.y).float().mean().item()
    assert overall(PixelReadout(seed=3).compute(evaluation(data, goodness))) == pytest.approx(expected)


def test_settings_come_from_a_dimcompress_goodness_else_from_the_metric(data):
    dc = DimCompressGoodness(**DC, readout_schedule="cosine", readout_lr=2.5e-4)
    result = PixelReadout().compute(evaluation(data, dc))
    settings = result.artifacts["settings"]
    assert settings["source"] == "goodness" and settings["seed"] == 0
    assert {k: settings[k] for k in READOUT_KEYS} == {k: dc.values[k] for k in READOUT_KEYS}

    own = PixelReadout(copies=4, readout_epochs=1, readout_batch_size=100)
    for goodness in (L2Goodness(), None):  # a model trained with another goodness, or none (bp)
        settings = own.compute(evaluation(data, goodness)).artifacts["settings"]
        assert settings["source"] == "metric" and settings["copies"] == 4 and settings["readout_epochs"] == 1
    forced = PixelReadout(copies=4, readout_epochs=1, from_goodness=False).compute(evaluation(data, dc))
    assert forced.artifacts["settings"]["source"] == "metric" and forced.artifacts["settings"]["copies"] == 4


def test_the_result_is_memoised_per_data_and_settings(data, monkeypatch):
    calls = []
    real = PixelReadout._correct

    def counting(ev, settings, seed):
        calls.append(seed)
        return real(ev, settings, seed)

    monkeypatch.setattr(PixelReadout, "_correct", staticmethod(counting))
    metric = PixelReadout(copies=4, readout_epochs=1, readout_batch_size=100)
    first = metric.compute(evaluation(data, None))
    assert overall(metric.compute(evaluation(data, L2Goodness()))) == overall(first)  # same settings: reused
    metric.compute(evaluation(data, DimCompressGoodness(copies=4, readout_epochs=1, readout_batch_size=100)))
    PixelReadout(copies=4, readout_epochs=1, readout_batch_size=100, seed=1).compute(evaluation(data, None))
    assert calls == [0, 1]  # the dimcompress goodness with the same settings reused it too; seed 1 did not


def test_a_memoised_result_still_says_where_its_settings_came_from(data):
    settings = dict(copies=4, readout_epochs=1, readout_batch_size=100)
    a = PixelReadout(**settings).compute(evaluation(data, None))
    b = PixelReadout(**settings).compute(evaluation(data, DimCompressGoodness(**settings)))
    assert overall(a) == overall(b)
    assert a.artifacts["settings"]["source"] == "metric" and b.artifacts["settings"]["source"] == "goodness"
