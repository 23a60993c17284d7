"""docs/submitting.md is followed end to end: every ```bash block's commands run, in order, in a
fresh folder (standing in for a fresh clone: git_sha is this checkout's commit without '-dirty'),
and the example plugin's rule they submit verifies and reaches the board marked verified. The
example plugin's version, edited in the rows and the manifest, fails verification naming it."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ffbench import leaderboard as lb
from ffbench import provenance
from ffbench.cli import app
from ffbench.submission import folder as sub_folder
from ffbench.submission.manifest import build_manifest
from ffbench.submission.submit import write_manifest
from ffbench.submission.verify import verify

pytest.importorskip("ffbench_plugin_example", reason="the example plugin (examples/ffbench-plugin-example)")

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "submitting.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def blocks(kind: str) -> list[str]:
    return [body for lang, body in FENCE.findall(DOC.read_text(encoding="utf-8")) if lang == kind]


def commands(block: str) -> list[list[str]]:
    """The block's commands: one per line (a trailing backslash continues it), comments dropped."""
    text = block.replace("\\\n", " ")
    return [shlex.split(line, comments=True) for line in text.splitlines() if shlex.split(line, comments=True)]


@pytest.fixture(scope="module")
def walked(tmp_path_factory):
    """Run every command of the doc's bash blocks; (folder, outputs)."""
    where = tmp_path_factory.mktemp("fresh-clone")
    sha = provenance.git_sha()
    clean = sha.removesuffix("-dirty") if sha else "0" * 40
    outputs = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(provenance, "git_sha", lambda: clean)
        mp.chdir(where)
        for block in blocks("bash"):
            for argv in commands(block):
                assert argv[0] == "ffbench", f"docs/submitting.md runs only ffbench commands in bash blocks: {argv}"
                result = CliRunner().invoke(app, argv[1:])
                assert result.exit_code == 0, f"{shlex.join(argv)} failed:\n{result.output}"
                outputs.append((argv, result.output))
    return where, outputs


def test_the_doc_has_the_steps_and_the_setup_is_a_clean_clone():
    bash = [cmd[1] for block in blocks("bash") for cmd in commands(block)]
    assert bash == ["run", "submit", "verify", "leaderboard", "leaderboard"]
    (setup,) = blocks("sh")
    assert "git clone" in setup and "pip install -e ." in setup


def test_following_the_doc_verifies_the_example_rule_and_puts_it_on_the_board(walked):
    where, outputs = walked
    folder = where / "submissions" / "greedy-layerwise-mini"
    record = json.loads((folder / "verification.json").read_text())
    assert record["status"] == "verified", record["reason"]
    (entry,) = record["configurations"]
    assert entry["label"].startswith("greedy-layerwise[") and entry["drawn_seed"] in (0, 1, 2)
    assert entry["mode"] == "exact" and entry["identical"] is True
    assert {v["metric_id"].partition("[")[0] for v in entry["values"]} == {"accuracy", "lifetime-sparsity"}
    assert {d["name"]: d["ok"] for d in record["distributions"]} == {"ffbench": True, "ffbench-plugin-example": True}
    board = lb.read_board(where / "leaderboards" / "fashion-mnist-mini.parquet")
    assert len(board) == len(sub_folder.read_rows(folder / "rows.parquet"))
    assert set(board["verification"]) == {"verified"} and set(board["rule"]) == {"greedy-layerwise[epochs=2,width=32]"}
    shown = outputs[-1][1]
    assert "greedy-layerwise" in shown


def test_a_changed_plugin_version_fails_naming_the_distribution(walked, tmp_path):
    where, _ = walked
    folder = tmp_path / "submissions" / "greedy-layerwise-mini"
    shutil.copytree(where / "submissions" / "greedy-layerwise-mini", folder)
    (folder / "verification.json").unlink()
    rows = sub_folder.read_rows(folder / "rows.parquet")
    for kind in ("rule", "metric"):
        hit = rows[f"{kind}_dist"] == "ffbench-plugin-example"
        rows.loc[hit, f"{kind}_dist_version"] = "9.9.9"
    sub_folder.write_rows(rows, folder / "rows.parquet")
    old = json.loads((folder / "manifest.json").read_text())
    write_manifest(
        build_manifest(rows, old["name"], old["created_at"], old["submitted_with"]), folder / "manifest.json"
    )
    record = verify(folder)
    assert record["integrity"] == [] and record["status"] == "failed" and record["configurations"] == []
    assert "plugin distribution ffbench-plugin-example: the manifest names version 9.9.9" in record["reason"]
    assert {d["name"]: d["ok"] for d in record["distributions"]} == {"ffbench": True, "ffbench-plugin-example": False}
