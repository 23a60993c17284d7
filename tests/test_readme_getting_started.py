"""The README's getting-started commands, run as a new user runs them.

The clone and virtual-environment lines cannot run inside a test (no network, no second
installation); their shape is checked. The main job (`ffbench run`) runs for real in an empty
folder, with the installed ffbench, and must give what the README promises: the accuracy of the
board's seed 0 (printed into the README from the board) and a results file. The test command's
extras and paths must exist."""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def block(name: str) -> list[str]:
    """The command lines of the fenced block between <!-- name --> and <!-- /name -->."""
    match = re.search(rf"<!-- {name} -->\n```sh\n(.*?)```\n<!-- /{name} -->", README, re.S)
    assert match, f"README.md has no ```sh block marked <!-- {name} -->"
    return [line for line in match.group(1).splitlines() if line.strip()]


def test_getting_started_is_on_the_first_screen():
    """The commands come before any result table: within the first 40 lines."""
    first = README.splitlines()[:40]
    assert "<!-- getting-started -->" in first and "<!-- /getting-started -->" in first


def test_getting_started_clones_makes_a_venv_installs_and_runs():
    clone, venv, install = block("getting-started")
    assert clone.startswith("git clone ") and clone.endswith("&& cd ffbench")
    assert venv == "python3 -m venv .venv && . .venv/bin/activate"
    assert install == "pip install -e . && ffbench run"


def test_test_command_names_extras_and_paths_that_exist():
    (command,) = block("test-command")
    install, _, pytest_part = command.partition(" && ")
    extras = re.search(r'-e "\.\[([\w,]+)\]"', install).group(1).split(",")
    declared = importlib.metadata.metadata("ffbench").get_all("Provides-Extra")
    assert [e for e in extras if e not in declared] == []
    for path in re.findall(r"-e (examples/\S+)", install):
        assert (ROOT / path / "pyproject.toml").is_file()
    assert pytest_part.startswith("python -m pytest -q ")
    for target in pytest_part.split()[4:]:
        assert (ROOT / target).exists(), target
    # CI runs the same tests
    assert "-m pytest -q " + " ".join(pytest_part.split()[4:]) in (ROOT / ".ci" / "run").read_text()


def test_the_main_job_runs_and_gives_the_promised_accuracy(tmp_path):
    """`ffbench run` with no arguments, in an empty folder (as after the clone): exit 0, a results
    file, and the seed-0 accuracy the README prints from the board (to 0.01: the CPU thread count
    can move the last digits)."""
    env = {**os.environ, "FFBENCH_CACHE": str(tmp_path / "cache"), "COLUMNS": "100"}
    done = subprocess.run(
        [sys.executable, "-m", "ffbench", "run"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1800
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = pd.read_parquet(tmp_path / "ffbench-results.parquet")
    acc = rows[(rows["metric"] == "accuracy") & (rows["stat"] == "accuracy") & rows["class"].isna()]["value"]
    promised = re.search(r"<!-- numbers:main-job -->\n\*\*(\d\.\d+)\*\*", README)
    assert promised, "the README's main-job block holds no accuracy"
    assert len(acc) == 1 and acc.iloc[0] == pytest.approx(float(promised.group(1)), abs=0.01)
    assert "ffbench-results.parquet" in done.stdout + done.stderr
