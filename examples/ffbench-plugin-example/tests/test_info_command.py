"""The `ffbench example-info` command this distribution adds (ffbench_register_commands), run
through the real ffbench command line."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from ffbench.cli import app


def test_example_info_lists_the_distribution_components():
    result = CliRunner().invoke(app, ["example-info"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "ffbench-plugin-example 0.1.0"
    kinds_names = sorted(tuple(line.split(":")[0].split()) for line in lines[1:])
    assert kinds_names == [
        ("dataset", "bars"),
        ("goodness", "symba"),
        ("metric", "lifetime-sparsity"),
        ("negatives", "pixel-shuffle"),
        ("rule", "greedy-layerwise"),
    ]


def test_example_info_kind_filter_and_plugins_listing():
    result = CliRunner().invoke(app, ["example-info", "--kind", "metric"])
    assert result.exit_code == 0, result.output
    assert [line.split(":")[0] for line in result.stdout.splitlines()[1:]] == ["  metric lifetime-sparsity"]
    data = json.loads(CliRunner().invoke(app, ["plugins", "--json"]).stdout)
    info = next(p for p in data["plugins"] if p["name"] == "example-info")
    assert (info["status"], info["components"]) == ("ok", ["command:example-info"])
