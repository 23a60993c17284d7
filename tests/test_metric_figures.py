"""Figures belong to metrics: the figure contract (``Metric.figures``, ffbench.report.figure_api),
the built-in metrics' figures on hand-made data, a plugin's figure end to end (the example
plugin's `lifetime-sparsity` through `ffbench run` and `ffbench report`), and what a report does
with figures it cannot draw (a metric whose plugin is not installed, a draw that fails, a name
that is taken)."""

from __future__ import annotations

import re

import numpy as np
import pytest
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

# -- the contract ---------------------------------------------------------------------------


def test_figure_spec_checks_its_name_and_draw():
    spec = FigureSpec("lifetime-by-layer", "Lifetime", lambda view: None)
    assert not spec.per_model and spec.description == ""
    for bad in ("Lifetime", "by layer", "-x", "a_b", ""):
        with pytest.raises(ValueError, match=re.escape(f"Bad figure name {bad!r}")):
            FigureSpec(bad, "t", lambda view: None)
    with pytest.raises(TypeError, match="draw must be callable, got str"):
        FigureSpec("x", "t", "draw")


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
        "sparsity": [],
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


# -- composing a report from what metrics declare -------------------------------------------


def add_rows(path, metric: str, values: dict[str, tuple[float, ...]]) -> None:
    """Append per-layer rows of ``metric`` (stat named like it) to every run point of a fabricated
    results file: ``values``: rule base name -> value per layer."""
    from ffbench.results import append_results, read_results

    runs = read_results(path).drop_duplicates("run_id")
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
    append_results(path, rows)


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
    # sections are numbered in page order: per-model figures, sparsity, comparison figures, ...
    titles = [s.title for s in report.sections]
    assert titles == [f"{i}. {t.partition('. ')[2]}" for i, t in enumerate(titles, start=1)]
    assert titles.index(sections["sparsity"].title) < titles.index(sections["toy-bars"].title)


def test_toy_bars_heights_are_the_row_values(tmp_path, toy_installed):
    from ffbench.report.figure_api import ComparisonView
    from ffbench.report.results_report import ResultsReport
    from ffbench.results import read_results

    path = fabricate_results(tmp_path / "r.parquet", seeds=2, metrics=("accuracy",))
    add_rows(path, "toy", {"ff": (0.25, 0.5), "bp": (0.75, 1.0)})
    builder = ResultsReport(read_results(path), path, tmp_path / "out")
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
    from ffbench.leaderboard import board_rows, write_board
    from ffbench.results import read_results

    path = fabricate_results(tmp_path / "r.parquet", seeds=1)
    write_board(board_rows(read_results(path)), tmp_path / "board.parquet")
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
    from ffbench.cli import app
    from ffbench.results import read_results

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

    df = read_results(path)
    values = df[(df["stat"] == "lifetime_sparsity")].sort_values("layer")["value"].round(6).tolist()
    fig = lifetime_by_layer(ComparisonView(ResultsReport(df, path, out), "lifetime-sparsity"))
    assert [round(p.get_height(), 6) for p in fig.axes[0].patches] == values and len(values) == 2
