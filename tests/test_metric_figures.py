"""Figures belong to metrics: the figure contract (``Metric.figures``, ffbench.report.figure_api),
the built-in metrics' figures on hand-made data, a plugin's figure end to end (the example
plugin's `lifetime-sparsity` through `ffbench run` and `ffbench report`), and what a report does
with figures it cannot draw (a metric whose plugin is not installed, a draw that fails, a name
that is taken)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from matplotlib.collections import PathCollection
from test_report import (
    CLASSES,
    COLOURS,
    PER_CLASS,
    TAU,
    UNITS,
    check_figure,
    check_png,
    fabricate_results,
    fake_activity,
    loo_ensembles,
    matplotlib_rgb,
)
from typer.testing import CliRunner

from ffbench.contracts import Metric, MetricResult, MetricRow
from ffbench.errors import FFBenchError
from ffbench.registry import Entry, get_registry
from ffbench.report import build_report
from ffbench.report import figures as F
from ffbench.report.figure_api import Artifact, FigureSpec, NotDrawn, choose_class
from ffbench_plugins.metrics import ensembles_figures as E
from ffbench_plugins.metrics import excitation_figures as X
from ffbench_plugins.metrics import sparsity_figures as S

# -- the contract ---------------------------------------------------------------------------


def test_figure_spec_checks_its_name_and_draw():
    spec = FigureSpec("lifetime-by-layer", "Lifetime", lambda view: None)
    assert not spec.per_model and spec.description == ""
    for bad in ("Lifetime", "by layer", "-x", "a_b", ""):
        with pytest.raises(ValueError, match=re.escape(f"Bad figure name {bad!r}")):
            FigureSpec(bad, "t", lambda view: None)
    with pytest.raises(TypeError, match="draw must be callable, got str"):
        FigureSpec("x", "t", "draw")
    assert spec.stats == () and FigureSpec("x", "t", len, stats=["a", "b"]).stats == ("a", "b")
    with pytest.raises(TypeError, match="stats must be a tuple of stat names, got 'sparsity'"):
        FigureSpec("x", "t", len, stats="sparsity")


def test_metric_declares_no_figure_by_default_and_built_ins_declare_theirs():
    assert Metric.figures() == []
    registry = get_registry()
    names = {
        m: [s.name for s in registry.get("metric", m).cls.figures()]
        for m in ("loo-ensembles", "jaccard", "unseen-category", "excitation", "sparsity", "accuracy")
    }
    assert names == {
        "loo-ensembles": ["activation-maps", "class-mean"],
        "jaccard": ["jaccard"],
        "unseen-category": ["unseen-category"],
        "excitation": ["excitation"],
        "sparsity": ["sparsity-by-layer", "accuracy-vs-sparsity"],
        "accuracy": [],
    }


def test_artifact_names_what_is_missing():
    art = Artifact(
        "jaccard",
        "ff0",
        {"jaccard_L2": np.eye(2), "jaccard_L10": np.eye(2), "shared_L1": np.eye(2)},
        {"classes": ["a", "b"]},
    )
    assert art.layers("jaccard") == [2, 10] and art.layers("shared") == [1] and art.layers("rho") == []
    assert art.field("classes") == ["a", "b"]
    with pytest.raises(
        NotDrawn,
        match=r"jaccard artifact of run ff0 has no array 'jaccard_L1' "
        r"\(it has: jaccard_L10, jaccard_L2, shared_L1\)",
    ):
        art.array("jaccard_L1")
    with pytest.raises(NotDrawn, match="has no 'holdout' field"):
        art.field("holdout")


def test_choose_class():
    classes = ["T-shirt/top", "Trouser", "trouser"]
    assert choose_class(None, classes) == 0
    assert choose_class("trouser", classes) == 2 and choose_class("TROUSER", classes) == 1
    with pytest.raises(FFBenchError, match=r"Unknown class 'Bag'\. Valid classes: T-shirt/top, Trouser, trouser\."):
        choose_class("Bag", classes)


@pytest.fixture()
def ens() -> E.Ensembles:
    labels, layers = fake_activity(np.random.default_rng(1), missing_class=3)
    return E.Ensembles(
        CLASSES, [E.LayerEnsembles(l, m, e, s) for l, (s, m, e) in enumerate(layers, start=1)], labels, TAU
    )


# -- the built-in metrics' figures on hand-made data ----------------------------------------------------------


def test_loo_threshold_is_the_loo_rule(ens):
    for layer in ens.layers:
        for k in range(len(CLASSES)):
            m = layer.class_mean[k].astype(np.float64)
            assert ((m > E.loo_threshold(m, TAU)) == loo_ensembles(m[None], TAU)[0]).all()
    # by hand: m = (4, 1, 1, 1), tau = 1: threshold 2 * 7 / 5 = 2.8; unit 0: (4 - 1) / 1 = 3 > 1
    assert E.loo_threshold(np.array([4.0, 1, 1, 1]), 1.0) == pytest.approx(2.8)


def test_activation_maps(ens, tmp_path):
    fig = E.activation_maps(ens, "ff (seed 0)")
    assert len([ax for ax in fig.axes if ax.get_label() != "<colorbar>"]) == 2
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == CLASSES
    image = ax.get_images()[0].get_array()
    rows = PER_CLASS + max(2, PER_CLASS // 5)
    assert image.shape == (len(CLASSES) * rows, UNITS)
    assert np.ma.getmaskarray(image)[3 * rows : 3 * rows + PER_CLASS].all()  # class 3 has no sample: grey
    ticks = sum(len(c.get_segments()) for c in ax.collections)
    assert ticks == int(ens.layers[0].ensemble.sum())  # one orange tick per ensemble unit
    check_figure(fig, tmp_path / "maps.png")


def test_class_mean_activity(ens, tmp_path):
    fig = E.class_mean_activity(ens, 1, "ff (seed 0)", COLOURS["ff"])
    ax = fig.axes[0]
    other, members = ax.collections[:2]
    assert len(members.get_segments()) == int(ens.layers[0].ensemble[1].sum()) == 5
    assert len(other.get_segments()) == UNITS - 5
    assert members.get_colors()[0][:3] == pytest.approx(matplotlib_rgb(COLOURS["ff"]))
    assert "Trouser" in fig._suptitle.get_text()
    check_figure(fig, tmp_path / "mean.png")
    empty = E.class_mean_activity(ens, 3, "ff (seed 0)", COLOURS["ff"])  # no Dress sample was read
    assert "no test sample of 'Dress'" in empty.axes[0].texts[0].get_text() and not empty.axes[0].collections


def test_jaccard_maps(tmp_path):
    j = np.eye(len(CLASSES))
    j[0, 6] = j[6, 0] = 0.5
    sizes = np.arange(1, len(CLASSES) + 1)
    fig = E.jaccard_maps([j, j, j], CLASSES, "ff", [1, 2, 3], [sizes] * 3)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == CLASSES
    assert ax.get_yticklabels()[6].get_text() == "Shirt (7)"
    cells = {(t.get_position(), t.get_text()) for t in ax.texts}
    assert ((6, 0), "0.50") in cells and ((0, 6), "0.50") in cells
    assert len(ax.texts) == len(CLASSES) * (len(CLASSES) - 1)  # diagonal left blank
    check_figure(fig, tmp_path / "jaccard.png")


def test_unseen_category(tmp_path):
    labels, layers = fake_activity(np.random.default_rng(2))
    ens = E.Ensembles(CLASSES, [E.LayerEnsembles(l, m, e, s) for l, (s, m, e) in enumerate(layers, 1)], labels, TAU)
    overlap = [np.linspace(0, 0.9, len(CLASSES))] * 2
    fig = E.unseen_category(ens, 8, overlap, "ff", COLOURS["ff"])
    ax_map = fig.subfigs[0].axes[0]
    bag = ax_map.get_yticklabels()[8]
    assert bag.get_text() == "Bag (unseen)" and bag.get_color() == E.UNSEEN_COLOUR
    ax_bar = fig.subfigs[0].axes[1]
    assert len(ax_bar.patches) == len(CLASSES) - 1  # every seen class, not the unseen one
    assert ax_bar.patches[-1].get_width() == pytest.approx(0.9)
    check_figure(fig, tmp_path / "unseen.png")


def test_excitation_histograms(tmp_path):
    edges = np.linspace(0, 1, 11)
    rho = {"ff": {1: np.full(10, 0.25), 2: np.full(10, 0.35)}, "bp": {1: np.full(10, 0.55), 2: np.full(10, 0.55)}}
    fig = X.excitation_histograms(rho, edges, COLOURS, "rho+")
    assert [ax.get_title() for ax in fig.axes] == ["Layer 1", "Layer 2"]
    ff_fill = fig.axes[0].patches[0]  # all of ff's layer-1 units in the bin [0.2, 0.3): density 10
    assert ff_fill.get_path().vertices[:, 1].max() == pytest.approx(10.0)
    check_figure(fig, tmp_path / "rho.png")


# -- the sparsity metric's figures ------------------------------------------------------------


def board_of(results, path):
    """A leaderboard of ``results`` (per-seed rows kept, as `ffbench leaderboard update` writes it)."""
    from ffbench import results_store
    from ffbench.leaderboard import board_rows, write_board

    write_board(board_rows(results_store.read(results)), path)
    return path


def views(tmp_path, metrics=("accuracy", "sparsity")):
    """The sparsity metric's ComparisonView over a fabricated results file (2 seeds) and over its board."""
    from ffbench import results_store
    from ffbench.report.board_report import BoardReport
    from ffbench.report.figure_api import ComparisonView
    from ffbench.report.results_report import ResultsReport
    from ffbench.report.source import read_source

    path = fabricate_results(tmp_path / "r.parquet", seeds=2, metrics=metrics)
    board = read_source(board_of(path, tmp_path / "board.parquet"))
    results = ResultsReport(results_store.read(path), path, tmp_path / "out")
    return (
        ComparisonView(results, "sparsity"),
        ComparisonView(
            BoardReport(board.frame, tmp_path / "board.parquet", tmp_path / "b", board.seed_rows), "sparsity"
        ),
    )


def test_sparsity_by_layer_draws_the_rows(tmp_path):
    for view in views(tmp_path):  # the results file, then its board: the same bars and dots
        fig, caption = S.draw_sparsity_by_layer(view)
        ax = fig.axes[0]
        # ff: (0.62, 0.71) + 0.02 * seed over seeds 0, 1; bp: (0.30, 0.28) + 0.02 * seed
        assert sorted(round(p.get_height(), 6) for p in ax.patches) == [0.29, 0.31, 0.63, 0.72]
        dots = np.concatenate([c.get_offsets() for c in ax.collections if isinstance(c, PathCollection)])
        assert sorted(dots[:, 1].round(6).tolist()) == [0.28, 0.3, 0.3, 0.32, 0.62, 0.64, 0.71, 0.73]  # every seed
        assert ax.get_title() == "Hoyer sparsity per layer" and ax.get_ylabel().startswith("Hoyer sparsity")
        assert caption == "Hoyer sparsity per layer, every series"


def test_accuracy_vs_sparsity_pairs_accuracy_with_each_layer(tmp_path):
    results, board = views(tmp_path)
    points = S.accuracy_sparsity_points(results).sort_values(["series", "layer", "run_id"])
    ff = points[points["series"] == "ff"]
    # a dot per run point: ff seed 0 (sparsity 0.62, 0.71; accuracy 0.80), seed 1 (+ 0.02 each)
    assert ff[["layer", "x", "y"]].round(6).values.tolist() == [
        [1, 0.62, 0.80],
        [1, 0.64, 0.82],
        [2, 0.71, 0.80],
        [2, 0.73, 0.82],
    ]
    assert len(points) == 8
    fig, caption = S.draw_accuracy_vs_sparsity(results)
    assert caption == "Accuracy vs sparsity per layer"
    assert fig._suptitle.get_text() == "Accuracy vs Hoyer sparsity"
    assert fig.axes[0].collections[0].get_offsets().round(6).tolist() == [[0.62, 0.80], [0.64, 0.82]]  # ff first
    # from a board: a dot per series, mean and std over seeds (std of two values 0.02 apart: 0.0141)
    agg = S.accuracy_sparsity_points(board).set_index(["series", "layer"])
    assert agg.loc[("ff", 1), ["x", "y"]].round(6).tolist() == [0.63, 0.81]
    assert agg.loc[("bp", 2), ["x", "y"]].round(6).tolist() == [0.29, 0.85]
    assert agg.loc[("ff", 1), ["x_std", "y_std"]].tolist() == pytest.approx([0.02 / 2**0.5] * 2)
    fig = S.draw_accuracy_vs_sparsity(board)[0]
    drawn = {tuple(c.lines[0].get_xydata().round(6)[0]) for c in fig.axes[0].containers}
    assert drawn == {(0.63, 0.81), (0.31, 0.85)}  # layer 1: one dot per series


def test_sparsity_figures_without_the_sparsity_metric(tmp_path):
    path = fabricate_results(tmp_path / "r.parquet", seeds=1, metrics=("accuracy",))
    report = build_report(path, tmp_path / "out")
    sections = {s.key: s for s in report.sections}
    for key in ("sparsity-by-layer", "accuracy-vs-sparsity"):  # a results file lists them as not run
        assert not sections[key].figures
        assert sections[key].skipped == "metric 'sparsity' was not run; add it with --metric sparsity."
    assert [p.name for p in report.files] == ["metric-accuracy.png"]
    assert "Skipped: metric &#x27;sparsity&#x27; was not run" in report.index.read_text()
    # a leaderboard lists only what its metrics draw: no sparsity section, no note
    board = build_report(board_of(path, tmp_path / "board.parquet"), tmp_path / "board")
    assert [s.key for s in board.sections] == ["metric-bars"]
    assert [p.name for p in board.files] == ["metric-accuracy.png"]
    assert not [n for n in board.notes if "sparsity" in n]


def test_accuracy_vs_sparsity_without_the_accuracy_metric_says_why(tmp_path):
    path = fabricate_results(tmp_path / "r.parquet", seeds=1, metrics=("sparsity",))
    reason = "needs the test accuracy of metric 'accuracy', which was not run; add it with --metric accuracy."
    board = board_of(path, tmp_path / "board.parquet")
    for report in (build_report(path, tmp_path / "out"), build_report(board, tmp_path / "board")):
        sections = {s.key: s for s in report.sections}
        assert [f.file for f in sections["sparsity-by-layer"].figures] == ["sparsity-by-layer.png"]
        assert sections["accuracy-vs-sparsity"].skipped == reason and not sections["accuracy-vs-sparsity"].figures
        assert f"Figure 'accuracy-vs-sparsity' of metric 'sparsity' not drawn: {reason}" in report.notes
        # the only headline stat of these rows, sparsity, is drawn by its figure: no bars
        assert [p.name for p in report.files] == ["sparsity-by-layer.png"]
        assert "--metric accuracy" in report.index.read_text()


# -- composing a report from what metrics declare -------------------------------------------


def add_rows(path, metric: str, values: dict[str, tuple[float, ...]]) -> None:
    """Append per-layer rows of ``metric`` (stat named like it) to every run point of a fabricated
    results file: ``values``: rule base name -> value per layer."""
    from ffbench import results_store
    from ffbench.results_store import append_and_compact

    runs = results_store.read(path).drop_duplicates("run_id")
    rows = []
    for _, run in runs.iterrows():
        for layer, v in enumerate(values[run["rule"].partition("[")[0]], start=1):
            rows.append(
                {
                    **{
                        k: run[k]
                        for k in (
                            "run_id",
                            "status",
                            "seed",
                            "preset",
                            "rule",
                            "rule_id",
                            "goodness",
                            "goodness_id",
                            "negatives",
                            "negatives_id",
                            "dataset",
                            "dataset_id",
                            "ffbench_version",
                            "git_sha",
                            "torch_version",
                            "device",
                        )
                    },
                    "metric": metric,
                    "metric_id": metric,
                    "stat": metric,
                    "value": v,
                    "layer": layer,
                    "class": None,
                    "class_b": None,
                    "higher_is_better": None,
                    "artifact": None,
                }
            )
    append_and_compact(path, rows)


def test_a_metric_whose_plugin_is_not_installed_keeps_its_rows_and_is_noted(tmp_path):
    path = fabricate_results(tmp_path / "r.parquet", seeds=1)
    add_rows(path, "made-up", {"ff": (0.2, 0.4), "bp": (0.6, 0.8)})
    report = build_report(path, tmp_path / "out")
    names = {p.name for p in report.files}
    built_in = {
        f"{k}-{s}.png" for k in ("activation-maps", "class-mean", "jaccard", "unseen-category") for s in ("ff", "bp")
    } | {"excitation.png", "sparsity-by-layer.png", "accuracy-vs-sparsity.png"}
    assert built_in <= names  # the installed metrics' figures are still drawn
    assert "metric-made-up.png" in names  # its rows still render, as headline bars
    note = next(n for n in report.notes if "made-up" in n)
    assert note.startswith("Figures of metric 'made-up' not drawn: plugin not installed")
    page = report.index.read_text()
    assert "Figures of metric &#x27;made-up&#x27; not drawn: plugin not installed" in page
    assert 'src="metric-made-up.png"' in page
    bars = next(s for s in report.sections if s.key == "metric-bars")
    assert "Metric made-up: headline stats, every series" in [f.caption for f in bars.figures]


class Toy(Metric):
    """A metric with figures that draw, fail, are not drawable, or have a taken name."""

    name, version, description = "toy", "1", "a test metric"

    def compute(self, ev):
        return MetricResult([MetricRow("toy", 0.0)])

    @classmethod
    def figures(cls):
        def bars(view):
            return F.layer_bars(view.summary("toy"), view.colours, "toy per layer", "toy", view.points("toy"))

        def broken(view):
            return 1 / 0

        def needs_rows(view):
            raise NotDrawn("no 'toy_extra' rows")

        def own_artifact(run):
            return run.artifact().array("x")

        return [
            FigureSpec("toy-bars", "Toy per layer", bars),
            FigureSpec("excitation", "Toy under a taken name", bars),
            FigureSpec("broken", "Broken", broken),
            FigureSpec("needs-rows", "Needs rows", needs_rows),
            FigureSpec("per-model", "Per model", own_artifact, per_model=True),
            FigureSpec("not-a-figure", "Returns a string", lambda view: "figure"),
        ]


@pytest.fixture()
def toy_installed(monkeypatch):
    monkeypatch.setitem(get_registry().entries["metric"], "toy", Entry(Toy, "toy-plugin", "toy-dist", "0.1"))


def test_plugin_figures_are_drawn_or_listed_with_the_reason(tmp_path, toy_installed):
    path = fabricate_results(tmp_path / "r.parquet", seeds=1, metrics=("accuracy", "sparsity", "excitation"))
    add_rows(path, "toy", {"ff": (0.25, 0.5), "bp": (0.75, 1.0)})
    report = build_report(path, tmp_path / "out")
    sections = {s.key: s for s in report.sections}
    # drawn, from the rows: bar heights are the rows' values (one seed: mean = value)
    assert [f.file for f in sections["toy-bars"].figures] == ["toy-bars.png"]
    check_png(tmp_path / "out" / "toy-bars.png")
    # a name another metric's figure has is prefixed with the metric's name
    assert [f.file for f in sections["toy-excitation"].figures] == ["toy-excitation.png"]
    assert [f.file for f in sections["excitation"].figures] == ["excitation.png"]
    # not drawn: the reason in the section and in the notes; the other figures are unaffected
    assert sections["broken"].skipped == "ZeroDivisionError: division by zero"
    assert sections["needs-rows"].skipped == "no 'toy_extra' rows"
    assert sections["not-a-figure"].skipped == "its draw function returned str, not a matplotlib Figure."
    assert sections["per-model"].skipped == "no run point saved a 'toy' artifact."
    assert "Figure 'broken' of metric 'toy' not drawn: ZeroDivisionError: division by zero" in report.notes
    assert "Figure 'needs-rows' of metric 'toy' not drawn: no 'toy_extra' rows" in report.notes
    page = report.index.read_text()
    assert 'src="toy-bars.png"' in page and "Skipped: no &#x27;toy_extra&#x27; rows" in page
    # sections are numbered in page order: per-model figures, comparison figures by metric order, bars
    titles = [s.title for s in report.sections]
    assert titles == [f"{i}. {t.partition('. ')[2]}" for i, t in enumerate(titles, start=1)]
    assert titles.index(sections["sparsity-by-layer"].title) < titles.index(sections["toy-bars"].title)
    assert titles.index(sections["per-model"].title) < titles.index(sections["sparsity-by-layer"].title)
    assert report.sections[-1].key == "metric-bars"
    # toy-bars declares no stats, so toy's headline stat keeps its bars
    assert "metric-toy.png" in [f.file for f in sections["metric-bars"].figures]


def test_a_stat_a_drawn_figure_shows_has_no_headline_bars(tmp_path, monkeypatch):
    """FigureSpec.stats: the bars leave a stat out only where the figure that shows it was drawn."""

    def bars(view):
        return F.layer_bars(view.summary("toy"), view.colours, "toy per layer", "toy", view.points("toy"))

    def not_drawn(view):
        raise NotDrawn("not today")

    path = fabricate_results(tmp_path / "r.parquet", seeds=1, metrics=("accuracy",))
    add_rows(path, "toy", {"ff": (0.25, 0.5), "bp": (0.75, 1.0)})
    for draw, bars_drawn in ((bars, False), (not_drawn, True)):
        spec = FigureSpec("toy-bars", "Toy per layer", draw, stats=("toy",))
        monkeypatch.setattr(Toy, "figures", classmethod(lambda cls, spec=spec: [spec]))
        monkeypatch.setitem(get_registry().entries["metric"], "toy", Entry(Toy, "toy-plugin", "toy-dist", "0.1"))
        report = build_report(path, tmp_path / f"out-{bars_drawn}")
        names = [p.name for p in report.files]
        assert ("metric-toy.png" in names) is bars_drawn, names
        assert "metric-accuracy.png" in names and ("toy-bars.png" in names) is not bars_drawn


def test_toy_bars_heights_are_the_row_values(tmp_path, toy_installed):
    from ffbench import results_store
    from ffbench.report.figure_api import ComparisonView
    from ffbench.report.results_report import ResultsReport

    path = fabricate_results(tmp_path / "r.parquet", seeds=2, metrics=("accuracy",))
    add_rows(path, "toy", {"ff": (0.25, 0.5), "bp": (0.75, 1.0)})
    builder = ResultsReport(results_store.read(path), path, tmp_path / "out")
    view = ComparisonView(builder, "toy")
    summary = view.summary("toy")
    assert summary.to_dict("list") == {
        "series": ["ff", "ff", "bp", "bp"],
        "layer": [1, 2, 1, 2],
        "mean": [0.25, 0.5, 0.75, 1.0],
        "std": [0.0] * 4,
        "n": [2] * 4,
    }
    assert len(view.points("toy")) == 8  # 2 series x 2 seeds x 2 layers
    fig = Toy.figures()[0].draw(view)
    heights = sorted(round(p.get_height(), 6) for p in fig.axes[0].patches)
    assert heights == [0.25, 0.5, 0.75, 1.0]
    assert list(view.colours) == ["ff", "bp"] and view.colours["ff"] == F.SERIES_COLOURS[0]


def test_class_option_not_read_by_any_figure_is_noted(tmp_path):
    path = fabricate_results(tmp_path / "r.parquet", seeds=1, metrics=("accuracy", "sparsity"))
    report = build_report(path, tmp_path / "out", class_name="Bag")
    assert "--class Bag was not used: no figure drawn reads a class." in report.notes


def test_leaderboard_lists_figures_that_need_artifacts(tmp_path):
    from ffbench import results_store
    from ffbench.leaderboard import board_rows, write_board

    path = fabricate_results(tmp_path / "r.parquet", seeds=1)
    write_board(board_rows(results_store.read(path)), tmp_path / "board.parquet")
    report = build_report(tmp_path / "board.parquet", tmp_path / "out")
    assert not [s for s in report.sections if s.skipped]
    note = next(n for n in report.notes if n.startswith("A leaderboard holds no artifacts"))
    for key in (
        "'activation-maps' (loo-ensembles)",
        "'class-mean' (loo-ensembles)",
        "'jaccard' (jaccard)",
        "'unseen-category' (unseen-category)",
        "'excitation' (excitation)",
    ):
        assert key in note
    assert "sparsity-by-layer.png" in {p.name for p in report.files}


# -- the example plugin's figure, end to end -------------------------------------------------


def test_example_plugin_metric_figure_through_run_and_report(tmp_path):
    pytest.importorskip(
        "ffbench_plugin_example",
        reason="the example plugin is not installed: pip install -e examples/ffbench-plugin-example",
    )
    from ffbench import results_store
    from ffbench.cli import app

    path = tmp_path / "run.parquet"
    run = CliRunner().invoke(
        app,
        [
            "run",
            "--rule",
            "ff[batch_size=100,epochs=2,layers=2,width=32]",
            "--dataset",
            "fashion-mnist-mini[test_size=200,train_size=500]",
            "--metric",
            "lifetime-sparsity",
            "--out",
            str(path),
            "--no-cache",
            "--quiet",
        ],
    )
    assert run.exit_code == 0, run.output
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["report", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    png = out / "lifetime-by-layer.png"
    check_png(png)
    page = (out / "index.html").read_text()
    assert 'src="lifetime-by-layer.png"' in page and "Lifetime sparsity per layer" in page
    # the bars are the run's rows: one seed, so each layer's bar is that layer's value
    from ffbench_plugin_example.lifetime import lifetime_by_layer

    from ffbench.report.figure_api import ComparisonView
    from ffbench.report.results_report import ResultsReport

    df = results_store.read(path)
    values = df[(df["stat"] == "lifetime_sparsity")].sort_values("layer")["value"].round(6).tolist()
    fig = lifetime_by_layer(ComparisonView(ResultsReport(df, path, out), "lifetime-sparsity"))
    assert [round(p.get_height(), 6) for p in fig.axes[0].patches] == values and len(values) == 2
