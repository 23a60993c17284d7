"""End to end with the example third-party plugin (examples/ffbench-plugin-example), installed with
`pip install -e examples/ffbench-plugin-example` (CI does): discovered through its entry points,
listed by `ffbench plugins`, run by `ffbench run`, its distribution and version on every row."""

from __future__ import annotations

import importlib.metadata as md
import json

import pandas as pd
import pytest
from typer.testing import CliRunner

import ffbench.registry as registry_module
from ffbench.cli import app
from ffbench.registry import DISABLE_ENV

pytest.importorskip(
    "ffbench_plugin_example",
    reason="the example plugin is not installed: pip install -e examples/ffbench-plugin-example",
)

DIST = "ffbench-plugin-example"
VERSION = md.version(DIST)
TINY_RUN = [
    "--rule",
    "ff[batch_size=100,epochs=2,layers=2,width=32]",
    "--dataset",
    "fashion-mnist-mini[test_size=200,train_size=500]",
    "--no-cache",
    "--quiet",
]


@pytest.fixture(autouse=True)
def fresh_registry(monkeypatch):
    """Discover entry points anew in each test (the environment variable may change)."""
    monkeypatch.delenv(DISABLE_ENV, raising=False)
    monkeypatch.setattr(registry_module, "_DEFAULT", None)


def test_listed_by_plugins_and_version():
    data = json.loads(CliRunner().invoke(app, ["plugins", "--json"]).stdout)
    mine = {(c["kind"], c["name"]): c for c in data["components"] if c["distribution"] == DIST}
    assert set(mine) == {
        ("rule", "greedy-layerwise"),
        ("goodness", "symba"),
        ("negatives", "pixel-shuffle"),
        ("dataset", "bars"),
        ("metric", "lifetime-sparsity"),
    }
    assert {c["distribution_version"] for c in mine.values()} == {VERSION}
    assert {p["name"]: p["status"] for p in data["plugins"] if p["distribution"] == DIST} == {
        "example-symba": "ok",
        "example-lifetime-sparsity": "ok",
        "example-greedy-layerwise": "ok",
        "example-pixel-shuffle": "ok",
        "example-bars": "ok",
        "example-info": "ok",
    }
    assert f"{DIST}-{VERSION}" in CliRunner().invoke(app, ["--version"]).stdout


def test_run_records_the_plugin_distribution_on_every_row(tmp_path):
    out = tmp_path / "results.parquet"
    result = CliRunner().invoke(
        app, ["run", "--goodness", "symba", "--metric", "lifetime-sparsity,accuracy", "--out", str(out), *TINY_RUN]
    )
    assert result.exit_code == 0, result.output
    df = pd.read_parquet(out)
    assert (df["status"] == "ok").all()
    assert set(df["goodness_dist"]) == {DIST} and set(df["goodness_dist_version"]) == {VERSION}
    mine = df[df["metric"] == "lifetime-sparsity"]
    assert set(mine["metric_dist"]) == {DIST} and set(mine["metric_dist_version"]) == {VERSION}
    assert set(df.loc[df["metric"] == "accuracy", "metric_dist"]) == {"ffbench"}
    headline = mine[mine["stat"] == "lifetime_sparsity"].set_index("layer")["value"]
    assert list(headline.index) == [1, 2]
    assert headline.between(0.0, 1.0).all()
    dead = mine[mine["stat"] == "dead_units"]["value"]
    assert ((dead >= 0) & (dead <= 32) & (dead == dead.round())).all()
    assert df.loc[(df["metric"] == "accuracy") & df["class"].isna(), "value"].item() > 0.2  # chance is 0.1


def test_blocking_the_distribution_removes_its_components(tmp_path, monkeypatch):
    monkeypatch.setenv(DISABLE_ENV, DIST)
    result = CliRunner().invoke(app, ["run", "--goodness", "symba", "--out", str(tmp_path / "r.parquet"), *TINY_RUN])
    assert result.exit_code == 2
    message = " ".join(result.stderr.split())
    assert "Unknown goodness 'symba'" in message
    assert f"'example-symba' ({DIST} {VERSION}) is disabled: blocked by {DISABLE_ENV}={DIST}" in message
