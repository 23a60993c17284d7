"""The declared schemas of the contracts: training variants and the self-supervised goodness's
readout hooks (issue 14 item 4)."""

import pytest
import torch

from ffbench.contracts import FeatureNetwork, Readout, TrainContext, TrainingVariant
from ffbench.testing import tiny_bundle
from ffbench_plugins.goodness.dimcompress import DimCompressGoodness
from ffbench_plugins.rules.ff import FFRule
from ffbench_plugins.rules.ffnet import build_ffnet


def test_training_variant_schema_and_the_api_1_dict_form():
    assert TrainingVariant.coerce(None) is None
    v = TrainingVariant(holdout=(5,))
    assert TrainingVariant.coerce(v) is v and v.as_dict() == {"holdout": [5]}  # the cache-key form
    assert TrainingVariant.coerce({"holdout": [3]}, "old-metric") == TrainingVariant(holdout=(3,))
    with pytest.raises(
        ValueError, match="metric 'm': training_variant has unknown field.s. epochs; declared fields: holdout"
    ):
        TrainingVariant.coerce({"holdout": [1], "epochs": 3}, "m")
    with pytest.raises(ValueError, match="holdout must be class indices"):
        TrainingVariant.coerce({"holdout": ["Sandal"]}, "m")
    with pytest.raises(TypeError, match="expected a TrainingVariant or None"):
        TrainingVariant.coerce([5], "m")


def test_a_self_supervised_goodness_reads_a_feature_network_and_returns_a_readout():
    data = tiny_bundle()
    ctx = TrainContext(torch.device("cpu"), 0, list(range(10)), 10)
    goodness = DimCompressGoodness(copies=2, readout_epochs=1)
    values = FFRule.resolve_params({"layers": 1, "width": 16})
    net = build_ffnet(values, data, goodness, ctx.device, ctx.generator)
    assert isinstance(net, FeatureNetwork)
    readout = goodness.fit_readout(net, data, ctx)
    assert isinstance(readout, Readout)
    x = data.test.flat()[:5]
    labels = readout.predict(net.forward_all(goodness.augment(x)), 5)
    assert labels.shape == (5,) and int(labels.max()) < 10
