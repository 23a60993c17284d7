"""The tables of docs/studies.md, from the committed study boards: each study's published
single-run numbers beside ffbench's mean ± std over seeds, and which of the published orderings
the seeds can tell apart.

    python scripts/study_tables.py goodness [BOARD] [--version N]
    python scripts/study_tables.py negatives [BOARD] [--version N]
    python scripts/study_tables.py goodness-width [BOARD]   # width 500 beside the protocol's 2 000
    python scripts/study_tables.py negatives-readout [BOARD]   # both layers vs the last layer (the study's readout)

BOARD defaults to leaderboards/goodness-study/fashion-mnist-mini.parquet (resp.
negatives-study/...); rows of version N (default: the latest) of the study's `-cpu` suite are used.

**Separated** (the rank column and the last table) is decided by the boards' own test,
ffbench.leaderboard.separation (leaderboards/SCHEMA.md, "Ranks"): a paired t-test on the per-seed
differences over the seeds two components share (seed s starts both from the same weights and
batches on the same data), two-sided at 0.05 per pair, at least 3 seeds each. Components that
are not separated are "within seed noise": the seeds cannot tell their order, which does not make
them equal. The level holds per pair: over many pairs about 0.05 x pairs separations are expected
by chance where nothing differs, so the counts over all pairs come with that number.
"""

from __future__ import annotations

import argparse
import itertools

import pandas as pd

from ffbench.leaderboard.separation import ALPHA, compare, expected_false_separations, rank_configurations

# -- published numbers ------------------------------------------------------------------------------
#
# Shah & Tripathi, "In Search of Goodness" (arXiv 2511.18567): the Fashion-MNIST table of the
# project page (github.com/aryashah2k/In-Search-of-Goodness, index.html at commit e83e5515,
# "Results", "2. FashionMNIST"); one run per function (seed 42 in config.yaml), 4 x 2000, full data.
# "readout" = Class. Acc. (linear classifier on layers 2-4 with a neutral label), "multi-pass" =
# Multi-pass Acc. (label scored by the sum of squares of layers 2-4, whatever goodness trained).
# Names that compute the same function share one ffbench component (docs/goodness_study.md); the
# aliases of sumsq (hebbian, gaussian_energy, l2_normalized_energy, pca_energy, tempered_energy,
# whitened_energy) publish exactly sum_of_squares' numbers, and nt_xent exactly info_nce's.
GOODNESS_PUBLISHED = {
    # ffbench goodness: (published name, readout, multi-pass)
    "sumsq": ("sum_of_squares (+6 aliases)", 0.8246, 0.8487),
    "gs-sparse-l1": ("sparse_l1_local", 0.8209, 0.8536),
    "gs-huber-norm": ("huber_norm_local", 0.8341, 0.8573),
    "gs-oja": ("oja_local", 0.1337, 0.8059),
    "gs-outlier-trimmed": ("outlier_trimmed_energy_local", 0.3155, 0.1678),
    "gs-attention-weighted": ("attention_weighted_local", 0.8338, 0.8594),
    "gs-game-theoretic": ("game_theoretic_local", 0.8323, 0.8586),
    "gs-fractal-dimension": ("fractal_dimension_local", 0.8449, 0.8540),
    "gs-info-nce": ("info_nce_local = nt_xent_local", 0.7860, 0.8471),
    "gs-decorrelation": ("decorrelation_local", 0.8243, 0.8556),
    "gs-softmax-energy-margin": ("softmax_energy_margin_local", 0.8284, 0.8632),
    "gs-triplet-margin": ("triplet_margin_local", 0.7887, 0.8585),
    "gs-bcm": ("bcm_local", 0.1023, 0.1000),
    "gs-predictive-coding": ("predictive_coding_local", 0.8539, 0.8625),
}

# "Beyond Backpropagation" (github.com/koriyoshi2041/ff-negative-samples): MNIST test accuracy of
# the fair comparison (README at commit 84c0ac6a, "1. Fair Negative Sample Strategy Comparison";
# experiments/fair_strategy_comparison.py: 784-500-500, 1000 full-batch epochs per layer, seed 42,
# one run). The label-free strategies: MNIST linear-probe accuracy after 10 epochs of batch 128
# (results/fair_comparison_summary.md at commit b6fda6a1, "Results Table"), a different protocol.
# Everything is on MNIST; ffbench's runs are on Fashion-MNIST: compare orders, not values.
NEGATIVES_PUBLISHED = {
    # ffbench negatives: (published name, MNIST accuracy %, protocol)
    "wrong-label": ("wrong_label", 94.50, "fair comparison"),
    "ns-class-confusion": ("class_confusion", 92.15, "fair comparison"),
    "ns-same-class": ("same_class_diff_img", 92.06, "fair comparison"),
    "ns-hybrid-mix": ("hybrid_mix", 63.37, "fair comparison"),
    "ns-noise": ("noise_augmented", 46.10, "fair comparison"),
    "ns-masking": ("masked", 30.97, "fair comparison"),
    "ns-image-mix": ("image_mixing", 17.79, "10 epochs, linear probe"),
    "ns-random-noise": ("random_noise", 78.09, "10 epochs, linear probe"),
    "ns-mask": ("masking", 10.30, "10 epochs, linear probe"),
    "ns-class-aware-mix": ("class_aware_mixing", None, "not published"),
}

BOARDS = {
    "goodness": "leaderboards/goodness-study/fashion-mnist-mini.parquet",
    "negatives": "leaderboards/negatives-study/fashion-mnist-mini.parquet",
}
SUITES = {"goodness": "goodness-study-cpu", "negatives": "negatives-study-cpu"}
COMPONENT = {"goodness": "goodness", "negatives": "negatives"}

#: (header, metric, stat, layer or None, format)
COLUMNS = {
    "goodness": [
        ("probe L2-4", "linear-probe", "concat_accuracy", None, "{:.3f}"),
        ("FF accuracy", "accuracy", "accuracy", None, "{:.3f}"),
        ("probe L1", "linear-probe", "accuracy", 1, "{:.3f}"),
        ("probe L4", "linear-probe", "accuracy", 4, "{:.3f}"),
        ("Hoyer L1", "sparsity", "sparsity", 1, "{:.3f}"),
        ("Hoyer L4", "sparsity", "sparsity", 4, "{:.3f}"),
        ("train s", "cost", "train_seconds", None, "{:.0f}"),
    ],
    "negatives": [
        ("FF accuracy", "accuracy", "accuracy", None, "{:.3f}"),
        ("probe L1", "linear-probe", "accuracy", 1, "{:.3f}"),
        ("probe L2", "linear-probe", "accuracy", 2, "{:.3f}"),
        ("Hoyer L1", "sparsity", "sparsity", 1, "{:.3f}"),
        ("CKA L1-L2", "cka", "cka_layer2", 1, "{:.3f}"),
        ("train s", "cost", "train_seconds", None, "{:.0f}"),
    ],
}
#: (published column, the ffbench column it is compared with), per study. Not compared: the
#: goodness study's multi-pass accuracy, which scores every function with the sum of squares
#: whatever goodness was trained (docs/goodness_study.md, caveat 3), against ffbench's accuracy,
#: which scores with the trained goodness: a different quantity by construction.
RANKED = {
    "goodness": [("readout", "probe L2-4")],
    "negatives": [("MNIST accuracy", "FF accuracy")],
}
NO_STD = {"train s"}


def study_rows(study: str, board: str, version: str | None = None) -> pd.DataFrame:
    """The board's aggregate rows made by one version of the study's CPU suite (default: the
    latest), as tagged by `ffbench run --suite`."""
    df = pd.read_parquet(board)
    tagged = df[df["suite"] == SUITES[study]]
    if tagged.empty:
        raise SystemExit(f"{board} has no rows of suite {SUITES[study]}")
    version = version or max(tagged["suite_version"].dropna(), key=int)
    rows = tagged[(tagged["suite_version"] == version) & tagged["class"].isna() & tagged["class_b"].isna()].copy()
    if rows.empty:
        raise SystemExit(f"{board} has no rows of suite {SUITES[study]} version {version}")
    rows["_component"] = rows[COMPONENT[study]].str.partition("[")[0]
    rows["_group"] = rows["rule_id"].map(lambda r: "label-free" if "label=none" in r else "labelled")
    return rows


def seed_values(rows: pd.DataFrame, component: str, column: str) -> pd.Series:
    """One value per seed of a component for the column named ``column`` (a COLUMNS header)."""
    _, metric, stat, layer, _ = next(c for c in COLUMNS[rows.attrs["study"]] if c[0] == column)
    sel = rows[(rows["_component"] == component) & (rows["metric"] == metric) & (rows["stat"] == stat)]
    sel = sel[sel["layer"].isna()] if layer is None else sel[sel["layer"] == layer]
    return sel.groupby("seed")["value"].last()


def _cell(values: pd.Series, fmt: str, header: str) -> str:
    if values.empty or values.isna().all():
        return "–"
    if header in NO_STD or len(values) < 2:
        return fmt.format(values.mean())
    return f"{fmt.format(values.mean())} ± {fmt.format(values.std())}"


def _load(study: str, board: str | None, version: str | None) -> pd.DataFrame:
    rows = study_rows(study, board or BOARDS[study], version)
    rows.attrs["study"] = study
    return rows


def _published_cells(study: str, name: str) -> list[str]:
    if study == "goodness":
        pub_name, readout, multi = GOODNESS_PUBLISHED.get(name, ("–", None, None))
        return [pub_name, "–" if readout is None else f"{readout:.3f}", "–" if multi is None else f"{multi:.3f}"]
    pub_name, acc, protocol = NEGATIVES_PUBLISHED.get(name, ("–", None, "–"))
    return [pub_name, "–" if acc is None else f"{acc / 100:.3f}", protocol]


def table(study: str, board: str | None = None, version: str | None = None) -> str:
    """Published numbers beside ffbench's mean ± std per component, in the published order; the
    rank on the first ranked ffbench column is 1 + the components the seeds separate above it
    (:func:`separated`), within labelled and within label-free FF (their accuracies come from
    different inference: label scores vs a linear readout)."""
    rows = _load(study, board, version)
    published = GOODNESS_PUBLISHED if study == "goodness" else NEGATIVES_PUBLISHED
    pub_head = ["published name", "published readout", "published multi-pass"]
    if study == "negatives":
        pub_head = ["published name", "published (MNIST)", "published protocol"]
    ranked = RANKED[study][0][1]
    cols = COLUMNS[study]
    comps = sorted(set(rows["_component"]))
    group = {c: rows.loc[rows["_component"] == c, "_group"].iloc[0] for c in comps}
    means = {c: seed_values(rows, c, ranked).mean() for c in comps}
    rank = {}
    for g in set(group.values()):
        members = {c: seed_values(rows, c, ranked).to_dict() for c in comps if group[c] == g}
        ranks = rank_configurations(members, higher_is_better=True).ranks
        suffix = " (label-free)" if g == "label-free" else ""
        rank.update({c: f"{ranks[c]}{suffix}" if c in ranks else f"–{suffix}" for c in members})
    heads = [COMPONENT[study], *pub_head, *(c[0] for c in cols), f"rank ({ranked})", "seeds"]
    lines = [f"| {' | '.join(heads)} |", "|---" * len(heads) + "|"]
    order = [c for c in published if c in means] + sorted(c for c in means if c not in published)
    for comp in order:
        cells = [_cell(seed_values(rows, comp, h), f, h) for h, _, _, _, f in cols]
        seeds = rows.loc[rows["_component"] == comp, "seed"].nunique()
        lines.append(f"| {comp} | {' | '.join(_published_cells(study, comp) + cells)} | {rank[comp]} | {seeds} |")
    return "\n".join(lines)


def separated(a: pd.Series, b: pd.Series) -> int:
    """+1 if the seeds separate a above b, -1 if b above a, else 0 (also when either has fewer than
    3 seeds with a value): the boards' test (paired t over shared seeds, Welch otherwise;
    two-sided, 0.05 per pair). ``a``, ``b``: values indexed by seed."""
    return compare(a.to_dict(), b.to_dict()).sign


def p_value(a: pd.Series, b: pd.Series) -> str:
    """The test's two-sided p for a vs b, to 2 significant digits ("–" where not tested)."""
    s = compare(a.to_dict(), b.to_dict())
    return "–" if not s.test else f"{s.p:.2g}"


def published_score(study: str, name: str, which: int) -> float | None:
    """The published number ``which`` (goodness: 1 readout, 2 multi-pass; negatives: 1, the fair
    comparison's accuracy as a fraction) of a component, None where there is none."""
    if study == "goodness":
        return GOODNESS_PUBLISHED[name][which] if name in GOODNESS_PUBLISHED else None
    entry = NEGATIVES_PUBLISHED.get(name)
    return entry[1] / 100 if entry and entry[2] == "fair comparison" else None


VERDICT = {1: "same order, separated", -1: "reversed, separated", 0: "within seed noise"}


def ranking_table(study: str, board: str | None = None, version: str | None = None) -> str:
    """For each published ranking: its adjacent pairs (the ranking step by step) with ffbench's
    verdict, then the verdicts over every pair."""
    rows = _load(study, board, version)
    out = []
    for which, (published_col, column) in enumerate(RANKED[study], start=1):
        comps = [c for c in sorted(set(rows["_component"])) if published_score(study, c, which) is not None]
        comps.sort(key=lambda c: -published_score(study, c, which))
        vals = {c: seed_values(rows, c, column) for c in comps}
        out += [
            f"Published {published_col} order vs ffbench {column}, adjacent pairs:",
            "",
            "| published higher | published lower | published gap | ffbench gap (means) | p (paired t) | seeds say |",
            "|---|---|---|---|---|---|",
        ]
        for hi, lo in zip(comps, comps[1:]):
            gap = published_score(study, hi, which) - published_score(study, lo, which)
            verdict = VERDICT[separated(vals[hi], vals[lo])]
            diff = vals[hi].mean() - vals[lo].mean()
            out.append(f"| {hi} | {lo} | {gap:+.3f} | {diff:+.3f} | {p_value(vals[hi], vals[lo])} | {verdict} |")
        counts = dict.fromkeys(VERDICT.values(), 0)
        for hi, lo in itertools.combinations(comps, 2):
            if published_score(study, hi, which) != published_score(study, lo, which):
                counts[VERDICT[separated(vals[hi], vals[lo])]] += 1
        summary = ", ".join(f"{v} {k}" for k, v in counts.items())
        pairs = sum(counts.values())
        out += [
            "",
            f"All {pairs} pairs with a published difference: {summary} (each pair tested at "
            f"{ALPHA:g}, uncorrected: where no component differed, about "
            f"{expected_false_separations(pairs):.1f} of the {pairs} would be separated by chance).",
            "",
        ]
    return "\n".join(out).rstrip()


#: The negatives study reads FF's label scores from the last layer only; the slice reads both layers
#: (ffbench's default). The same models, scored from the last layer (``skip_first=true`` on the
#: 2-layer network: training is unchanged, only inference differs), for the labelled strategies of
#: the published order except masking, run point by point (no suite tag): rows chosen by rule id.
READOUT_NEGATIVES = ("wrong-label", "ns-class-confusion", "ns-same-class", "ns-hybrid-mix", "ns-noise")


def _last_layer_accuracy(board: str) -> dict[str, pd.Series]:
    df = pd.read_parquet(board)
    df = df[
        df["rule_id"].str.contains("skip_first=true", regex=False)
        & df["rule_id"].str.contains("layers=2", regex=False)
        & (df["metric"] == "accuracy")
        & (df["stat"] == "accuracy")
        & df["class"].isna()
    ]
    df = df.assign(_component=df["negatives"].str.partition("[")[0])
    return {c: df[df["_component"] == c].groupby("seed")["value"].last() for c in READOUT_NEGATIVES}


def readout_table(board: str | None = None) -> str:
    """The slice's labelled strategies read by both layers (the suite's rows) and by the last layer
    only (the study's inference), per strategy, then the published order's adjacent pairs under
    each readout (paired t over the shared seeds: the two readouts score one trained model)."""
    board = board or BOARDS["negatives"]
    rows = _load("negatives", board, None)
    both = {c: seed_values(rows, c, "FF accuracy") for c in READOUT_NEGATIVES}
    last = _last_layer_accuracy(board)
    lines = [
        "| negatives | published (MNIST) | FF accuracy, both layers | FF accuracy, last layer | last - both "
        "| p (paired t) |",
        "|---|---|---|---|---|---|",
    ]
    for c in READOUT_NEGATIVES:
        diff = last[c].mean() - both[c].mean() if len(last[c]) else float("nan")
        lines.append(
            f"| {c} | {published_score('negatives', c, 1):.3f} | {_cell(both[c], '{:.3f}', '')} | "
            f"{_cell(last[c], '{:.3f}', '')} | {diff:+.3f} | {p_value(last[c], both[c])} |"
        )
    lines += [
        "",
        "| published higher | published lower | both layers: gap, p | seeds say | last layer: gap, p | seeds say |",
        "|---|---|---|---|---|---|",
    ]
    for hi, lo in zip(READOUT_NEGATIVES, READOUT_NEGATIVES[1:]):
        cells = []
        for vals in (both, last):
            gap = vals[hi].mean() - vals[lo].mean()
            cells += [f"{gap:+.3f}, p = {p_value(vals[hi], vals[lo])}", VERDICT[separated(vals[hi], vals[lo])]]
        lines.append(f"| {hi} | {lo} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


#: The goodness study at the protocol's width: 4 x 2 000 on the embedded data (the rule of the CPU
#: slice with width=2000, run point by point), beside the slice's 4 x 500, for sumsq and the three
#: functions the study reports collapsing.
WIDTH_SLICE = "goodness-study-cpu"
WIDTHS = (500, 2000)
WIDTH_GOODNESS = ("sumsq", "gs-oja", "gs-outlier-trimmed", "gs-bcm")
WIDTH_COLUMNS = [
    ("probe L2-4", "linear-probe", "concat_accuracy", None, "{:.3f}"),
    ("FF accuracy", "accuracy", "accuracy", None, "{:.3f}"),
    *((f"dead L{k}", "sparsity", "dead_fraction", k, "{:.2f}") for k in (1, 2, 3, 4)),
]


def _width_rows(board: str) -> dict[int, pd.DataFrame]:
    """Width -> the board's rows of the slice's rule at that width (the slice's latest version)."""
    df = pd.read_parquet(board)
    df = df[df["class"].isna() & df["class_b"].isna()]
    tagged = df[df["suite"] == WIDTH_SLICE]
    tagged = tagged[tagged["suite_version"] == max(tagged["suite_version"].dropna(), key=int)]
    rule = tagged["rule_id"].iloc[0]
    out = {}
    for width in WIDTHS:
        rows = df[df["rule_id"] == rule.replace("width=500", f"width={width}")]
        if width == 500:
            rows = tagged
        out[width] = rows.assign(_component=rows["goodness"].astype("string").str.split("[").str[0])
    return out


def width_table(board: str | None = None) -> str:
    """Per goodness function, the CPU slice (width 500) beside the protocol's width (2 000) on the
    same embedded data and training, mean ± std over seeds; the last column: the columns in which
    the two widths are separated (Welch t: different widths are different networks, so seeds do
    not pair), with the direction."""
    by_width = _width_rows(board or BOARDS["goodness"])
    heads = ["goodness", "width", "seeds", *(c[0] for c in WIDTH_COLUMNS), "2 000 vs 500 (Welch t)"]
    lines = [f"| {' | '.join(heads)} |", "|---" * len(heads) + "|"]
    for comp in WIDTH_GOODNESS:
        for width, rows in by_width.items():
            seeds = rows.loc[rows["_component"] == comp, "seed"].nunique()
            cells = [_cell(_width_values(rows, comp, c), c[4], c[0]) for c in WIDTH_COLUMNS]
            verdict = _width_verdict(by_width, comp) if width == 2000 else ""
            lines.append(f"| {comp} | {width} | {seeds} | {' | '.join(cells)} | {verdict} |")
    return "\n".join(lines)


def _width_values(rows: pd.DataFrame, comp: str, column: tuple) -> pd.Series:
    _, metric, stat, layer, _ = column
    sel = rows[(rows["_component"] == comp) & (rows["metric"] == metric) & (rows["stat"] == stat)]
    sel = sel[sel["layer"].isna()] if layer is None else sel[sel["layer"] == layer]
    return sel.groupby("seed")["value"].last()


def _width_verdict(by_width: dict[int, pd.DataFrame], comp: str) -> str:
    parts = []
    for column in WIDTH_COLUMNS:
        wide, narrow = (_width_values(by_width[w], comp, column) for w in (2000, 500))
        s = compare(wide.to_dict(), narrow.to_dict(), same_data=False)
        if not s.test:
            return f"not tested (2 000: {s.n_a} seeds)"
        if s.separated:
            parts.append(f"{column[0]} {'higher' if s.sign > 0 else 'lower'} (p = {s.p:.2g})")
    return "; ".join(parts) or "none separated"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("study", choices=[*sorted(BOARDS), "goodness-width", "negatives-readout"])
    ap.add_argument("board", nargs="?", help="a study board (default: the committed one)")
    ap.add_argument("--version", help="the suite version whose rows to show (default: the latest)")
    a = ap.parse_args()
    if a.study == "goodness-width":
        print(width_table(a.board))
        return
    if a.study == "negatives-readout":
        print(readout_table(a.board))
        return
    print(table(a.study, a.board, a.version))
    print()
    print(ranking_table(a.study, a.board, a.version))


if __name__ == "__main__":
    main()
