"""Checks before training, diverging trainings, and a model cache that cannot run code."""

import os
from pathlib import Path

import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from ffbench.cli import app
from ffbench.errors import TrainingDivergedError
from ffbench.runner import check_finite_weights

DATA = "fashion-mnist-mini[train_size=300,test_size=100]"
TINY = ["--rule", "bp[width=32,layers=1,epochs=2,batch_size=50]", "--dataset", DATA, "--metric", "accuracy", "-q"]


def invoke(*args):
    result = CliRunner().invoke(app, list(args))
    result.text = " ".join(result.output.split())  # rich wraps long paths
    return result


def cached_models() -> list[Path]:
    return sorted(Path(os.environ["FFBENCH_CACHE"]).glob("*.pt"))


@pytest.mark.parametrize(
    "make_out, message",
    [
        (lambda tmp: Path("/proc/ffbench-test/results.parquet"), "is not writable"),
        (lambda tmp: (tmp / "afile").write_text("x") and tmp / "afile" / "r.parquet", "is a file, not a folder"),
        (
            lambda tmp: (tmp / "junk.parquet").write_text("not parquet") and tmp / "junk.parquet",
            "is not a readable Parquet results file",
        ),
        (lambda tmp: (tmp / "notes.txt").write_text("x") and tmp / "notes.txt", "is a file that is not .parquet"),
    ],
)
def test_bad_output_locations_fail_before_any_training(tmp_path, make_out, message):
    out = make_out(tmp_path)
    result = invoke("run", *TINY, "--out", str(out))
    assert result.exit_code == 2, result.output
    assert message in result.text and "--out" in result.text and "Traceback" not in result.text
    assert cached_models() == []  # nothing trained


def test_an_unwritable_cache_folder_fails_before_training(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("FFBENCH_CACHE", str(tmp_path / "file" / "cache"))
    result = invoke("run", *TINY, "--out", str(tmp_path / "r.parquet"))
    assert result.exit_code == 2 and "model cache" in result.text and "--no-cache" in result.text
    assert not (tmp_path / "r.parquet").exists()


def test_bad_board_and_report_folders_exit_2(tmp_path):
    out = tmp_path / "r.parquet"
    assert invoke("run", *TINY, "--out", str(out)).exit_code == 0
    result = invoke("leaderboard", "update", str(out), "--boards", "/proc/ffbench-boards")
    assert result.exit_code == 2 and "/proc" in result.output
    result = invoke("report", str(out), "--out", "/proc/ffbench-report")
    assert result.exit_code == 2 and "/proc" in result.output


def test_a_diverging_training_fails_its_point_is_not_cached_and_never_reaches_a_board(tmp_path):
    out = tmp_path / "r.parquet"
    result = invoke(
        "run",
        "--rule",
        "pepita[width=64,layers=2,epochs=3,batch_size=50,lr=1000]",
        "--dataset",
        DATA,
        "--metric",
        "accuracy",
        "-q",
        "--out",
        str(out),
    )
    assert result.exit_code == 1
    df = pd.read_parquet(out)
    assert (df["status"] == "failed").all() and df["error"].str.contains("training diverged at epoch 1").all()
    assert cached_models() == []
    boards = tmp_path / "boards"
    result = invoke("leaderboard", "update", str(out), "--boards", str(boards), "--json")
    assert result.exit_code == 0, result.output
    assert "diverged" in result.output and not list(boards.glob("*.parquet"))


def test_non_finite_weights_fail_the_point():
    model = torch.nn.Linear(3, 2)
    check_finite_weights(model)
    with torch.no_grad():
        model.weight[0, 0] = float("nan")
    with pytest.raises(TrainingDivergedError, match="non-finite weights in weight"):
        check_finite_weights(model)


class Payload:
    """What a tampered cache entry could hold: unpickling it would run a shell command."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_tampered_cache_entry_is_discarded_never_executed(tmp_path):
    out = tmp_path / "r.parquet"
    assert invoke("run", *TINY, "--out", str(out)).exit_code == 0
    [entry] = cached_models()
    marker = tmp_path / "pwned"
    torch.save({"model": Payload(marker), "meta": {}}, entry)
    result = CliRunner().invoke(app, ["run", *TINY[:-1], "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert not marker.exists()
    assert "discarded" in result.output and "posix.system" in result.output
    acc = pd.read_parquet(out).query("metric == 'accuracy' and `class`.isna()")
    assert acc["cached"].tolist() == [False, False] and acc["value"].nunique() == 1  # retrained, same numbers
    entry.write_bytes(b"garbage")  # a corrupt entry: dropped and retrained too
    assert invoke("run", *TINY, "--out", str(out)).exit_code == 0
    assert pd.read_parquet(out).query("metric == 'accuracy' and `class`.isna()")["cached"].tolist()[-1] is False
