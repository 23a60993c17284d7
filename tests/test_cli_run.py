"""`ffbench run` end to end through typer's CliRunner, reading the Parquet back."""

import re
import types

import pandas as pd
import pytest
from typer.testing import CliRunner

import ffbench
import ffbench.registry as registry_module
from ffbench.cli import app
from ffbench.contracts import LearningRule
from ffbench.results import COLUMNS

TINY = [
    "--rule",
    "ff[width=128,layers=2,epochs=10,batch_size=50]",
    "--dataset",
    "fashion-mnist-mini[train_size=500,test_size=200]",
    "-q",
]


def invoke(*args):
    result = CliRunner().invoke(app, list(args))
    return result


def test_run_writes_tidy_rows_with_provenance(tmp_path):
    out = tmp_path / "r.parquet"
    result = invoke("run", *TINY, "--metric", "accuracy,sparsity", "--seeds", "2", "--out", str(out))
    assert result.exit_code == 0, result.output
    # the summary: one row per stat and layer (here: sparsity at layer 2), one column per point
    assert re.search(r"^sparsity\s+2\s", result.stdout, re.M) and "accuracy" in result.stdout
    df = pd.read_parquet(out)
    assert list(df.columns) == list(COLUMNS)
    assert (df["status"] == "ok").all()
    assert df["run_id"].nunique() == 2 and set(df["seed"]) == {0, 1}
    overall = df[(df.metric == "accuracy") & df["class"].isna()]
    assert len(overall) == 2 and overall["value"].between(0.3, 1.0).all()
    per_class = df[(df.metric == "accuracy") & df["class"].notna()]
    assert per_class["class"].nunique() == 10
    sparsity = df[(df.metric == "sparsity") & (df.stat == "sparsity") & df["class"].isna()]
    assert sorted(sparsity["layer"].unique()) == [1, 2]
    assert sparsity["value"].between(0, 1).all()
    row = df.iloc[0]
    assert row["rule_dist"] == "ffbench" and row["rule_dist_version"] == ffbench.__version__
    assert row["rule_id"].startswith("ff[batch_size=50,epochs=10,")
    assert (
        row["goodness_id"] == "l2[threshold=3.0]"
        and row["negatives_id"] == "wrong-label[pairing=per-image,resample=false]"
    )
    assert row["device"].startswith("cpu") and row["torch_version"] and len(row["config_hash"]) == 16
    assert row["dataset_hash"] and row["train_seconds"] > 0 and row["preset"] == "quick"


def test_second_run_reuses_the_cached_model_and_no_cache_retrains(tmp_path):
    out = tmp_path / "r.parquet"
    assert invoke("run", *TINY, "--metric", "accuracy", "--out", str(out)).exit_code == 0
    assert invoke("run", *TINY, "--metric", "accuracy,sparsity", "--out", str(out)).exit_code == 0
    assert invoke("run", *TINY, "--metric", "accuracy", "--no-cache", "--out", str(out)).exit_code == 0
    df = pd.read_parquet(out)
    acc = df[(df.metric == "accuracy") & df["class"].isna()]
    assert acc["cached"].tolist() == [False, True, False]
    assert acc["value"].iloc[0] == acc["value"].iloc[1]  # same model, same numbers
    assert acc["config_hash"].nunique() == 1


def test_a_rerun_says_which_points_already_had_rows(tmp_path):
    out = tmp_path / "r.parquet"
    assert invoke("run", *TINY, "--metric", "accuracy", "--out", str(out)).exit_code == 0
    loud = [a for a in TINY if a != "-q"]
    result = invoke("run", *loud, "--metric", "accuracy", "--seeds", "2", "--out", str(out))
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "2 run point(s) added in" in said
    assert "; 1 of them had rows there already: ffbench's readers count only a point's newest run)" in said
    first = invoke("run", *loud, "--metric", "accuracy", "--out", str(tmp_path / "new.parquet"))
    assert "1 run point(s) added in" in first.output and "already" not in first.output


def test_a_run_at_another_precision_is_not_counted_as_a_rerun(tmp_path):
    # precision is outside the config hash, so only (hash, precision) tells a rerun from a new
    # configuration: rows of the same point at bf16 do not make a float32 run a rerun
    from ffbench import results_store

    out = tmp_path / "r.parquet"
    assert invoke("run", *TINY, "--metric", "accuracy", "--out", str(out)).exit_code == 0
    rows = results_store.read(out).assign(precision="bf16")
    out.unlink()
    results_store.append_and_compact(out, rows.to_dict("records"))
    loud = [a for a in TINY if a != "-q"]
    result = invoke("run", *loud, "--metric", "accuracy", "--out", str(out))
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "1 run point(s) added in" in said and "already" not in said


def test_resume_skips_finished_points(tmp_path):
    out = tmp_path / "r.parquet"
    assert invoke("run", *TINY, "--metric", "accuracy", "--out", str(out)).exit_code == 0
    result = invoke("run", *TINY, "--metric", "accuracy", "--seeds", "2", "--resume", "--out", str(out))
    assert result.exit_code == 0, result.output
    df = pd.read_parquet(out)
    assert df.groupby("seed")["run_id"].nunique().to_dict() == {0: 1, 1: 1}


class ExplodingRule(LearningRule):
    name = "explode"
    version = "1"
    uses_goodness = uses_negatives = False

    def fit(self, data, goodness, negatives, ctx):
        raise RuntimeError("boom at training time")


@pytest.fixture
def with_exploding_rule(monkeypatch):
    plugin = types.ModuleType("exploding_plugin")

    @ffbench.hookimpl
    def ffbench_register_rules(register):
        register(ExplodingRule)

    plugin.ffbench_register_rules = ffbench_register_rules
    monkeypatch.setattr(
        registry_module, "_DEFAULT", registry_module.load_registry(extra=[("exploding", plugin, "test-dist", "0.0.1")])
    )


def test_a_failing_point_is_recorded_and_the_run_goes_on(tmp_path, with_exploding_rule):
    out = tmp_path / "r.parquet"
    result = invoke(
        "run",
        "--rule",
        "explode,ff[width=64,layers=1,epochs=1]",
        "--dataset",
        "fashion-mnist-mini[train_size=300,test_size=100]",
        "--metric",
        "accuracy",
        "-q",
        "--out",
        str(out),
    )
    assert result.exit_code == 1
    df = pd.read_parquet(out)
    failed = df[df.status == "failed"]
    assert failed["rule"].tolist() == ["explode"] and "boom at training time" in failed["error"].iloc[0]
    assert failed["rule_dist"].iloc[0] == "test-dist"
    assert (df[df.rule.str.startswith("ff")]["status"] == "ok").all()


def test_missing_dataset_is_one_clear_paragraph(tmp_path):
    result = invoke(
        "run",
        "--dataset",
        "mnist",
        "--data-dir",
        str(tmp_path),
        "--no-download",
        "-q",
        "--out",
        str(tmp_path / "r.parquet"),
    )
    assert result.exit_code == 2
    assert "Dataset 'mnist' was not found" in result.output and str(tmp_path) in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "r.parquet").exists()


def test_unknown_names_and_help():
    result = invoke("run", "--rule", "fff")
    assert result.exit_code == 2 and "Did you mean 'ff'" in result.output
    result = invoke("run", "--help")
    assert result.exit_code == 0 and "--param" in result.output and "Examples" in result.output


def test_plugins_lists_every_builtin():
    result = invoke("plugins")
    assert result.exit_code == 0
    for name in (
        "ff",
        "bp-ff",
        "bp",
        "l2",
        "sumsq",
        "meansq",
        "wrong-label",
        "hard",
        "fashion-mnist-mini",
        "accuracy",
        "sparsity",
    ):
        assert f" {name} " in result.stdout


def test_stacked_seeds_through_the_runner_match_separate_runs(tmp_path):
    """--stack-seeds on trains both seeds in one stacked model; rows agree with one-by-one runs."""
    rows = {}
    for mode in ("on", "off"):
        out = tmp_path / f"{mode}.parquet"
        result = invoke(
            "run", *TINY, "--metric", "accuracy", "--seeds", "2", "--no-cache", "--stack-seeds", mode, "--out", str(out)
        )
        assert result.exit_code == 0, result.output
        df = pd.read_parquet(out)
        rows[mode] = df[df["class"].isna()].sort_values("seed")
    assert rows["on"]["config_hash"].tolist() == rows["off"]["config_hash"].tolist()
    assert (rows["on"]["value"] > 0.3).all() and (rows["off"]["value"] > 0.3).all()
    assert (rows["on"]["value"] - rows["off"]["value"]).abs().max() < 0.1  # same configuration, seed noise


def test_a_metric_parameter_grid_shows_every_variant_and_ignored_choices_are_noticed(tmp_path):
    from ffbench.summary import summary_table

    out = tmp_path / "r.parquet"
    result = invoke(
        "run",
        "--rule",
        "bp[width=32,layers=1,epochs=1]",
        "--goodness",
        "sumsq",
        "--negatives",
        "hard",
        "--dataset",
        "fashion-mnist-mini[train_size=300,test_size=100]",
        "--metric",
        "sparsity",
        "--param",
        "sparsity.samples=all,correct",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "--goodness sumsq is ignored" in text and "--negatives hard is ignored" in text
    columns = list(summary_table(pd.read_parquet(out)).columns)
    assert {"sparsity[samples=all] L1", "sparsity[samples=correct] L1"} <= set(columns)


def test_rows_say_whether_the_representations_read_the_label(tmp_path):
    out = tmp_path / "r.parquet"
    result = invoke(
        "run",
        "--rule",
        "ff[width=32,layers=1,epochs=1],bp[width=32,layers=1,epochs=1],dfa[width=32,layers=1,epochs=1]",
        "--dataset",
        "fashion-mnist-mini[train_size=300,test_size=100]",
        "--metric",
        "accuracy",
        "-q",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    df = pd.read_parquet(out)
    flags = df.groupby(df["rule"].str.split("[").str[0])["label_in_input"].agg(set).to_dict()
    assert flags == {"ff": {True}, "bp": {False}, "dfa": {False}}
