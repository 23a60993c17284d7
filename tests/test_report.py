"""`ffbench report`: the generic figures on hand-made data, the whole report from fabricated
artifacts (the built-in metrics' artifact names; their figures are tested in
test_metric_figures.py), the page, leaderboards, the CLI, and one real tiny run through
`ffbench run`. The fabrication and figure checks here are shared with test_metric_figures.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
import typer
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.text import Text
from PIL import Image
from typer.testing import CliRunner

from ffbench import results_store
from ffbench.errors import FFBenchError
from ffbench.report import build as B
from ffbench.report import build_report, default_out
from ffbench.report import figures as F
from ffbench.report.html import FigureRef, Page, Section, render
from ffbench.report.labels import compact_identities, series_labels
from ffbench.results_store import append_and_compact

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
RULES = {  # rule -> (goodness, negatives, accuracy, sparsity per layer)
    "ff[epochs=2,width=64]": ("l2", "wrong-label", 0.80, (0.62, 0.71)),
    "bp-ff[epochs=2,width=64]": ("l2", "wrong-label", 0.78, (0.55, 0.60)),
    "bp[epochs=2,width=64]": (None, None, 0.84, (0.30, 0.28)),
}
UNITS, PER_CLASS, TAU = 64, 6, 1.0


# -- fabricated runs ------------------------------------------------------------------------


def loo_ensembles(class_mean: np.ndarray, tau: float) -> np.ndarray:
    """The LOO rule of docs/science.md, written out unit by unit (the reference the figure's threshold
    must agree with)."""
    c, d = class_mean.shape
    out = np.zeros((c, d), dtype=bool)
    for k in range(c):
        for i in range(d):
            rest = (class_mean[k].sum() - class_mean[k, i]) / (d - 1)
            out[k, i] = rest > 0 and (class_mean[k, i] - rest) / rest > tau
    return out


def fake_activity(rng: np.random.Generator, n_layers: int = 2, missing_class: int | None = None):
    """Samples grouped by class, each class driving its own 5 units (neighbouring classes share 2)."""
    labels = np.repeat(np.arange(len(CLASSES)), PER_CLASS)
    if missing_class is not None:  # a class with no correctly classified sample
        labels = labels[labels != missing_class]
    layers = []
    for _ in range(n_layers):
        drive = np.zeros((len(CLASSES), UNITS))
        for k in range(len(CLASSES)):
            drive[k, (np.arange(5) + 4 * k) % UNITS] = 3.0
        samples = np.maximum(0.0, drive[labels] + rng.normal(0.0, 0.3, (len(labels), UNITS)))
        mean = np.stack(
            [
                samples[labels == k].mean(0) if (labels == k).any() else np.full(UNITS, np.nan)
                for k in range(len(CLASSES))
            ]
        )  # NaN: no sample read, as the metric writes it
        layers.append((samples.astype(np.float16), mean.astype(np.float32), loo_ensembles(mean, TAU)))
    return labels, layers


def write_artifact(folder: Path, name: str, arrays: dict, meta: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(folder / f"{name}.npz", **arrays)
    (folder / f"{name}.json").write_text(json.dumps(meta))


ALL_METRICS = ("accuracy", "sparsity", "loo-ensembles", "jaccard", "unseen-category", "excitation")


def fabricate_results(
    path: Path, seeds: int = 2, metrics=ALL_METRICS, rules=("ff[epochs=2,width=64]", "bp[epochs=2,width=64]")
) -> Path:
    """A results file with the rows and artifacts (exact fixed names) the metrics write, for
    ``rules`` (keys of RULES) x ``seeds``."""
    rng = np.random.default_rng(0)
    rows = []
    for rule in rules:
        goodness, negatives, acc, sparsity = RULES[rule]
        for seed in range(seeds):
            run_id = re.sub(r"\W", "", f"{rule.partition('[')[0]}{seed}")
            folder = path.parent / f"{path.name}.artifacts" / run_id
            base = {
                "run_id": run_id,
                "status": "ok",
                "seed": seed,
                "preset": "quick",
                "rule": rule,
                "rule_id": rule,
                "goodness": goodness,
                "goodness_id": goodness,
                "negatives": negatives,
                "negatives_id": negatives,
                "dataset": "fashion-mnist-mini",
                "dataset_id": "fashion-mnist-mini",
                "ffbench_version": "0.1.0",
                "git_sha": "abc123",
                "torch_version": "2.4",
                "device": "cpu",
            }

            def row(metric, stat, value, layer=None, cls=None, cls_b=None, artifact=None):
                rows.append(
                    {
                        **base,  # noqa: B023 (called in the same iteration)
                        "metric": metric,
                        "metric_id": metric,
                        "stat": stat,
                        "value": value,
                        "layer": layer,
                        "class": cls,
                        "class_b": cls_b,
                        "higher_is_better": True if metric in ("accuracy", "sparsity") else None,
                        "artifact": None if artifact is None else f"{path.name}.artifacts/{run_id}/{artifact}",  # noqa: B023
                    }
                )

            noise = 0.02 * seed
            if "accuracy" in metrics:
                row("accuracy", "accuracy", acc + noise)
                for c in CLASSES:
                    row("accuracy", "accuracy", acc, cls=c)
            if "sparsity" in metrics:
                for layer, s in enumerate(sparsity, start=1):
                    row("sparsity", "sparsity", s + noise, layer=layer)
                    row("sparsity", "zero_samples", 0.0, layer=layer)
                    row("sparsity", "sparsity", s, layer=layer, cls=CLASSES[0])
            labels, layers = fake_activity(rng)
            if "loo-ensembles" in metrics:
                arrays = {"sample_labels": labels}
                for l, (samples, mean, ens) in enumerate(layers, start=1):
                    arrays |= {f"class_mean_L{l}": mean, f"ensemble_L{l}": ens, f"sample_activity_L{l}": samples}
                    row("loo-ensembles", "size", float(ens.sum(1).mean()), layer=l, artifact="loo-ensembles")
                units = {
                    f"units_L{l}": {c: np.flatnonzero(e[k]).tolist() for k, c in enumerate(CLASSES)}
                    for l, (_, _, e) in enumerate(layers, start=1)
                }
                write_artifact(folder, "loo-ensembles", arrays, {"classes": CLASSES, "tau": TAU, **units})
            if "jaccard" in metrics:
                arrays = {}
                for l, (_, _, ens) in enumerate(layers, start=1):
                    e = ens.astype(int)
                    shared = e @ e.T
                    union = e.sum(1)[:, None] + e.sum(1)[None, :] - shared
                    arrays |= {f"jaccard_L{l}": shared / np.maximum(union, 1), f"shared_L{l}": shared}
                    row("jaccard", "jaccard", float(arrays[f"jaccard_L{l}"].mean()), layer=l, artifact="jaccard")
                write_artifact(folder, "jaccard", arrays, {"classes": CLASSES})
            if "unseen-category" in metrics:
                u_labels, u_layers = fake_activity(rng, missing_class=3)
                arrays = {"sample_labels": u_labels}
                for l, (samples, mean, ens) in enumerate(u_layers, start=1):
                    e = ens.astype(int)
                    overlap = (e @ e[8]) / np.maximum(e.sum(1), 1)
                    arrays |= {
                        f"class_mean_L{l}": mean,
                        f"ensemble_L{l}": ens,
                        f"sample_activity_L{l}": samples,
                        f"overlap_L{l}": overlap,
                    }
                    row("unseen-category", "size", float(ens[8].sum()), layer=l, artifact="unseen-category")
                write_artifact(folder, "unseen-category", arrays, {"holdout": 8})
            if "excitation" in metrics:
                edges = np.linspace(0.0, 1.0, 21)
                arrays = {"bin_edges": edges}
                for l in (1, 2):
                    centre = 0.5 if rule.startswith("bp[") else 0.3
                    rho = np.clip(rng.normal(centre, 0.08, UNITS), 0, 1).astype(np.float32)
                    arrays |= {f"rho_plus_L{l}": rho, f"hist_L{l}": np.histogram(rho, edges)[0]}
                    row("excitation", "mean", float(rho.mean()), layer=l, artifact="excitation")
                write_artifact(folder, "excitation", arrays, {})
    append_and_compact(path, rows)
    return path


@pytest.fixture(scope="module")
def fabricated(tmp_path_factory) -> Path:
    return fabricate_results(tmp_path_factory.mktemp("fab") / "results.parquet")


@pytest.fixture(scope="module")
def fabricated_report(fabricated):
    """The full report, every figure checked for overlapping text on the draw that saves it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(B._Builder, "save", checked_save)
        return build_report(fabricated, class_name="trouser")


def checked_save(self, fig: Figure, name: str) -> str:
    file = f"{name}.png"
    assert not text_overlaps(fig), (name, text_overlaps(fig))
    Image.fromarray(np.asarray(fig.canvas.buffer_rgba())).save(self.out / file)
    return file


# -- checks shared by every figure ----------------------------------------------------------


def check_png(path: Path, min_side: int = 300, max_side: int = 4000) -> None:
    """A valid PNG of sane size that is not blank (it has ink, and more than a few colours)."""
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        w, h = im.size
        rgb = np.asarray(im.convert("RGB"), dtype=np.int64)
    assert min_side <= w <= max_side and min_side <= h <= max_side, (path.name, w, h)
    ink = (rgb.sum(axis=2) < 600).mean()  # share of pixels that are not (near) white
    assert 0.01 < ink < 0.95, (path.name, ink)
    colours = np.unique((rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2])
    assert len(colours) > 20, path.name


def text_overlaps(fig: Figure) -> list[tuple[str, str]]:
    """Pairs of visible, non-empty texts whose boxes overlap, and texts that leave the figure."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()  # lays out the figure (constrained layout) and gives every text its extent
    renderer = canvas.get_renderer()
    hidden = set()  # tick labels outside the view limits are "visible" but never drawn
    for ax in fig.findobj(Axes):
        for axis in (ax.xaxis, ax.yaxis):
            drawn = set(axis._update_ticks())
            hidden |= {id(t.label1) for t in axis.get_major_ticks() + axis.get_minor_ticks() if t not in drawn}
    texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip() and id(t) not in hidden]
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts]
    bad = []
    frame = fig.bbox
    for i, (a, ba) in enumerate(boxes):
        if ba.x0 < frame.x0 - 1 or ba.y0 < frame.y0 - 1 or ba.x1 > frame.x1 + 1 or ba.y1 > frame.y1 + 1:
            bad.append((a, "outside the figure"))
        for b, bb in boxes[i + 1 :]:
            w = min(ba.x1, bb.x1) - max(ba.x0, bb.x0)
            h = min(ba.y1, bb.y1) - max(ba.y0, bb.y0)
            if w > 1 and h > 1:
                bad.append((a, b))
    return bad


def check_figure(fig: Figure, path: Path) -> None:
    """Titled, no overlapping text, and a valid non-blank PNG (saved from the same draw)."""
    assert isinstance(fig, Figure)
    assert not text_overlaps(fig), text_overlaps(fig)
    assert fig._suptitle is not None and fig._suptitle.get_text() or any(ax.get_title() for ax in fig.axes)
    Image.fromarray(np.asarray(fig.canvas.buffer_rgba())).save(path)
    check_png(path)


COLOURS = F.palette(["ff", "bp-ff", "bp"])


def matplotlib_rgb(colour: str):
    from matplotlib.colors import to_rgb

    return to_rgb(colour)


# -- the generic figures on hand-made data -----------------------------------------------------


def test_layer_bars(tmp_path):
    points = pd.DataFrame(
        {
            "series": ["ff", "ff", "bp", "bp"] * 2,
            "layer": [1, 1, 1, 1, 2, 2, 2, 2],
            "value": [0.6, 0.7, 0.3, 0.3, 0.8, 0.6, 0.2, 0.4],
        }
    )
    summary = points.groupby(["series", "layer"])["value"].agg(mean="mean", std="std", n="count").reset_index()
    fig = F.layer_bars(summary, COLOURS, "sparsity", "Hoyer sparsity", points)
    ax = fig.axes[0]
    heights = sorted(round(p.get_height(), 6) for p in ax.patches)
    assert heights == [0.3, 0.3, 0.65, 0.7]
    ff_bars = [p for p in ax.patches if p.get_facecolor()[:3] == pytest.approx(matplotlib_rgb(COLOURS["ff"]))]
    assert sorted(round(p.get_height(), 6) for p in ff_bars) == [0.65, 0.7]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["layer 1", "layer 2"]
    assert ax.get_ylabel() == "Hoyer sparsity"
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["ff", "bp"]
    check_figure(fig, tmp_path / "sparsity.png")


def test_layer_scatter(tmp_path):
    points = pd.DataFrame(
        {
            "series": ["ff", "bp", "ff", "bp"],
            "layer": [1, 1, 2, 2],
            "x": [0.6, 0.3, 0.7, 0.2],
            "y": [0.8, 0.85, 0.8, 0.85],
        }
    )
    fig = F.layer_scatter(points, COLOURS, "acc", "Hoyer sparsity", "test accuracy")
    assert [ax.get_xlabel() for ax in fig.axes] == ["Hoyer sparsity, layer 1", "Hoyer sparsity, layer 2"]
    assert fig.axes[0].get_ylabel() == "test accuracy"
    offsets = fig.axes[1].collections[0].get_offsets()
    assert offsets.tolist() == [[0.7, 0.8]]
    check_figure(fig, tmp_path / "acc.png")
    # with x_std / y_std: one dot per series with error bars of that size
    err = F.layer_scatter(points.assign(x_std=0.05, y_std=0.01), COLOURS, "acc", "Hoyer sparsity", "test accuracy")
    line, caps, (xbars, ybars) = err.axes[0].containers[0].lines
    assert line.get_xydata().tolist() == [[0.6, 0.8]]  # ff first, in series order
    assert np.asarray(xbars.get_segments()[0])[:, 0] == pytest.approx([0.55, 0.65])
    assert np.asarray(ybars.get_segments()[0])[:, 1] == pytest.approx([0.79, 0.81])


def test_metric_bars(tmp_path):
    summary = pd.DataFrame(
        {
            "series": ["ff", "bp", "ff", "bp"],
            "stat": ["size", "size", "mean", "mean"],
            "layer": pd.array([1, 1, None, None], dtype="Int64"),
            "mean": [5.0, 2.0, 0.3, 0.5],
            "std": [1.0, np.nan, 0.1, 0.1],
        }
    )
    fig = F.metric_bars(summary, "loo-ensembles", COLOURS, True)
    assert [ax.get_title() for ax in fig.axes] == ["size", "mean"]
    assert [t.get_text() for t in fig.axes[1].get_xticklabels()] == ["model"]
    assert "higher is better" in fig._suptitle.get_text()
    check_figure(fig, tmp_path / "bars.png")


# -- labels and colours ---------------------------------------------------------------------


def test_series_labels_name_only_what_differs():
    keys = pd.DataFrame(
        {
            "rule": ["ff[epochs=2,width=64]", "ff[epochs=5,width=64]", "bp[width=64]"],
            "goodness": ["l2", "l2", None],
            "negatives": ["wrong-label", "wrong-label", None],
            "dataset": ["mini"] * 3,
        }
    )
    assert series_labels(keys).tolist() == ["ff[epochs=2]", "ff[epochs=5]", "bp"]
    keys["goodness"] = ["l2", "sumsq", None]
    keys["rule"] = ["ff", "ff", "bp"]
    assert series_labels(keys).tolist() == ["ff · l2", "ff · sumsq", "bp"]
    assert compact_identities(["ff[a=1,b=2]", "bp-ff[a=1]"]) == {"ff[a=1,b=2]": "ff", "bp-ff[a=1]": "bp-ff"}


def test_palette_hands_out_colours_by_series_order_not_by_rule():
    colours = F.palette(["bp", "ff · l2", "ff · sumsq", "mine"])
    tab10 = [to_hex(c) for c in matplotlib.colormaps["tab10"].colors]
    assert list(colours.values()) == tab10[:4]  # bp, listed first, gets the first colour
    assert F.palette(["mine", "bp"])["mine"] == tab10[0]
    many = F.palette([f"s{i}" for i in range(60)])
    assert all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in many.values()) and len(set(many.values())) == 50
    assert many["s50"] == many["s0"]  # colours repeat only past 50 series


# -- the whole report -----------------------------------------------------------------------


def test_report_writes_every_figure_and_the_page_references_them(fabricated, fabricated_report):
    report = fabricated_report
    assert report.out == default_out(fabricated) == fabricated.with_name("results-report")
    names = sorted(p.name for p in report.files)
    per_series = ["bp", "ff"]
    expected = sorted(
        [f"{k}-{s}.png" for k in ("activation-maps", "class-mean", "jaccard", "unseen-category") for s in per_series]
        + [
            "sparsity-by-layer.png",
            "excitation.png",
            "accuracy-vs-sparsity.png",
            "metric-accuracy.png",
            "metric-loo-ensembles.png",
            "metric-jaccard.png",
            "metric-unseen-category.png",
            "metric-excitation.png",
        ]
    )
    assert names == expected
    assert sorted(p.name for p in report.out.glob("*.png")) == expected
    for path in report.files:
        check_png(path)
    page = report.index.read_text()
    for path in report.files:
        assert f'src="{path.name}"' in page
    skipped = [s.skipped for s in report.sections if s.skipped]  # other installed metrics' figures only
    assert all("was not run" in r and not any(f"'{m}'" in r for m in ALL_METRICS) for r in skipped), skipped
    keys = [s.key for s in report.sections if not s.skipped]
    assert keys == [  # per-model figures, then comparison figures in metric order, then the bars
        "activation-maps",
        "class-mean",
        "jaccard",
        "unseen-category",
        "sparsity-by-layer",
        "accuracy-vs-sparsity",
        "excitation",
        "metric-bars",
    ]
    assert not report.notes
    for text in ("Configuration", "Provenance", "abc123", "ff[epochs=2,width=64]", "wrong-label"):
        assert text in page
    assert "class &#x27;Trouser&#x27;" in page  # --class trouser matched case-insensitively


def test_report_headline_numbers(fabricated, fabricated_report):
    from ffbench.report.results_report import ResultsReport

    page = fabricated_report.index.read_text()
    # ff accuracy over seeds 0.80 and 0.82: mean 0.810, std 0.014; layer-1 sparsity 0.62/0.64
    assert "0.810 ± 0.014" in page and "0.630 ± 0.014" in page
    # every metric's headline stats, a row per metric, stat and layer (None: the whole model)
    table = ResultsReport(results_store.read(fabricated), fabricated, fabricated.parent / "x").headlines()
    assert list(table.columns) == ["metric", "stat", "layer", "ff", "bp"]
    rows = {(m, s, l): (ff, bp) for m, s, l, ff, bp in table.itertuples(index=False)}
    assert rows[("accuracy", "accuracy", None)] == ("0.810 ± 0.014", "0.850 ± 0.014")
    assert rows[("sparsity", "sparsity", 1)] == ("0.630 ± 0.014", "0.310 ± 0.014")
    assert rows[("sparsity", "sparsity", 2)] == ("0.720 ± 0.014", "0.290 ± 0.014")
    assert ("sparsity", "zero_samples", 1) not in rows  # not a headline stat
    assert [k[0] for k in rows][:3] == ["accuracy", "sparsity", "sparsity"]  # metrics in data order


def test_report_skips_metrics_not_run(tmp_path):
    path = fabricate_results(tmp_path / "r.parquet", seeds=1, metrics=("accuracy", "sparsity"))
    report = build_report(path, tmp_path / "out")
    skipped = {s.key: s.skipped for s in report.sections if s.skipped}
    # every installed metric's figures are listed (the example plugin's too, where it is installed)
    assert {"activation-maps", "class-mean", "jaccard", "unseen-category", "excitation"} <= set(skipped)
    assert all("was not run; add it with --metric" in r for r in skipped.values())
    assert "--metric loo-ensembles" in skipped["activation-maps"]
    # sparsity's headline stat is shown by its figure (FigureSpec.stats), so no bars for it
    assert sorted(p.name for p in report.files) == [
        "accuracy-vs-sparsity.png",
        "metric-accuracy.png",
        "sparsity-by-layer.png",
    ]
    assert "Skipped: metric &#x27;excitation&#x27; was not run" in report.index.read_text()


def test_report_bad_class_names_the_valid_ones(fabricated, tmp_path):
    with pytest.raises(FFBenchError, match=r"Unknown class 'Jumper'\. Valid classes: T-shirt/top, Trouser"):
        build_report(fabricated, tmp_path / "out", class_name="Jumper")
    assert not list((tmp_path / "out").glob("*.png"))


def test_report_notes_missing_artifacts(tmp_path):
    path = fabricate_results(tmp_path / "r.parquet", seeds=1, metrics=("jaccard",))
    (tmp_path / "r.parquet.artifacts" / "ff0" / "jaccard.npz").unlink()
    (tmp_path / "r.parquet.artifacts" / "ff0" / "jaccard.json").unlink()
    report = build_report(path)
    jaccard = next(s for s in report.sections if s.key == "jaccard")
    assert [f.file for f in jaccard.figures] == ["jaccard-bp.png"]
    assert any("jaccard artifact of run ff0 is missing" in n for n in report.notes)


def test_report_errors(tmp_path):
    with pytest.raises(FFBenchError, match="No results file or leaderboard at"):
        build_report(tmp_path / "nope.parquet")
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(FFBenchError, match="not a readable Parquet file"):
        build_report(tmp_path / "bad.parquet")


def test_page_escapes_values():
    page = Page(
        "t",
        [("source", "<x>")],
        [("T", pd.DataFrame({"a": ["<b>"]}))],
        [Section("k", "S", "d", [FigureRef("f.png", 'a "q"')])],
    )
    text = render(page)
    assert "&lt;x&gt;" in text and "&lt;b&gt;" in text and 'alt="a &quot;q&quot;"' in text and "<b>" not in text


# -- leaderboards ---------------------------------------------------------------------------


def test_leaderboard_report(fabricated, tmp_path):
    from ffbench.leaderboard import board_rows, write_board

    rows = board_rows(results_store.read(fabricated))
    write_board(rows[rows["metric"].isin(["accuracy", "sparsity", "loo-ensembles"])], tmp_path / "board.parquet")
    report = build_report(tmp_path / "board.parquet")
    names = sorted(p.name for p in report.files)
    assert names == [
        "accuracy-vs-sparsity.png",
        "metric-accuracy.png",
        "metric-loo-ensembles.png",
        "sparsity-by-layer.png",
    ]
    for path in report.files:
        check_png(path)
    page = report.index.read_text()
    assert all(f'src="{p.name}"' in page for p in report.files)
    assert "leaderboard" in page and "per-model figures" in page and "abc123" in page
    assert "0.810 ± 0.014" not in page  # a board report has no headline table of its own ...
    assert "<td>ff</td>" in page  # ... but its configurations


def test_aggregated_board_report(fabricated, tmp_path):
    """The aggregated form (mean, std, n per configuration and cell): the comparison figures."""
    df = results_store.read(fabricated)
    df = df[df["metric"].isin(["accuracy", "sparsity"])]
    keys = ["rule", "goodness", "negatives", "dataset", "metric", "stat", "layer", "class", "class_b"]
    board = df.groupby(keys, dropna=False)["value"].agg(mean="mean", std="std", n="count").reset_index()
    board.to_parquet(tmp_path / "agg.parquet")
    report = build_report(tmp_path / "agg.parquet", tmp_path / "agg")
    sections = {s.key: s for s in report.sections}
    assert [f.file for f in sections["sparsity-by-layer"].figures] == ["sparsity-by-layer.png"]
    assert [f.file for f in sections["accuracy-vs-sparsity"].figures] == ["accuracy-vs-sparsity.png"]
    # no headline column: every stat is shown, so sparsity gets bars too (of its zero_samples stat)
    assert [f.file for f in sections["metric-bars"].figures] == ["metric-accuracy.png", "metric-sparsity.png"]
    for path in report.files:
        check_png(path)


# -- the command ----------------------------------------------------------------------------


def cli_app() -> typer.Typer:
    from ffbench.cli import friendly_errors
    from ffbench.cli.report import report

    app = typer.Typer()
    app.command()(friendly_errors(report))
    app.command("noop")(lambda: None)  # a second command keeps `report` a subcommand, as in ffbench
    return app


def test_cli_report(tmp_path):
    path = fabricate_results(
        tmp_path / "r.parquet", seeds=1, metrics=("loo-ensembles",), rules=("ff[epochs=2,width=64]",)
    )
    result = CliRunner().invoke(cli_app(), ["report", str(path), "--out", str(tmp_path / "rep"), "--class", "Bag"])
    assert result.exit_code == 0, result.output
    assert str(tmp_path / "rep" / "index.html") in result.stdout
    assert (tmp_path / "rep" / "class-mean-ff.png").exists()
    bad = CliRunner().invoke(cli_app(), ["report", str(tmp_path / "missing.parquet")])
    assert bad.exit_code == 2 and "No results file or leaderboard" in bad.output


# -- a real run -----------------------------------------------------------------------------

REAL_METRICS = ["accuracy", "sparsity", "loo-ensembles", "jaccard", "excitation"]


def test_report_of_a_real_tiny_run(tmp_path):
    from ffbench.registry import get_registry

    registered = {e.cls.name for e in get_registry().all_entries() if e.cls.kind == "metric"}
    missing = [m for m in REAL_METRICS if m not in registered]
    assert not missing, f"built-in metrics not registered: {', '.join(missing)}"
    from ffbench.cli import app

    path = tmp_path / "run.parquet"
    result = CliRunner().invoke(
        app,
        [
            "run",
            "--rule",
            "ff[width=64,layers=2,epochs=2]",
            "--dataset",
            "fashion-mnist-mini[train_size=1000,test_size=300]",
            "--metric",
            ",".join(REAL_METRICS),
            "--out",
            str(path),
            "--no-cache",
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    report = build_report(path)
    expected = {
        "activation-maps-ff.png",
        "class-mean-ff.png",
        "jaccard-ff.png",
        "sparsity-by-layer.png",
        "excitation.png",
        "accuracy-vs-sparsity.png",
    }
    assert expected <= {p.name for p in report.files}
    skipped = [s.key for s in report.sections if s.skipped]  # + other installed metrics' figures, if any
    assert "unseen-category" in skipped and not {"activation-maps", "class-mean", "jaccard", "excitation"} & set(
        skipped
    )
    assert not report.notes
    page = report.index.read_text()
    for path in report.files:
        check_png(path)
        assert f'src="{path.name}"' in page


def test_report_of_results_still_in_parts_and_of_a_folder_store(fabricated, tmp_path):
    """A run in progress (its points still parts next to FILE.parquet) and a folder store are
    results too: the report reads them as `ffbench leaderboard update` does."""
    from ffbench import results_store

    rows = results_store.read(fabricated).to_dict("records")
    for target in (tmp_path / "pending.parquet", tmp_path / "store"):
        results_store.append(target, rows)
        assert not target.is_file()
        report = build_report(target, tmp_path / f"{target.name}-report")
        assert (report.out / "sparsity-by-layer.png").is_file()
    with pytest.raises(FFBenchError, match="No results file or leaderboard at"):
        build_report(tmp_path / "nothing.parquet", tmp_path / "nothing-report")
