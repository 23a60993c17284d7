"""The numbers in docs/studies.md's prose ("What it shows") are the committed study boards' numbers.

The tables of that page are printed by scripts/study_tables.py and checked by
tests/test_docs_studies.py; the sentences under them quote ranges, means, spreads, p-values and
counts from the same boards. Each check below recomputes one quoted number (or range) from the
board and asserts the sentence that quotes it says exactly that, so a board update that moves a
number fails here until the prose is rewritten.
"""

from __future__ import annotations

import importlib.util
import itertools
import re
from pathlib import Path

import pandas as pd
import pytest

from ffbench.leaderboard.separation import compare

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "studies.md"
WORDS = ["no", "one", "two", "three", "four", "five", "six"]


def _script():
    spec = importlib.util.spec_from_file_location("study_tables", ROOT / "scripts" / "study_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


st = _script()


def section(title: str) -> str:
    """The text of docs/studies.md from the heading that starts with ``title`` to the next heading."""
    doc = DOC.read_text(encoding="utf-8")
    parts = re.split(r"^#{2,3} ", doc, flags=re.MULTILINE)
    found = [p for p in parts if p.startswith(title)]
    assert len(found) == 1, f"docs/studies.md has no single section starting {title!r}"
    return " ".join(found[0].split())  # prose wraps anywhere: compare with single spaces


def seeds(rows: pd.DataFrame, comp: str, metric: str, stat: str, layer: int | None = None) -> pd.Series:
    sel = rows[(rows["_component"] == comp) & (rows["metric"] == metric) & (rows["stat"] == stat)]
    sel = sel[sel["layer"].isna()] if layer is None else sel[sel["layer"] == layer]
    values = sel.groupby("seed")["value"].last()
    assert len(values) == 3, f"{comp} {metric}.{stat} L{layer}: {len(values)} seeds on the board"
    return values


def span(values, fmt: str = "{:.3f}") -> str:
    return f"{fmt.format(min(values))}-{fmt.format(max(values))}"


def percent_span(values) -> str:
    return f"{round(100 * min(values))}-{round(100 * max(values))} %"


def pm(values: pd.Series) -> str:
    return f"{values.mean():.3f} ± {values.std():.3f}"


def says(text: str, *claims: str) -> None:
    for claim in claims:
        assert claim in text, f"docs/studies.md should say {claim!r} (computed from the committed board)"


# -- goodness study -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def goodness() -> pd.DataFrame:
    rows = st._load("goodness", None, None)
    return rows


def comps_of(rows: pd.DataFrame) -> list[str]:
    return sorted(set(rows["_component"]))


def test_goodness_readout_claims(goodness):
    text = section("Goodness study")
    comps = comps_of(goodness)
    probe = {c: seeds(goodness, c, "linear-probe", "concat_accuracy") for c in comps}
    means = [v.mean() for v in probe.values()]
    stds = [v.std() for v in probe.values()]
    says(text, f"spans {span(means)} (a {max(means) - min(means):.3f} range; seed std {span(stds)})")
    # the published ranking step by step: none separated, p range
    ranked = sorted(comps, key=lambda c: -st.GOODNESS_PUBLISHED[c][1])
    steps = [(a, b) for a, b in zip(ranked, ranked[1:])]
    assert all(st.separated(probe[a], probe[b]) == 0 for a, b in steps)
    ps = [float(st.p_value(probe[a], probe[b])) for a, b in steps]
    says(text, f"none of the {len(steps)} steps", f"(paired t, p = {min(ps):.2g}-{max(ps):.2g})")
    pairs = [
        (a, b)
        for a, b in itertools.combinations(comps, 2)
        if st.GOODNESS_PUBLISHED[a][1] != st.GOODNESS_PUBLISHED[b][1]
    ]
    n_sep = sum(st.separated(probe[a], probe[b]) != 0 for a, b in pairs)
    says(text, f"only {n_sep} of {len(pairs)} pairs separates", f"fewer than the {0.05 * len(pairs):.1f} that chance")
    working = [v[1] for v in st.GOODNESS_PUBLISHED.values() if v[1] > 0.5]
    says(text, f"working functions ({span(working)}, i.e. {max(working) - min(working):.2f})")
    singles = pd.concat(probe.values())
    says(text, f"{len(singles)} single runs ({len(comps)} functions x 3 seeds) span {span(singles)}")
    says(text, "reach " + ", ".join(f"{probe[c].mean():.3f}" for c in ("gs-oja", "gs-outlier-trimmed")))
    says(text, f"and {probe['gs-bcm'].mean():.3f} by the probe on layers 2-4")


def test_goodness_dead_unit_claims(goodness):
    text = section("Goodness study")

    def dead(comp, *layers):
        return pd.concat([seeds(goodness, comp, "sparsity", "dead_fraction", layer) for layer in layers])

    trimmed = dead("gs-outlier-trimmed", 3, 4)
    says(text, f"leaves {percent_span(trimmed).replace(' %', ' %')} of the units of layers 3 and 4")
    assert (trimmed > 0).all()
    says(text, f"(dead fraction {span(trimmed)}; sumsq: {span(dead('sumsq', 3, 4), '{:.2f}')})")
    bcm3, bcm4, margin4 = (
        percent_span(dead(c, k)) for c, k in [("gs-bcm", 3), ("gs-bcm", 4), ("gs-softmax-energy-margin", 4)]
    )
    says(text, f"`gs-bcm` {bcm3} of layer 3 and {bcm4} of layer 4")
    says(text, f"`gs-softmax-energy-margin` also reaches {margin4} at layer 4")
    layer2 = max(dead(c, 2).max() for c in comps_of(goodness))
    says(text, f"(dead fraction <= {layer2:.2f} for every function)")


def test_goodness_ff_accuracy_and_hoyer_claims(goodness):
    text = section("Goodness study")
    comps = comps_of(goodness)
    acc = {c: seeds(goodness, c, "accuracy", "accuracy") for c in comps}
    others = [c for c in comps if c != "gs-outlier-trimmed"]
    says(text, f"({pm(acc['gs-outlier-trimmed'])} against {span([acc[c].mean() for c in others])} for every other")
    assert all(st.separated(acc[c], acc["gs-outlier-trimmed"]) == 1 for c in others)
    worst_p = max(float(st.p_value(acc[c], acc["gs-outlier-trimmed"])) for c in others)
    says(text, f"separated from each of the {len(others)} at p ≤ {worst_p:.1g}")
    hoyer4 = {c: seeds(goodness, c, "sparsity", "sparsity", 4).mean() for c in comps}
    lowest = min(hoyer4, key=hoyer4.get)
    highest = sorted(c for c in comps if f"{hoyer4[c]:.2f}" == f"{max(hoyer4.values()):.2f}")
    says(text, f"ranges from {hoyer4[lowest]:.2f} (`{lowest}`) to {max(hoyer4.values()):.2f}")
    says(text, " (" + ", ".join(f"`{c}`" for c in sorted(highest, key=["gs-softmax-energy-margin", "gs-bcm"].index)))
    live = {c: seeds(goodness, c, "sparsity", "hoyer_live", 4).mean() for c in comps}
    says(text, f"layer 4 reads {live['gs-softmax-energy-margin']:.2f} and {live['gs-bcm']:.2f} for those two")
    trimmed = "gs-outlier-trimmed"
    says(text, f"and {live[trimmed]:.2f} for `{trimmed}` (Hoyer {hoyer4[trimmed]:.2f} over all units)")
    rest = [live[c] for c in comps if c not in ("gs-softmax-energy-margin", "gs-bcm", "gs-outlier-trimmed")]
    says(text, f"against {span(rest, '{:.2f}')} for the others")


def test_goodness_width_claims():
    text = section("One factor at a time")
    by_width = st._width_rows(str(ROOT / st.BOARDS["goodness"]))

    def width_seeds(width, comp, metric, stat, layer=None):
        return seeds(by_width[width], comp, metric, stat, layer)

    comps = st.WIDTH_GOODNESS
    dead2_wide = [width_seeds(2000, c, "sparsity", "dead_fraction", 2).mean() for c in comps]
    dead2_slice = [width_seeds(500, c, "sparsity", "dead_fraction", 2).mean() for c in comps]
    says(text, f"dead fraction of {min(dead2_wide):.2f} or more at layer 2", f"had at most {max(dead2_slice):.2f}")
    drops = [
        width_seeds(500, c, "linear-probe", "concat_accuracy").mean()
        - width_seeds(2000, c, "linear-probe", "concat_accuracy").mean()
        for c in comps
    ]
    says(text, f"the probe on layers 2-4 is {span(drops)} lower at width 2 000")
    says(text, f"the table makes {len(comps) * len(st.WIDTH_COLUMNS)} such tests")
    tested = {}  # (goodness, column) -> the Welch test, 2 000 vs 500
    for comp, column in itertools.product(comps, st.WIDTH_COLUMNS):
        wide, narrow = (st._width_values(by_width[w], comp, column) for w in (2000, 500))
        tested[comp, column[0]] = compare(wide.to_dict(), narrow.to_dict(), same_data=False)
    assert all(tested[c, "dead L2"].sign == 1 for c in comps)  # "separated for all four functions"
    weak = sorted(t.p for t in tested.values() if t.separated and t.p > 0.04)
    says(text, f"the rows with p = {weak[0]:.2g}-{weak[-1]:.2g} are weak evidence")
    probe_sep = [c for c in comps if tested[c, "probe L2-4"].separated]
    assert probe_sep == ["sumsq", "gs-outlier-trimmed"], probe_sep
    moved = {c: tested[c, "FF accuracy"] for c in comps if tested[c, "FF accuracy"].separated}
    assert {c: t.sign for c, t in moved.items()} == {"sumsq": 1, "gs-bcm": -1}
    says(text, f"(sumsq up, gs-bcm down, both at p = {moved['sumsq'].p:.2g}: weak)")
    assert f"{moved['gs-bcm'].p:.2g}" == f"{moved['sumsq'].p:.2g}"
    acc_moves = [
        abs(width_seeds(2000, c, "accuracy", "accuracy").mean() - width_seeds(500, c, "accuracy", "accuracy").mean())
        for c in moved
    ]
    assert all(round(m, 2) == 0.01 for m in acc_moves), acc_moves  # "by about 0.01 either way"


# -- negatives study ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def negatives() -> dict[str, pd.DataFrame]:
    return {v: st._load("negatives", None, v) for v in ("1", "2")}


def test_negatives_labelled_claims(negatives):
    text = section("Negatives study")
    rows = negatives["2"]
    acc = {c: seeds(rows, c, "accuracy", "accuracy") for c in comps_of(rows)}
    top = ("wrong-label", "ns-same-class", "ns-class-confusion")
    says(text, f"wrong-label {acc['wrong-label'].mean():.3f}, same-class {acc['ns-same-class'].mean():.3f} and")
    says(text, f"class-confusion {acc['ns-class-confusion'].mean():.3f} are not separated")
    assert all(st.separated(acc[a], acc[b]) == 0 for a, b in itertools.combinations(top, 2))
    ps = [float(st.p_value(acc[a], acc[b])) for a, b in itertools.combinations(top, 2)]
    says(text, f"(p = {min(ps):.2g}-{max(ps):.2g})")
    noise, confusion = acc["ns-noise"], acc["ns-class-confusion"]
    assert st.separated(acc["wrong-label"], noise) == 1 and st.separated(acc["ns-same-class"], noise) == 1
    assert st.separated(acc["ns-class-confusion"], noise) == 0
    says(
        text,
        f"noise {noise.mean():.3f} is below wrong-label and same-class (p = "
        f"{st.p_value(acc['wrong-label'], noise)}, {float(st.p_value(acc['ns-same-class'], noise)):.1g})",
        f"(p = {st.p_value(confusion, noise)}, whose seed std is {confusion.std():.3f})",
    )
    labelled = [c for c in comps_of(rows) if (rows.loc[rows["_component"] == c, "_group"] == "labelled").all()]
    hybrid, masking = acc["ns-hybrid-mix"], acc["ns-masking"]
    assert all(st.separated(acc[c], hybrid) == 1 for c in (*top, "ns-noise"))
    assert all(st.separated(acc[c], masking) == 1 for c in labelled if c != "ns-masking")
    stds = [acc[c].std() for c in labelled]
    says(text, f"hybrid-mix {hybrid.mean():.3f} is below all four, masking {masking.mean():.3f} below every other")
    says(text, f"(seed std {span(stds)})")
    says(text, f"({pm(noise)} vs {pm(hybrid)}, p = {st.p_value(noise, hybrid)})")
    says(text, f"({pm(acc['ns-class-confusion'])} vs {pm(acc['ns-same-class'])}) but not separated (p = ")
    pub = st.NEGATIVES_PUBLISHED
    says(text, f"published {pub['ns-hybrid-mix'][1]:.1f} vs {pub['ns-noise'][1]:.1f} %")
    says(text, f"published {pub['ns-class-confusion'][1]:.2f} vs {pub['ns-same-class'][1]:.2f} %")


def test_negatives_training_length_and_probe_claims(negatives):
    text = section("Negatives study")
    old, new = negatives["1"], negatives["2"]
    labelled = [c for c in comps_of(new) if (new.loc[new["_component"] == c, "_group"] == "labelled").all()]
    acc_old = {c: seeds(old, c, "accuracy", "accuracy") for c in labelled}
    acc_new = {c: seeds(new, c, "accuracy", "accuracy") for c in labelled}
    says(text, f"left labelled FF at {span([v.mean() for v in acc_old.values()], '{:.2f}')} accuracy")
    says(text, f"with seed std up to {max(v.std() for v in acc_old.values()):.3f}")
    rises = [acc_new[c].mean() - acc_old[c].mean() for c in labelled]
    says(text, f"accuracy rises by {span(rises, '{:.2f}')}")
    probe1 = [seeds(new, c, "linear-probe", "accuracy", 1).mean() for c in labelled]
    says(text, f"probe accuracy of layer 1 is {span(probe1)}")
    pixels = new.loc[(new["metric"] == "linear-probe") & (new["stat"] == "pixel_accuracy"), "value"]
    assert pixels.round(2).nunique() == 1
    says(text, f"(the pixel probe on the same 2 000 images reads {pixels.iloc[0]:.2f})")
    cka = {c: seeds(new, c, "cka", "cka_layer2", 1).mean() for c in labelled}
    changed = ("ns-hybrid-mix", "ns-masking")
    label_only = ("wrong-label", "ns-class-confusion", "ns-same-class", "ns-noise")
    says(text, f"({span([cka[c] for c in changed], '{:.2f}')} vs {span([cka[c] for c in label_only], '{:.2f}')})")
    hoyer = {c: seeds(new, c, "sparsity", "sparsity", 1).mean() for c in labelled}
    others = [hoyer[c] for c in labelled if c != "ns-hybrid-mix"]
    says(text, f"(Hoyer {hoyer['ns-hybrid-mix']:.3f} vs {span(others)} for the other {WORDS[len(others)]})")


def test_negatives_label_free_claims(negatives):
    text = section("Negatives study")
    rows = negatives["2"]
    acc = {c: seeds(rows, c, "accuracy", "accuracy") for c in comps_of(rows)}
    aware, image, mask, noise = (acc[c] for c in ("ns-class-aware-mix", "ns-image-mix", "ns-mask", "ns-random-noise"))
    assert st.separated(aware, image) == 0
    says(text, f"class-aware mix {pm(aware)} and image mix {pm(image)} (not separated from each other, p = ")
    says(text, f"p = {st.p_value(aware, image)})", f"then mask {pm(mask)} and random noise {pm(noise)}")
    assert st.separated(aware, mask) == st.separated(image, mask) == 1
    assert all(st.separated(x, noise) == 1 for x in (aware, image, mask))
    wrong, same = acc["wrong-label"], acc["ns-same-class"]
    assert st.separated(aware, wrong) == st.separated(image, wrong) == st.separated(image, same) == 0
    p_aware, p_image = (float(st.p_value(x, wrong)) for x in (aware, image))
    says(text, f"(p = {p_aware:.1g} and {p_image:.2g}), nor image mix from same-class (p = ")
    says(text, f"same-class (p = {float(st.p_value(image, same)):.1g})")
    pub = st.NEGATIVES_PUBLISHED
    says(text, f"random noise {pub['ns-random-noise'][1]:.1f} %, image mixing {pub['ns-image-mix'][1]:.1f} %")
    says(text, f"masking {pub['ns-mask'][1]:.1f} %")


def test_negatives_last_layer_claims():
    text = section("The study's readout")
    last = st._last_layer_accuracy(str(ROOT / st.BOARDS["negatives"]))
    both = st._load("negatives", None, "2")
    for comp in st.READOUT_NEGATIVES:
        assert st.separated(seeds(both, comp, "accuracy", "accuracy"), last[comp]) == 1, comp
    says(text, f"(separated for all {WORDS[len(st.READOUT_NEGATIVES)]})")
    pairs = len(st.READOUT_NEGATIVES) - 1  # the published order's adjacent pairs
    says(text, f"{WORDS[pairs].capitalize()} adjacent pairs tested at 0.05: about {0.05 * pairs:.1f} false separations")


def published_pair_verdicts(rows: pd.DataFrame) -> list[int]:
    """The seeds' verdict on every pair of labelled strategies the published MNIST accuracy orders."""
    comps = [c for c in comps_of(rows) if st.published_score("negatives", c, 1) is not None]
    acc = {c: seeds(rows, c, "accuracy", "accuracy") for c in comps}
    out = []
    for a, b in itertools.combinations(comps, 2):
        hi, lo = sorted((a, b), key=lambda c: -st.published_score("negatives", c, 1))
        out.append(st.separated(acc[hi], acc[lo]))
    return out


def test_negatives_pair_counts(negatives):
    text = section("Negatives study")
    new, old = (published_pair_verdicts(negatives[v]) for v in ("2", "1"))
    n = len(new)
    says(
        text,
        f"Of the {n} published pairs {new.count(1)} keep the published order with separated seeds, "
        f"{new.count(-1)} is reversed with separated seeds, {new.count(0)} are within seed noise "
        f"({0.05 * n:.1f} separations expected by chance)",
    )
    says(text, f"and {old.count(0)} of the {len(old)} pairs within seed noise")
    says(text, f"and {new.count(1) + new.count(-1)} of the {n} separate")
    method = section("The slices run here")
    goodness_pairs = sum(
        1
        for a, b in itertools.combinations(sorted(st.GOODNESS_PUBLISHED), 2)
        if st.GOODNESS_PUBLISHED[a][1] != st.GOODNESS_PUBLISHED[b][1]
    )
    says(method, f"({0.05 * goodness_pairs:.1f} of the goodness study's {goodness_pairs} pairs, {0.05 * n:.1f}")
    says(method, f"of the negatives study's {n})")
