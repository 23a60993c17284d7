"""ffbench.compat: the one decision whether a rule, goodness and negatives train together (each
refusal once, with built-in components), the grid's choice between a note and an error, the same
error type from the grid, `ffbench bench`, the conformance kit and a rule's fit, and `--param`
targets that two kinds share."""

import pytest
from conftest import small_grid as grid
from typer.testing import CliRunner

from ffbench.bench import build_case
from ffbench.cli import app
from ffbench.compat import default_refusal, partners, refusal, require_compatible
from ffbench.errors import IncompatibleError, ParameterError
from ffbench.registry import Entry, get_registry
from ffbench.testing import Harness, NotApplicable, Subject, training_setup


def build(kind, spec):
    return get_registry().build(kind, spec)


def words(text):
    """CLI output with rich's line wrapping undone."""
    return " ".join(text.split())


l2, wrong = build("goodness", "l2"), build("negatives", "wrong-label")


# -- each refusal once ------------------------------------------------------------------------


def test_what_trains_together_is_not_refused():
    assert refusal(build("rule", "ff"), l2, wrong) is None
    require_compatible(build("rule", "ff"), l2, wrong)  # raises nothing


def test_a_rule_reads_only_the_partners_it_uses():
    bp, dimcompress = build("rule", "bp"), build("goodness", "dimcompress")
    assert partners(bp, dimcompress, wrong) == (None, None)
    assert partners(build("rule", "ff"), dimcompress, wrong) == (dimcompress, wrong)
    assert refusal(bp, dimcompress, wrong) is None  # a pair bp does not read cannot refuse it
    assert refusal(bp, None, None) is None


def test_a_partner_the_rule_reads_must_be_given():
    assert refusal(build("rule", "ff"), None, wrong) == "rule 'ff' trains with a goodness function, and none was given"


def test_a_goodness_and_negatives_that_do_not_pair():
    reason = refusal(build("rule", "ff"), build("goodness", "dimcompress"), wrong)
    assert reason == (
        "goodness 'dimcompress' takes no negative samples, but negatives 'wrong-label' produce them: "
        "use --negatives none"
    )


def test_the_pair_is_refused_even_by_a_rule_whose_accepts_takes_everything():
    lenient = type(build("rule", "ff"))
    lenient = type("Lenient", (lenient,), {"name": "lenient", "accepts": lambda self, g, n: (True, "")})()
    assert "needs negative samples" in refusal(lenient, l2, build("negatives", "none"))


def test_the_default_accepts_refuses_label_free_and_model_aware_negatives():
    bp_ff = build("rule", "bp-ff")  # its own accepts calls the default for these, then names ff
    assert default_refusal(bp_ff, l2, build("negatives", "ns-image-mix")) == (
        "negatives 'ns-image-mix' carry no label (label_free), and rule 'bp-ff' does not train on label-free "
        "negatives: choose negatives with labels, or a rule that trains label-free"
    )
    assert default_refusal(bp_ff, l2, build("negatives", "ns-fgsm")) == (
        "negatives 'ns-fgsm' need the model (needs_model), the network being trained, which rule 'bp-ff' does "
        "not pass them: choose other negatives, or a rule that passes its model"
    )


def test_a_rules_own_refusal_carries_its_own_advice():
    reason = refusal(build("rule", "ff"), l2, build("negatives", "ns-image-mix"))
    assert "carry no label" in reason and "use ff[label=none]" in reason  # ff's accepts, not the core's
    reason = refusal(build("rule", "bp-ff"), build("goodness", "gs-bcm"), wrong)
    assert "batch_aware" in reason and "use the ff rule" in reason


def test_every_refusal_is_one_error_type_also_a_value_error():
    with pytest.raises(IncompatibleError, match=r"^goodness 'l2' needs negative samples.*e\.g\. wrong-label\.$"):
        require_compatible(build("rule", "ff"), l2, build("negatives", "none"))
    with pytest.raises(ValueError, match="label_free"):  # what require_accepts raised before
        build("rule", "bp-ff").require_accepts(l2, build("negatives", "ns-image-mix"))


# -- the grid: a note or an error ---------------------------------------------------------------


def test_a_goodness_that_fits_none_of_the_chosen_negatives_is_an_error():
    """Even when the rest of the grid trains: dimcompress was named, and a note would leave it out."""
    with pytest.raises(IncompatibleError) as err:
        grid(goodness=["l2", "dimcompress"])
    assert str(err.value).startswith("Nothing to run for goodness dimcompress: rule ff[")
    assert str(err.value).endswith("negatives 'wrong-label' produce them: use --negatives none.")


def test_a_goodness_every_rule_refuses_is_an_error_too():
    with pytest.raises(IncompatibleError, match=r"^Nothing to run for goodness gs-bcm: rule bp-ff\[.*conv-ff\["):
        grid(rules=["bp-ff,conv-ff"], goodness=["l2", "gs-bcm"])


def test_a_refused_combination_of_components_that_train_elsewhere_is_a_note():
    g = grid(rules=["ff,bp-ff"], goodness=["l2", "dimcompress"], negatives=["wrong-label", "none"])
    assert sorted((p.rule.name, p.goodness.name, p.negatives.name) for p in g.points) == [
        ("bp-ff", "dimcompress", "none"),
        ("bp-ff", "l2", "wrong-label"),
        ("ff", "dimcompress", "none"),
        ("ff", "l2", "wrong-label"),
    ]
    # one note per reason, naming every rule it skipped
    assert len(g.notes) == 2
    assert g.notes[0].startswith("skipped rule ff[batch_size=256,epochs=20], bp-ff[")
    assert g.notes[0].endswith(
        "with goodness l2 and negatives none: goodness 'l2' needs negative samples, "
        "but negatives 'none' produce none: use a negative generator, e.g. wrong-label"
    )


# -- the same error everywhere ----------------------------------------------------------------


def test_grid_bench_kit_and_fit_raise_the_same_error():
    ff, mix = build("rule", "ff"), build("negatives", "ns-image-mix")
    reason = refusal(ff, l2, mix)
    with pytest.raises(IncompatibleError) as from_grid:
        grid(negatives=["ns-image-mix"])
    assert str(from_grid.value).endswith(f": {reason}.")
    with pytest.raises(IncompatibleError) as from_bench:
        build_case(get_registry(), "ff", "l2", "ns-image-mix", {})
    assert str(from_bench.value) == f"{reason}."
    with pytest.raises(NotApplicable) as from_kit:  # the kit skips the training checks, with the reason
        training_setup(Subject(type(ff), {}, Harness(negatives="ns-image-mix")))
    assert isinstance(from_kit.value.__cause__, IncompatibleError) and f"({reason}.)" in str(from_kit.value)
    with pytest.raises(IncompatibleError) as from_fit:
        ff.fit(None, l2, mix, None)  # refused before it reads the data
    assert str(from_fit.value) == f"{reason}."


def test_the_cli_names_the_refused_goodness_and_what_would_work(tmp_path):
    out = tmp_path / "r.parquet"
    result = CliRunner().invoke(app, ["run", "--goodness", "dimcompress", "--out", str(out), "-q"])
    assert result.exit_code == 2, result.output
    text = words(result.output)
    assert "goodness 'dimcompress' takes no negative samples" in text
    assert "negatives 'wrong-label' produce them: use --negatives none" in text
    assert not out.exists()


# -- --param targets that two kinds share ------------------------------------------------------


@pytest.fixture()
def twins(monkeypatch):
    """A rule and a goodness both called 'twin' (an ff rule and an l2 goodness under another name)."""
    rule = type("TwinRule", (type(build("rule", "ff")),), {"name": "twin"})
    goodness = type("TwinGoodness", (type(l2),), {"name": "twin"})
    for kind, cls in (("rule", rule), ("goodness", goodness)):
        monkeypatch.setitem(get_registry().entries[kind], "twin", Entry(cls, "twin-plugin", "twin-dist", "0.1"))


def test_a_name_two_kinds_share_must_be_qualified(twins):
    with pytest.raises(ParameterError) as err:
        grid(rules=["twin"], goodness=["twin"], params=["twin.threshold=2.5"])
    assert str(err.value) == (
        "--param twin.threshold is ambiguous: 'twin' names a chosen rule and a chosen goodness. Say which: "
        "--param rule:twin.threshold=2.5 or --param goodness:twin.threshold=2.5."
    )
    (plain,) = grid(rules=["twin"], goodness=["twin"]).points
    (point,) = grid(rules=["twin"], goodness=["twin"], params=["goodness:twin.threshold=2.5"]).points
    assert point.goodness.values["threshold"] == 2.5 != plain.goodness.values["threshold"]
    assert point.rule == plain.rule
    (point,) = grid(rules=["twin"], goodness=["twin"], params=["rule:twin.epochs=3"]).points
    assert point.rule.values["epochs"] == 3 != plain.rule.values["epochs"] and point.goodness == plain.goodness
    with pytest.raises(ParameterError, match="^rule 'twin' has no parameter 'threshold'. Valid parameters: activation"):
        grid(rules=["twin"], goodness=["twin"], params=["rule:twin.threshold=2.5"])
    # unqualified, the name is fine while only one kind of the grid has it
    (point,) = grid(rules=["twin"], params=["twin.epochs=3"]).points
    assert point.rule.values["epochs"] == 3


def test_a_malformed_kind_is_refused_with_the_kinds():
    with pytest.raises(ParameterError, match="KIND:NAME with KIND one of rule, goodness, negatives, dataset, metric"):
        grid(params=["rules:ff.epochs=3"])


def test_the_cli_refuses_an_ambiguous_param_and_documents_the_form(twins, tmp_path):
    out = tmp_path / "r.parquet"
    args = ["run", "--rule", "twin", "--goodness", "twin", "--param", "twin.epochs=1", "--out", str(out), "-q"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and not out.exists()
    assert "'twin' names a chosen rule and a chosen goodness" in words(result.output)
    assert "--param rule:twin.epochs=1 or --param goodness:twin.epochs=1" in words(result.output)
    help_text = words(CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "200"}).output)
    assert "KIND:NAME for a name that two chosen kinds share" in help_text
