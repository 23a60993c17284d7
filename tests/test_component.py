"""Component identity, parameter parsing and validation."""

import pytest

from ffbench.component import Param, parse_spec, split_top_level
from ffbench.errors import ParameterError
from ffbench_plugins.goodness.norms import L2Goodness, SumSquaresGoodness
from ffbench_plugins.rules.ff import FFRule


def test_identity_lists_every_param_sorted_and_short_identity_only_changes():
    rule = FFRule(epochs=5, lr=0.001)
    assert rule.identity.startswith("ff[batch_size=1024,epochs=5,inference=softmax,layers=3,lr=0.001,")
    assert rule.short_identity == "ff[epochs=5,lr=0.001]"
    assert FFRule().short_identity == "ff"


def test_identity_round_trips_through_parse_spec():
    rule = FFRule(epochs=7, schedule="simultaneous", skip_first=True)
    name, params = parse_spec(rule.identity)
    assert name == "ff"
    assert FFRule.from_spec(params) == rule


def test_cli_strings_are_coerced_to_types():
    rule = FFRule.from_spec({"epochs": "12", "lr": "1e-3", "skip_first": "yes", "width": "auto"})
    assert rule.values["epochs"] == 12 and rule.values["lr"] == 0.001
    assert rule.values["skip_first"] is True and rule.values["width"] is None


@pytest.mark.parametrize(
    "params, message",
    [
        ({"epochs": "ten"}, "expected int"),
        ({"epochs": 0}, ">= 1"),
        ({"schedule": "random"}, "valid values are greedy, simultaneous"),
        ({"epoch": 3}, "Did you mean 'epochs'"),
        ({"skip_first": "maybe"}, "expected bool"),
    ],
)
def test_bad_parameters_name_the_value_and_the_valid_ones(params, message):
    with pytest.raises(ParameterError, match=message):
        FFRule.from_spec(params)


def test_presets_apply_under_explicit_values():
    assert FFRule.from_spec({}, preset="quick").values["epochs"] == FFRule.presets["quick"]["epochs"] != 100
    assert FFRule.from_spec({"epochs": 3}, preset="quick").values["epochs"] == 3
    assert FFRule.from_spec({}, preset="paper").values["epochs"] == 100


def test_split_top_level_keeps_brackets():
    assert split_top_level("ff[a=1,b=2],bp, bp-ff") == ["ff[a=1,b=2]", "bp", "bp-ff"]


@pytest.mark.parametrize("spec", ["ff[", "ff]", "ff[a]", "", "ff[a=1]x"])
def test_malformed_specs_are_refused(spec):
    with pytest.raises(ParameterError):
        parse_spec(spec)


def test_auto_default_param():
    p = Param("threshold", float, None)
    assert p.coerce("auto") is None and p.coerce("2.5") == 2.5
    assert SumSquaresGoodness().threshold_for(1000) == 1000.0
    assert SumSquaresGoodness(threshold=7.0).threshold_for(1000) == 7.0
    assert L2Goodness().threshold_for(1000) == 3.0


def test_from_spec_takes_the_cli_form_too():
    rule = FFRule.from_spec("ff[epochs=12,lr=1e-3]")
    assert rule == FFRule.from_spec({"epochs": 12, "lr": 0.001}) and rule.values["epochs"] == 12
    assert FFRule.from_spec("ff") == FFRule.from_spec({})
    with pytest.raises(ParameterError, match="the spec names 'bp', but this rule is 'ff'"):
        FFRule.from_spec("bp[epochs=2]")


def test_parameters_added_later_stay_out_of_the_identity_at_their_default():
    """momentum, layer_norm and peer_norm came after boards were published: a default
    configuration keeps the identity (config hash, cache key, board id) it had before."""
    rule = FFRule(epochs=5)
    assert "momentum" not in rule.identity and "layer_norm" not in rule.identity and "peer_norm" not in rule.identity
    assert "optimizer=adam" in rule.identity  # an older parameter stays listed at its default
    study = FFRule(optimizer="sgd", momentum=0.9, layer_norm="rms", peer_norm=0.03)
    assert (
        "momentum=0.9" in study.identity and "layer_norm=rms" in study.identity and "peer_norm=0.03" in study.identity
    )
    name, params = parse_spec(study.identity)
    assert FFRule.from_spec(params) == study and FFRule.from_spec(parse_spec(rule.identity)[1]) == rule


def test_the_committed_boards_ids_are_todays_identities():
    """Every rule id on the committed boards is what today's code calls that
    configuration, so a new run of it replaces its rows instead of adding a duplicate."""
    from pathlib import Path

    import pandas as pd

    from ffbench.registry import get_registry

    root = Path(__file__).resolve().parent.parent
    boards = [pd.read_parquet(p, columns=["rule_id"]) for p in sorted((root / "leaderboards").glob("*.parquet"))]
    assert boards
    registry = get_registry()
    for rule_id in pd.concat(boards)["rule_id"].dropna().unique():
        assert registry.build("rule", rule_id).identity == rule_id
