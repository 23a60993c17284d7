"""Terminal tables that fit 100 columns: short labels, a key per column label, a legend line per
statistic from the metric that owns it, columns split over several tables rather than words split
over lines; the run summary and `ffbench report` end to end."""

import io
import re

import pandas as pd
from rich.console import Console
from typer.testing import CliRunner

from ffbench.cli import app
from ffbench.cli.tables import render_matrix
from ffbench.contracts import Metric
from ffbench.registry import load_registry
from ffbench.report.labels import mean_std
from ffbench.results import to_frame
from ffbench.summary import StatMatrix, format_value, run_matrix, stat_labels, stat_meaning

DATA = "fashion-mnist-mini[train_size=300,test_size=100]"


def rendered(m: StatMatrix, width: int) -> list[str]:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    for part in render_matrix(m, width):
        console.print(part)
    return [line.rstrip() for line in console.file.getvalue().splitlines()]


def test_stat_labels_are_the_stat_unless_two_metrics_share_it():
    pairs = [
        ("accuracy", "accuracy", "accuracy"),
        ("linear-probe", "linear-probe", "accuracy"),
        ("sparsity", "sparsity", "sparsity"),
        ("sparsity", "sparsity", "dead_fraction"),
        ("loo-ensembles", "loo-ensembles", "size"),
        ("unseen-category", "unseen-category", "size"),
    ]
    assert stat_labels(pairs) == {
        ("accuracy", "accuracy"): "accuracy",
        ("linear-probe", "accuracy"): "linear-probe.accuracy",
        ("sparsity", "sparsity"): "sparsity",
        ("sparsity", "dead_fraction"): "dead_fraction",
        ("loo-ensembles", "size"): "loo-ensembles.size",
        ("unseen-category", "size"): "unseen-category.size",
    }


def test_numbers_read_at_their_scale():
    assert [format_value(v) for v in (0.80654, 225.78, 9.0816e12, float("nan"), None)] == [
        "0.8065",
        "225.8",
        "9.08e+12",
        "-",
        "-",
    ]
    assert mean_std(0.81, 0.014) == "0.810 ± 0.014"
    assert mean_std(225.78, 128.71) == "225.8 ± 128.7"
    assert mean_std(9.0816e12, 0.0) == "9.08e+12 ± 0"
    assert mean_std(0.5, float("nan")) == "0.500" and mean_std(float("nan"), 0.1) == "–"


class Lifetime(Metric):
    name = "lifetime"
    version = "1"
    description = "lifetime sparsity of each unit"
    higher_is_better = False
    headline = ("score",)

    def compute(self, ev):
        raise NotImplementedError


class Documented(Lifetime):
    name = "documented"
    stat_help = {"score": "how often a unit is silent, 0 .. 1"}


def registry_with(*metrics):
    class Plugin:
        @staticmethod
        def ffbench_register_metrics(register):
            for m in metrics:
                register(m)

    import ffbench

    Plugin.ffbench_register_metrics = ffbench.hookimpl(Plugin.ffbench_register_metrics)
    return load_registry(extra=[("test-metrics", Plugin, "tests", "0")], use_entry_points=False)


def test_the_legend_comes_from_the_metric_that_owns_the_stat():
    registry = registry_with(Lifetime, Documented)
    assert stat_meaning("documented", "score", registry) == (
        "how often a unit is silent, 0 .. 1; ranked: lower is better"
    )
    # no stat_help entry: the metric's description names the stat
    assert stat_meaning("lifetime", "score", registry) == (
        "lifetime sparsity of each unit (stat 'score'); ranked: lower is better"
    )
    assert stat_meaning("gone", "score", registry, recorded_direction=None) == (
        "metric 'gone' is not installed, no description; descriptive (not ranked)"
    )


def rows(run_id, rule, seed, values):
    base = {
        "run_id": run_id,
        "status": "ok",
        "rule": rule,
        "goodness": "l2",
        "negatives": "wrong-label",
        "dataset": "fashion-mnist-mini",
        "seed": seed,
        "config_hash": f"c-{rule}-{seed}",
    }
    return [
        {**base, "metric": m, "metric_id": m, "stat": s, "layer": layer, "value": v, "headline": True}
        for (m, s, layer), v in values.items()
    ]


def test_run_matrix_one_column_per_point_labelled_by_what_differs():
    values = {("accuracy", "accuracy", None): 0.8, ("sparsity", "sparsity", 1): 0.5, ("sparsity", "sparsity", 2): 0.25}
    df = to_frame(
        rows("a", "ff[epochs=5]", 0, values)
        + rows("b", "ff[epochs=20]", 0, values)
        + rows("c", "ff[epochs=5]", 1, {k: v / 2 for k, v in values.items()})
    )
    m = run_matrix(df)
    assert m.columns == ["ff[epochs=5] seed 0", "ff[epochs=5] seed 1", "ff[epochs=20] seed 0"]
    assert m.rows == [
        ("accuracy", "-", ["0.8000", "0.4000", "0.8000"]),
        ("sparsity", "1", ["0.5000", "0.2500", "0.5000"]),
        ("sparsity", "2", ["0.2500", "0.1250", "0.2500"]),
    ]
    assert m.keys[0] == ("ff[epochs=5]", "ff[epochs=5] / l2 / wrong-label on fashion-mnist-mini")
    assert [label for label, _ in m.legend] == ["accuracy", "sparsity"]
    assert m.legend[1][1].startswith("Hoyer sparsity of a layer's activity") and m.legend[1][1].endswith(
        "descriptive (not ranked)"
    )
    assert m.status is None


def test_too_many_columns_go_to_further_tables_never_split_or_cut():
    labels = [f"bp-ff[lr=0.000{i}5] seed {i}" for i in range(9)]
    stats = [f"participation_ratio_{k}" for k in range(12)]
    m = StatMatrix(
        title="wide",
        columns=labels,
        rows=[(stat, "1", [f"{k * 0.1 + j:.4f}" for j in range(9)]) for k, stat in enumerate(stats)],
        legend=[("participation_ratio_0", "effective number of dimensions " * 6)],
    )
    lines = rendered(m, 100)
    assert max(len(line) for line in lines) <= 100
    text = "\n".join(lines)
    assert all(label in text for label in labels + stats)  # every header and row label whole
    tables = [line for line in lines if line.startswith("wide (table")]
    assert len(tables) >= 2 and tables[0] == f"wide (table 1 of {len(tables)})"
    assert all(f"{k * 0.1 + j:.4f}" in text for j in range(9) for k in range(12))  # no cell lost
    words = set("effective number of dimensions".split())
    legend = [w for line in lines[lines.index("Legend:") + 1 :] for w in line.split()]
    assert set(legend) - {"participation_ratio_0"} == words  # wrapped between words only


def test_the_run_summary_fits_100_columns_with_whole_headers_and_a_legend(tmp_path):
    out = tmp_path / "r.parquet"
    result = CliRunner(env={"COLUMNS": "100"}).invoke(
        app,
        [
            "run",
            "--rule",
            "ff[layers=2,width=32,epochs=2],bp[layers=2,width=32,epochs=2]",
            "--metric",
            "accuracy,sparsity",
            "--dataset",
            DATA,
            "-q",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    lines = [line.rstrip() for line in result.stdout.splitlines()]  # grids pad with spaces
    assert lines and max(len(line) for line in lines) <= 100
    header = next(line for line in lines if line.startswith("stat"))
    assert header.split() == ["stat", "layer", "ff", "bp"]
    stats = {line.split()[0] for line in lines[lines.index(header) + 2 :] if re.match(r"\S+ +(-|\d) +\d", line)}
    assert stats == {"accuracy", "sparsity", "dead_fraction", "hoyer_live"}
    legend = lines[lines.index("Legend:") + 1 :]
    firsts = {line.split()[0] for line in legend if not line.startswith(" ")}
    assert firsts == stats  # a legend line per statistic shown
    assert any(line.startswith("accuracy") and "ranked: higher is better" in line for line in legend)
    assert next(line for line in legend if line.startswith("sparsity")).split()[1:3] == ["Hoyer", "sparsity"]
    keys = lines[lines.index("Columns:") + 1 : lines.index("Legend:")]
    assert keys[0].split()[:2] == ["ff", "ff[batch_size=256,"]  # the full identity, breakable at commas
    df = pd.read_parquet(out)
    rows = df[(df["metric"] == "accuracy") & df["class"].isna()]
    acc = dict(zip(rows["rule"].str.partition("[")[0], rows["value"]))
    row = next(line for line in lines if line.startswith("accuracy "))
    assert row.split()[2:] == [f"{acc['ff']:.4f}", f"{acc['bp']:.4f}"]  # the run's values, under their labels


def test_report_prints_the_headline_table_fitted_and_explained(tmp_path):
    out = tmp_path / "r.parquet"
    run = CliRunner().invoke(
        app,
        ["run", "--rule", "bp[layers=1,width=32,epochs=1]", "--seeds", "2", "--metric", "accuracy"]
        + ["--dataset", DATA, "-q", "--out", str(out)],
    )
    assert run.exit_code == 0, run.output
    result = CliRunner(env={"COLUMNS": "100"}).invoke(app, ["report", str(out), "--out", str(tmp_path / "rep")])
    assert result.exit_code == 0, result.output
    lines = [line.rstrip() for line in result.stdout.splitlines()]  # grids pad with spaces
    assert max(len(line) for line in lines) <= 100
    df = pd.read_parquet(out)
    acc = df[(df["metric"] == "accuracy") & df["class"].isna()]["value"]
    row = next(line for line in lines if line.startswith("accuracy "))
    assert row.split()[2:] == mean_std(acc.mean(), acc.std()).split()  # one series: bp, 2 seeds
    keys = " ".join(lines[lines.index("Columns:") + 1 : lines.index("Legend:")]).split()
    assert keys[0] == "bp" and keys[-3:] == ["seeds", "0,", "1"]
    assert lines[-1].endswith("index.html")  # still the last line
