"""Published plugins keep working: the frozen witness in tests/plugin_witness (plugin API 1) loads,
lists, runs through the CLI and passes the conformance suite with today's ffbench."""

from __future__ import annotations

import pandas as pd
import pytest
from plugin_witness import lifetime, softmax_rule, symba
from typer.testing import CliRunner

import ffbench
import ffbench.registry as registry_module
from ffbench.cli import app
from ffbench.registry import DISABLE_ENV, load_registry
from ffbench.testing import check_component

WITNESS = [
    ("witness-symba", symba, "witness-dist", "1.0"),
    ("witness-lifetime", lifetime, "witness-dist", "1.0"),
    ("witness-rule", softmax_rule, "witness-dist", "1.0"),
]


@pytest.fixture
def registry(monkeypatch):
    monkeypatch.setenv(DISABLE_ENV, "ffbench-plugin-example")  # the live copy of the same components
    reg = load_registry(extra=WITNESS)
    monkeypatch.setattr(registry_module, "_DEFAULT", reg)
    return reg


def test_the_witness_loads_and_lists(registry):
    witness = {p.name: p for p in registry.plugins if p.dist == "witness-dist"}
    assert {n: p.status for n, p in witness.items()} == {n: "ok" for n, *_ in WITNESS}
    assert ffbench.PLUGIN_API_VERSION == "1"
    result = CliRunner().invoke(app, ["plugins"])
    assert result.exit_code == 0 and "witness-softmax" in result.stdout and "symba" in result.stdout


@pytest.mark.parametrize(
    "cls, params",
    [(symba.SymbaGoodness, None), (lifetime.LifetimeSparsity, None), (softmax_rule.WitnessSoftmax, {"epochs": 2})],
)
def test_the_witness_passes_conformance(registry, cls, params):
    assert all(r.status in ("passed", "skipped") for r in check_component(cls, params=params))


def test_the_witness_runs_through_the_cli(registry, tmp_path):
    out = tmp_path / "r.parquet"
    data = "fashion-mnist-mini[train_size=500,test_size=200]"
    for args in (
        ["--rule", "witness-softmax[epochs=3]", "--metric", "accuracy,lifetime-sparsity"],
        ["--rule", "ff[width=32,layers=2,epochs=2,batch_size=100]", "--goodness", "symba", "--metric", "accuracy"],
    ):
        result = CliRunner().invoke(app, ["run", *args, "--dataset", data, "-q", "--out", str(out)])
        assert result.exit_code == 0, result.output
    df = pd.read_parquet(out)
    assert (df["status"] == "ok").all()
    acc = df[(df.metric == "accuracy") & df["class"].isna()]
    acc = dict(zip(acc["rule"].str.split("[").str[0], acc["value"]))
    assert acc["witness-softmax"] > 0.5 and acc["ff"] > 0.3, acc  # both learn (chance 0.1)
    assert set(df.loc[df.metric == "lifetime-sparsity", "metric_dist"]) == {"witness-dist"}
