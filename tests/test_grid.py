"""Grid expansion: component lists, --param axes, seeds, compatibility, unknown names."""

import pytest
from conftest import small_grid as grid

from ffbench.errors import IncompatibleError, ParameterError, UnknownComponentError
from ffbench.registry import get_registry


def test_grid_is_the_product_of_axes():
    g = grid(rules=["ff,bp-ff"], goodness=["l2", "sumsq"], seeds=[0, 1], params=["ff.epochs=1,2"])
    # ff: 2 epochs values x 2 goodness x 2 seeds = 8; bp-ff: 2 goodness x 2 seeds = 4
    assert len(g.points) == 12
    assert {p.rule.values["epochs"] for p in g.points if p.rule.name == "ff"} == {1, 2}
    assert len({p.config_hash for p in g.points}) == 12


def test_bp_reads_no_goodness_or_negatives_and_is_not_duplicated():
    g = grid(rules=["bp"], goodness=["l2", "sumsq"], negatives=["wrong-label", "hard"])
    assert len(g.points) == 1
    assert g.points[0].goodness is None and g.points[0].negatives is None


def test_config_hash_depends_on_seed_and_params_only():
    a, b = grid().points[0], grid().points[0]
    assert a.config_hash == b.config_hash
    assert grid(seeds=[1]).points[0].config_hash != a.config_hash
    assert grid(params=["rule.lr=0.5"]).points[0].config_hash != a.config_hash


def test_unknown_names_list_valid_ones_with_a_close_match():
    with pytest.raises(
        UnknownComponentError,
        match=r"Did you mean 'ff'\?.*Valid rule names: bp, bp-ff, cafo, conv-ff, dfa, ff, (greedy-layerwise, )?"
        r"mono-forward, pepita, random",
    ):
        grid(rules=["fff"])


def test_param_target_and_key_errors():
    with pytest.raises(ParameterError, match="Did you mean 'epochs'"):
        grid(params=["ff.epoch=3"])
    with pytest.raises(ParameterError, match="matches no chosen component"):
        grid(params=["bp.epochs=3"])
    with pytest.raises(ParameterError, match="expected TARGET.KEY=VALUE"):
        grid(params=["epochs=3"])


def test_goodness_without_negatives_needs_none():
    with pytest.raises(IncompatibleError, match="--negatives none"):
        grid(goodness=["dimcompress"])
    with pytest.raises(IncompatibleError, match="goodness 'l2' needs negative samples"):
        grid(negatives=["none"])
    g = grid(goodness=["l2", "dimcompress"], negatives=["wrong-label", "none"])
    assert [(p.goodness.name, p.negatives.name) for p in g.points] == [("l2", "wrong-label"), ("dimcompress", "none")]
    assert len(g.notes) == 2


def test_a_goodness_says_why_it_cannot_pair_with_negatives():
    reg = get_registry()
    l2, dc = reg.build("goodness", "l2"), reg.build("goodness", "dimcompress")
    none, wrong = reg.build("negatives", "none"), reg.build("negatives", "wrong-label")
    assert l2.pairs_with(wrong) == (True, "") and dc.pairs_with(none) == (True, "")
    ok, reason = l2.pairs_with(none)
    assert not ok and "needs negative samples" in reason and "wrong-label" in reason
    ok, reason = dc.pairs_with(wrong)
    assert not ok and "--negatives none" in reason


def test_a_rule_says_why_it_refuses_a_goodness_before_anything_trains():
    """LearningRule.accepts: bp-ff and conv-ff refuse a batch-aware goodness, ff with peer_norm a
    goodness trained without negatives; refused points are skipped with the reason as a note."""
    reg = get_registry()
    bcm, l2, wrong = reg.build("goodness", "gs-bcm"), reg.build("goodness", "l2"), reg.build("negatives", "wrong-label")
    assert bcm.batch_aware and not l2.batch_aware
    ok, reason = reg.build("rule", "bp-ff").accepts(bcm, wrong)
    assert not ok and "gs-bcm" in reason and "use the ff rule" in reason
    assert reg.build("rule", "bp-ff").accepts(l2, wrong) == (True, "")
    assert reg.build("rule", "ff").accepts(bcm, wrong) == (True, "")
    ok, reason = reg.build("rule", "ff[peer_norm=0.03]").accepts(
        reg.build("goodness", "dimcompress"), reg.build("negatives", "none")
    )
    assert not ok and "set peer_norm=0" in reason
    ok, reason = reg.build("rule", "conv-ff").accepts(bcm, wrong)
    assert not ok and "conv-ff" in reason
    with pytest.raises(IncompatibleError, match="batch_aware"):  # also a ValueError, as it was
        reg.build("rule", "bp-ff").require_accepts(bcm, wrong)

    g = grid(rules=["ff,bp-ff"], goodness=["l2", "gs-bcm"])
    assert sorted((p.rule.name, p.goodness.name) for p in g.points) == [
        ("bp-ff", "l2"),
        ("ff", "gs-bcm"),
        ("ff", "l2"),
    ]
    assert [n for n in g.notes if "bp-ff" in n and "gs-bcm" in n and n.startswith("skipped")]
    with pytest.raises(IncompatibleError, match="Nothing to run for rule bp-ff.*gs-bcm.*batch_aware"):
        grid(rules=["bp-ff"], goodness=["gs-bcm"])


def test_rules_refuse_label_free_and_model_aware_negatives_unless_they_opt_in():
    """The default LearningRule.accepts refuses negatives a rule must opt in to (label_free,
    needs_model); ff opts in (label=none for label-free ones), bp-ff does not."""
    reg = get_registry()
    l2 = reg.build("goodness", "l2")
    mix, fgsm = reg.build("negatives", "ns-image-mix"), reg.build("negatives", "ns-fgsm")
    assert mix.label_free and fgsm.needs_model
    third_party = reg.build("rule", "greedy-layerwise")  # the example plugin's rule: default accepts
    ok, reason = third_party.accepts(l2, mix)
    assert not ok and "'greedy-layerwise'" in reason and "label_free" in reason
    assert "choose negatives with labels" in reason  # no rule named here: ff's own accepts says ff[label=none]
    ok, reason = third_party.accepts(l2, fgsm)
    assert not ok and "needs_model" in reason
    assert reg.build("rule", "ff[label=none]").accepts(l2, mix) == (True, "")
    assert not reg.build("rule", "ff").accepts(l2, mix)[0]
    assert reg.build("rule", "ff").accepts(l2, fgsm) == (True, "")
    assert not reg.build("rule", "bp-ff").accepts(l2, fgsm)[0]
