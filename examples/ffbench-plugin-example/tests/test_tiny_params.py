"""ffbench.testing.tiny_params as a plugin author meets it: which parameter names it shrinks,
the `tiny` preset a component declares for other names, and the warning when it can shrink none."""

from __future__ import annotations

import warnings

import pytest
from ffbench_plugin_example.bars import Bars
from ffbench_plugin_example.greedy import GreedyLayerwise
from ffbench_plugin_example.symba import SymbaGoodness

from ffbench.component import Param
from ffbench.contracts import LearningRule
from ffbench.testing import TINY, TinyParamsWarning, tiny_params


class OddNames(LearningRule):
    """A rule whose size parameters are not named as in TINY."""

    name = "odd-names"
    params = (Param("n_epochs", int, 100, "epochs", min=1), Param("hidden", int, 2000, "units", min=1))

    def fit(self, data, goodness, negatives, ctx):
        raise NotImplementedError


class OddNamesDeclared(OddNames):
    presets = {"quick": {"n_epochs": 10}, "tiny": {"n_epochs": 1, "hidden": 16}}


class SlowerTiny(GreedyLayerwise):
    presets = {"tiny": {"epochs": 2}}


def test_the_shrinkable_names():
    assert TINY == {"epochs": 1, "layers": 2, "width": 32, "batch_size": 100, "train_size": 300, "test_size": 100}
    assert tiny_params(GreedyLayerwise) == {"epochs": 1, "layers": 2, "width": 32, "batch_size": 100}
    assert tiny_params(Bars) == {"train_size": 300, "test_size": 100}
    assert tiny_params(SymbaGoodness) == {}  # nothing to shrink, and no warning: not a rule


def test_other_names_warn_until_declared():
    with pytest.warns(
        TinyParamsWarning,
        match=r"rule 'odd-names' .* none of the parameters tiny_params shrinks "
        r"\(epochs, layers, width, batch_size, train_size, test_size\)"
        r".*n_epochs=100, hidden=2000.*presets = \{'tiny'",
    ):
        assert tiny_params(OddNames) == {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tiny_params(OddNamesDeclared) == {"n_epochs": 1, "hidden": 16}
    assert OddNamesDeclared.from_spec(tiny_params(OddNamesDeclared)).identity == "odd-names[hidden=16,n_epochs=1]"


def test_the_tiny_preset_overrides_tiny():
    assert tiny_params(SlowerTiny) == {"epochs": 2, "layers": 2, "width": 32, "batch_size": 100}
