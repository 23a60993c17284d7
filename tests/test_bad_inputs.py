"""Bad inputs and hostile files, as an attacker or a careless user would give them, through the real
command line: every case exits as stated with one clear paragraph (no traceback), refuses before
any training where it can, and changes no file that existed before (checksums and modes of a whole
folder of files a user could have: a README, a results file, secrets, boards with hand-written
pages, a model of their own in the cache folder). Component specs and parameter values are also
generated (hypothesis)."""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import os
import stat
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from conftest import result_row
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from rich.console import Console
from typer.testing import CliRunner

from ffbench import leaderboard as lb
from ffbench.cache import ENTRY_NAME, MARKER, ModelCache
from ffbench.cli import app
from ffbench.component import Param, parse_spec
from ffbench.errors import FFBenchError, ParameterError
from ffbench.results import to_frame
from ffbench.results_store import append_and_compact
from ffbench.safe_paths import is_identifier, is_inside
from ffbench.untrusted import literal

DATA = "fashion-mnist-mini[train_size=300,test_size=100]"
TINY_RULE = "bp[width=32,layers=1,epochs=2,batch_size=50]"
SECRET = "s3cr3t-token-value"
T2 = "2026-01-03T00:00:00+00:00"


# -- the world a user has, and what may not change in it -----------------------------------------------


def row(**fields) -> dict:
    """One ok results row of a fabricated bp run."""
    return result_row(rule="bp", **fields)


@pytest.fixture
def world(tmp_path, monkeypatch) -> Path:
    """A folder of files a user has; the model cache ($FFBENCH_CACHE) is a folder of theirs too."""
    (tmp_path / "README.md").write_text("my project\n")
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "creds.json").write_text(json.dumps({"token": SECRET, "classes": ["a"]}))
    append_and_compact(tmp_path / "important.parquet", [row(run=f"r{i}", seed=i) for i in range(3)])
    boards = tmp_path / "boards"
    lb.update([str(tmp_path / "important.parquet")], boards)
    (boards / "SCHEMA.md").write_text("# hand-written schema\n")
    (boards / "notes.md").write_bytes(b"\xff\xfe not UTF-8 \x80\x81")
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "resnet50_finetuned.pt").write_bytes(b"the user's own model")
    os.chmod(tmp_path / "important.parquet", 0o600)
    monkeypatch.setenv("FFBENCH_CACHE", str(cache))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file under ``folder``: (sha256, permission bits)."""
    return {
        str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), stat.S_IMODE(p.stat().st_mode))
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def changed(before: dict, after: dict) -> list[str]:
    """Files that existed before and differ (or are gone) now."""
    return sorted(name for name, sig in before.items() if after.get(name) != sig)


def cached_models(world: Path) -> list[Path]:
    return [p for p in (world / "cache").iterdir() if ENTRY_NAME.fullmatch(p.name)]


class Result:
    def __init__(self, raw, seconds: float):
        self.exit_code, self.exception, self.seconds = raw.exit_code, raw.exception, seconds
        self.output = raw.output
        self.text = " ".join(raw.output.split())  # rich wraps long lines


def invoke(*args) -> Result:
    """The command, in process; ``seconds`` is the CPU time it used (wall time on a loaded machine says
    little about how much work a command did before it refused)."""
    t0 = time.process_time()
    raw = CliRunner().invoke(app, [str(a) for a in args])
    return Result(raw, time.process_time() - t0)


def refused(world: Path, *args, code: int = 2, says: tuple[str, ...] = (), trains: bool = False) -> Result:
    """Run a command that must be refused: exit ``code``, one paragraph saying ``says``, no traceback,
    nothing that existed changed, and (unless it ``trains``) no model trained and no time spent."""
    before = snapshot(world)
    result = invoke(*args)
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    for text in says:
        assert text in result.text, (text, result.output)
    assert changed(before, snapshot(world)) == []
    if not trains:
        assert not cached_models(world), "a model was trained"
        assert result.seconds < 60, result.seconds
    return result


# -- run: refused before any training -----------------------------------------------------------------


@pytest.mark.parametrize(
    "args, says",
    [
        (["--rule", "ff[/bold]"], ["'ff[/bold]'", "Malformed parameter '/bold'"]),
        (["--rule", "ff[red]"], ["Malformed parameter 'red' in 'ff[red]'"]),
        (["--rule", "ff[epochs="], ["'ff[epochs='", "expected name or name[k=v,...]"]),
        (["--rule", "ff[epochs=5"], ["'ff[epochs=5'", "name[k=v,...]"]),
        (["--rule", ""], ["--rule selects no rule"]),
        (["--metric", ""], ["--metric selects no metric"]),
        (["--dataset", ","], ["--dataset selects no dataset"]),
        (["--rule", "ff[epochs=1,epochs=2]"], ["'epochs' is given twice", "'1' and '2'"]),
        (["--rule", "bp[epochs=3]", "--param", "bp.epochs=5"], ["epochs=3 in 'bp[epochs=3]'", "bp.epochs=5"]),
        (["--rule", "bp", "--param", "bp.lr=0.1", "--param", "rule.lr=0.2"], ["bp.lr=0.1", "rule.lr=0.2"]),
        (["--rule", "bp[lr=nan]"], ["'nan'", "finite number"]),
        (["--rule", "bp[lr=inf]"], ["'inf'", "finite number"]),
        (["--rule", "bp", "--param", "bp.lr=-inf"], ["'-inf'", "finite number"]),
        (["--rule", "bp[lr=[red]x]"], ["bp[lr=[red]x]"]),
        (["--rule", "zz[k=[bold]v]"], ["Malformed component spec 'zz[k=[bold]v]'"]),
        (["--rule", "zz[k=v]"], ["Unknown rule 'zz'"]),
        (["--seed", "9223372036854775808"], ["Seed 9223372036854775808 is out of range", "2**63-1"]),
        (["--seed", "99999999999999999999999"], ["Seed 99999999999999999999999 is out of range"]),
        (["--seed", "-1"], ["Seed -1 is out of range"]),
        (["--seeds", "2000000"], ["--seeds 2000000 is more seeds than one run may have"]),
        (["--dataset", "fashion-mnist-mini[train_size=99999999]"], ["train_size", "10000 images"]),
        (["--dataset", "fashion-mnist-mini[test_size=2001]"], ["test_size", "2000 images"]),
    ],
)
def test_run_refuses_before_training(world, args, says):
    base = {"--rule": TINY_RULE, "--dataset": DATA, "--metric": "accuracy"}
    given_flags = set(args[::2])
    extra = [x for k, v in base.items() if k not in given_flags for x in (k, v)]
    refused(world, "run", *extra, *args, "--out", world / "new.parquet", "-q", says=tuple(says))
    assert not (world / "new.parquet").exists()


def test_a_huge_seed_count_is_refused_in_seconds(world):
    """100 000 seeds: the grid is expanded in linear time and the disk-space check refuses it."""
    result = refused(
        world, "run", "--rule", TINY_RULE, "--dataset", DATA, "--seeds", "100000", "--out", world / "r.parquet",
        says=("Not enough free disk space",),
    )  # fmt: skip
    assert result.seconds < 30


def test_garbage_dataset_files_are_one_paragraph(world):
    raw = world / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for split in ("train", "t10k"):
        for kind in ("images-idx3", "labels-idx1"):
            (raw / f"{split}-{kind}-ubyte").write_bytes(b"\x00garbage" * 50)
    refused(
        world, "run", "--rule", TINY_RULE, "--dataset", "mnist", "--data-dir", world / "data", "--no-download",
        "--out", world / "r.parquet", says=("Dataset 'mnist'", "could not be read", "AssertionError"),
    )  # fmt: skip


# -- run: trains, and the result is honest -------------------------------------------------------------


def test_an_exploding_run_fails_with_its_evidence_and_never_reaches_a_board(world):
    out = world / "blowup.parquet"
    refused(
        world, "run", "--rule", "bp[lr=1000000,epochs=5]", "--metric", "accuracy",
        "--dataset", "fashion-mnist-mini[train_size=500,test_size=200]", "--out", out, "-q",
        code=1, trains=True,
    )  # fmt: skip
    df = pd.read_parquet(out)
    assert (df["status"] == "failed").all()
    assert df["error"].str.contains("training diverged at epoch 1: the loss is").all()
    assert df["error"].str.contains("above 1e[+]08", regex=True).all()
    assert not cached_models(world)  # never cached
    before = snapshot(world / "boards")
    result = invoke("leaderboard", "update", out, "--boards", world / "boards", "--json")
    assert result.exit_code == 0 and "diverged" in result.output
    assert changed(before, snapshot(world / "boards")) == []


def test_a_cached_model_with_nan_weights_is_discarded_and_retrained(world):
    args = ["run", "--rule", TINY_RULE, "--dataset", DATA, "--metric", "accuracy", "--out", world / "r.parquet"]
    assert invoke(*args).exit_code == 0
    (entry,) = ModelCache(world / "cache").entries()
    blob = torch.load(entry, weights_only=False)
    with torch.no_grad():
        next(blob["model"].parameters())[0, 0] = float("nan")
    torch.save(blob, entry)
    again = invoke(*args)
    assert again.exit_code == 0, again.output
    assert "discarded" in again.text and "non-finite weights" in again.text
    df = pd.read_parquet(world / "r.parquet")
    assert (df["status"] == "ok").all() and df.drop_duplicates("run_id")["cached"].tolist() == [False, False]
    assert (world / "cache" / "resnet50_finetuned.pt").read_bytes() == b"the user's own model"


def test_a_private_results_file_stays_private(world):
    assert stat.S_IMODE((world / "important.parquet").stat().st_mode) == 0o600
    append_and_compact(world / "important.parquet", [row(run="more", seed=7)])
    assert stat.S_IMODE((world / "important.parquet").stat().st_mode) == 0o600
    assert len(pd.read_parquet(world / "important.parquet")) == 4


# -- leaderboard update: a results file cannot write outside --boards -------------------------------------


@pytest.mark.parametrize(
    "dataset_id, says",
    [
        ("{world}/important", "Refused board name"),
        ("../escaped_board", "Refused board name"),
        ("docs/README", "Refused board name"),
        ("README", "would replace the boards folder's own README.md"),
        ("schema", "would replace the boards folder's own schema.md"),
        (".hidden", "Refused board name"),
        ("a" * 101, "Refused board name"),
        ("ok/../../x[a=1]", "Refused board name"),
        ("with space", "Refused board name"),
        ("[red]x", "Refused board name"),
    ],
)
def test_update_refuses_dataset_ids_that_leave_the_boards_folder(world, dataset_id, says):
    dataset_id = dataset_id.format(world=world)
    bad = world / "bad.parquet"
    append_and_compact(bad, [row(run="x", dataset=dataset_id), row(run="y", seed=5)])
    result = refused(world, "leaderboard", "update", bad, "--boards", world / "boards", says=(says, "bad.parquet"))
    assert repr(dataset_id) in result.text or dataset_id[:20] in result.text
    assert not (world / "escaped_board.parquet").exists() and not (world / "docs").exists()
    assert not (world / "important.parquet.parquet").exists()


def test_update_refuses_a_row_without_dataset_id(world):
    bad = world / "bad.parquet"
    append_and_compact(bad, [row(run="x", dataset=None)])
    refused(world, "leaderboard", "update", bad, "--boards", world / "boards", says=("Refused dataset_id None",))


def test_update_refuses_a_board_symlinked_outside(world):
    outside = world / "elsewhere.parquet"
    outside.write_bytes((world / "boards" / "fashion-mnist-mini.parquet").read_bytes())
    bad = world / "new.parquet"
    append_and_compact(bad, [row(run="n", seed=9, dataset="mnist")])
    (world / "boards" / "mnist.parquet").symlink_to(outside)
    refused(world, "leaderboard", "update", bad, "--boards", world / "boards", says=("Refused board file", "outside"))


@pytest.mark.parametrize("sha, shown", [("abc123-dirty", "git_sha abc123-dirty"), (None, "git_sha missing")])
def test_update_refuses_rows_without_a_clean_commit_unless_allowed(world, sha, shown):
    res = world / "dirty.parquet"
    append_and_compact(res, [row(run="d1", seed=4, git_sha=sha)])
    says = ("Refused 1 run(s)", shown, "--allow-dirty")
    refused(world, "leaderboard", "update", res, "--boards", world / "boards", says=says)
    ok = invoke("leaderboard", "update", res, "--boards", world / "boards", "--allow-dirty", "--json", "-q")
    assert ok.exit_code == 0, ok.output
    report = json.loads(ok.output[ok.output.index("{") :])
    assert len(report["allowed_dirty"]) == 1 and shown in report["allowed_dirty"][0]
    board = lb.read_board(world / "boards" / "fashion-mnist-mini.parquet")
    recorded = board.loc[board["run_id"] == "d1", "git_sha"].tolist()
    assert recorded == [sha] if sha else pd.isna(recorded[0])  # recorded as it was


def test_update_refuses_results_with_wrongly_typed_columns(world):
    bad = world / "typed.parquet"
    df = to_frame([row()]).astype({"value": "string"})
    df["value"] = "0.5; DROP TABLE"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), bad)
    says = ("typed.parquet", "value (expected numbers, found text)")
    refused(world, "leaderboard", "update", bad, "--boards", world / "boards", says=says)


def test_a_board_with_wrongly_typed_columns_is_refused_by_show_and_update(world):
    path = world / "boards" / "fashion-mnist-mini.parquet"
    table = pq.read_table(path)
    values = pa.array([f"{v}" for v in table.column("value").to_pylist()])
    pq.write_table(table.set_column(table.schema.get_field_index("value"), "value", values), path)  # key kept
    says = ("fashion-mnist-mini.parquet", "value (expected numbers, found text)", "left untouched")
    refused(world, "leaderboard", "show", "--boards", world / "boards", says=says)
    res = world / "more.parquet"
    append_and_compact(res, [row(run="m", seed=8, t=T2)])
    refused(world, "leaderboard", "update", res, "--boards", world / "boards", says=says)


def test_update_refuses_a_results_file_that_is_not_parquet(world):
    (world / "junk.parquet").write_bytes(b"PAR1 not really")
    says = ("is not a readable Parquet results file",)
    refused(world, "leaderboard", "update", world / "junk.parquet", "--boards", world / "boards", says=says)


def test_a_non_utf8_page_in_the_boards_folder_is_left_alone_and_the_update_lands(world):
    res = world / "more.parquet"
    append_and_compact(res, [row(run="m", seed=8, t=T2)])
    before = snapshot(world)
    result = invoke("leaderboard", "update", res, "--boards", world / "boards", "-q")
    assert result.exit_code == 0, result.output
    changes = changed(before, snapshot(world))
    assert changes == ["boards/README.md", "boards/fashion-mnist-mini.md", "boards/fashion-mnist-mini.parquet"]
    assert (world / "boards" / "notes.md").read_bytes() == b"\xff\xfe not UTF-8 \x80\x81"
    assert "m" in set(lb.read_board(world / "boards" / "fashion-mnist-mini.parquet")["run_id"])


def test_render_and_render_check_leave_a_non_utf8_page_alone(world):
    """`leaderboard render` and `render --check` read pages as bytes: a hand-written page that is not
    UTF-8 is neither a traceback nor rewritten."""
    render = invoke("leaderboard", "render", "--boards", world / "boards")
    assert render.exit_code == 0, render.output
    check = invoke("leaderboard", "render", "--check", "--boards", world / "boards")
    assert check.exit_code == 0, check.output
    assert (world / "boards" / "notes.md").read_bytes() == b"\xff\xfe not UTF-8 \x80\x81"


def test_a_failure_while_rendering_leaves_board_and_pages_unchanged(world, monkeypatch):
    upd = importlib.import_module("ffbench.leaderboard.update")  # the module (the package exports a function)

    def broken(*args, **kwargs):
        raise FFBenchError("renderer broke")

    monkeypatch.setattr(upd, "expected_markdown", broken)
    res = world / "more.parquet"
    append_and_compact(res, [row(run="m", seed=8, t=T2)])
    refused(world, "leaderboard", "update", res, "--boards", world / "boards", says=("renderer broke",))
    assert not list((world / "boards").glob(".*.tmp"))


# -- report: reads artifacts only from the results file's own folder ------------------------------------


@pytest.mark.parametrize("stem", ["../secret/creds", "{world}/secret/creds", "r.parquet.artifacts/../../secret/creds"])
def test_report_never_follows_an_artifact_path_out_of_its_folder(world, stem):
    res = world / "sub" / "r.parquet"
    stem = stem.format(world=world)
    append_and_compact(res, [row(run="j", metric="jaccard", layer=1, artifact=stem), row(run="j")])
    before = snapshot(world)
    result = invoke("report", res, "--out", world / "rep")
    assert result.exit_code == 0, result.output
    assert "outside this results file's artifact folder" in result.text
    assert SECRET not in (world / "rep" / "index.html").read_text()
    assert changed(before, snapshot(world)) == []


def test_report_refuses_a_wrongly_typed_results_file(world):
    bad = world / "typed.parquet"
    df = to_frame([row()])
    df["seed"] = "zero"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), bad)
    says = ("typed.parquet", "seed (expected integers, found text)")
    refused(world, "report", bad, "--out", world / "rep", says=says)
    assert not (world / "rep").exists()


# -- cache: touches only what it wrote ------------------------------------------------------------------


def test_cache_clear_refuses_a_folder_that_is_not_its_own(world):
    refused(world, "cache", "clear", says=("is not marked as ffbench's model cache", "nothing was removed"))


def test_cache_clear_removes_its_models_and_nothing_else(world):
    cache = ModelCache(world / "cache")
    cache.save("0123456789abcdef", {"w": torch.zeros(2)}, {})
    (world / "cache" / "notes.pt").write_bytes(b"mine")
    info = invoke("cache", "info")
    assert info.exit_code == 0 and "1 cached model(s)" in info.text and "resnet50_finetuned.pt" in info.text
    before = snapshot(world)
    result = invoke("cache", "clear")
    assert result.exit_code == 0 and "removed 1 cached model(s)" in result.text and "never touched" in result.text
    assert changed(before, snapshot(world)) == ["cache/0123456789abcdef.pt"]
    assert sorted(p.name for p in (world / "cache").iterdir()) == [MARKER, "notes.pt", "resnet50_finetuned.pt"]


# -- results: one paragraph for a foreign file; a crashed run's file readable again -----------------------


def test_results_info_refuses_a_wrongly_typed_file(world):
    bad = world / "typed.parquet"
    df = to_frame([row()])
    df["headline"] = "yes"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), bad)
    refused(world, "results", "info", bad, says=("headline (expected true/false, found text)",))
    refused(world, "results", "compact", bad, says=("headline (expected true/false, found text)",))


@pytest.mark.parametrize(
    "column, stored, says",
    [
        ("value", "0.5", "value (expected numbers, found text)"),  # text pandas would quietly convert
        ("run_id", 7, "run_id (expected text, found integers)"),
        ("started_at", 3, "started_at (expected text, found integers)"),
    ],
)
def test_a_column_of_the_wrong_type_is_refused_even_where_its_values_would_convert(world, column, stored, says):
    """Every reader checks each file's Parquet column types before converting anything: a value stored
    as the text "0.5" or a run id stored as the integer 7 is refused by update, report, results info
    and the pre-check of a run that would append to the file (before any training, no part left)."""
    bad = world / "typed.parquet"
    df = to_frame([row(run="t", seed=7)])
    df[column] = stored
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), bad)
    says = ("typed.parquet", says, "so it was not read")
    refused(world, "leaderboard", "update", bad, "--boards", world / "boards", says=says)
    refused(world, "report", bad, "--out", world / "rep", says=says)
    refused(world, "results", "info", bad, says=says)
    run = ["run", "--rule", TINY_RULE, "--dataset", DATA, "--metric", "accuracy", "--out", bad, "-q"]
    refused(world, *run, says=says)
    assert not (world / "rep").exists() and not (world / ".typed.parquet.parts").exists()
    assert "t" not in set(lb.read_board(world / "boards" / "fashion-mnist-mini.parquet")["run_id"])


def test_a_results_file_without_ffbenchs_columns_is_refused_naming_them(world):
    """A file lacking columns every results file has is refused, naming them (not filled in as missing
    values that crash deep inside the merge); one written before schema 2 (no threads, no
    verification) still reads."""
    full = to_frame([row(run="f", seed=7)])
    full[["run_id", "metric", "value", "status"]].to_parquet(world / "few.parquet", index=False)
    says = ("few.parquet", "lacks the column(s) config_hash, error, seed", "and 38 more", "so it was not read")
    refused(world, "leaderboard", "update", world / "few.parquet", "--boards", world / "boards", says=says)
    refused(world, "report", world / "few.parquet", "--out", world / "rep", says=says)
    full.drop(columns=["seed"]).to_parquet(world / "noseed.parquet", index=False)
    says = ("noseed.parquet", "lacks the column(s) seed, which every ffbench results file has")
    refused(world, "results", "info", world / "noseed.parquet", says=says)
    full.drop(columns=["threads", "verification"]).to_parquet(world / "v1.parquet", index=False)
    older = invoke("results", "info", world / "v1.parquet")
    assert older.exit_code == 0 and "v1.parquet: 1 row(s), 1 run(s)" in older.text, older.output


def test_update_refuses_an_infinite_value_and_keeps_nan(world):
    """An ok row whose value is infinite is refused, named with its file and run; NaN (an undefined
    value, which aggregates skip) reaches the board; a huge finite value is not capped."""
    inf = world / "inf.parquet"
    append_and_compact(inf, [row(run="i", seed=7, value=float("inf")), row(run="j", seed=8, value=-float("inf"))])
    says = ("Refused rows whose value is infinite", "inf.parquet: run i, 1 row(s)", "accuracy/accuracy = inf")
    result = refused(world, "leaderboard", "update", inf, "--boards", world / "boards", says=says)
    assert "run j, 1 row(s) (first: accuracy/accuracy = -inf)" in result.text
    fine = world / "fine.parquet"
    append_and_compact(fine, [row(run="n", seed=7, value=float("nan")), row(run="h", seed=8, value=1e300)])
    assert invoke("leaderboard", "update", fine, "--boards", world / "boards", "-q").exit_code == 0
    board = lb.read_board(world / "boards" / "fashion-mnist-mini.parquet").set_index("run_id")["value"]
    assert np.isnan(board["n"]) and board["h"] == 1e300 and not np.isinf(board).any()


def test_a_submission_with_a_wrongly_typed_column_is_refused_naming_it(world):
    """Submissions use the shared column check: rows whose value column holds text are refused by
    verify and by an update from the folder, naming the rows file and the column."""
    from ffbench.submission.submit import submit

    res = world / "mine.parquet"
    append_and_compact(res, [row(run=f"s{i}", seed=i, value=0.5 + i / 10) for i in range(3)])
    folder = submit(res, "my-sub", world / "subs")
    rows = pq.read_table(folder / "rows.parquet")
    text = pa.array([str(v) for v in rows.column("value").to_pylist()])
    pq.write_table(rows.set_column(rows.schema.get_field_index("value"), "value", text), folder / "rows.parquet")
    says = ("rows.parquet does not hold ffbench results rows", "value (expected numbers, found text)")
    refused(world, "verify", folder, "--boards", world / "boards", says=says)
    refused(world, "leaderboard", "update", folder, "--boards", world / "boards", says=says)


@pytest.mark.parametrize(
    "dataset_id", [None, "../secret/creds", "{world}/boards/fashion-mnist-mini", "README", "schema", "mnist"]
)
def test_verify_takes_a_board_spread_only_from_a_board_inside_the_boards_folder(world, dataset_id):
    """The manifest's dataset_id names the board whose seed std caps a tolerance only if it is a safe
    board name whose file resolves inside --boards: otherwise no board spread (no crash, nothing read
    from elsewhere)."""
    from ffbench.submission.tolerance import board_spread

    boards = world / "boards"
    (boards / "mnist.parquet").symlink_to(world / "elsewhere.parquet")  # a board leading outside
    (world / "elsewhere.parquet").write_bytes((boards / "fashion-mnist-mini.parquet").read_bytes())
    identity = {**row(), "dataset_id": dataset_id.format(world=world) if dataset_id else None}
    spread = board_spread(boards, identity)
    assert spread.board is None and spread.own == {} and spread.typical == {}
    safe = board_spread(boards, {**row(), "dataset_id": "fashion-mnist-mini[train_size=300]"})
    assert safe.board == boards / "fashion-mnist-mini.parquet"
    assert safe.cap(("accuracy", "accuracy", None, None, None))[0] == 0.0  # three seeds of 0.5: std 0


def test_an_error_message_prints_exactly_as_written(world):
    spec = "zz[a=[/bold]\\"  # markup, an unknown closing tag and a trailing backslash
    result = refused(world, "run", "--rule", spec, "--out", world / "r.parquet", says=(repr(spec),))
    assert result.output.startswith("Error: Malformed component spec")


def test_results_info_of_a_path_with_markup_prints_it_literally(world):
    path = world / "r[red]x[bold].parquet"
    append_and_compact(path, [row()])
    result = invoke("results", "info", path)
    assert result.exit_code == 0 and "r[red]x[bold].parquet: 1 row(s), 1 run(s)" in result.text


def test_a_crashed_runs_results_are_readable_again_after_any_command(world):
    from ffbench import results_store

    out = world / "crashed.parquet"
    for i in range(3):  # the points a run appended before it was killed: parts only, no file
        results_store.append(out, [row(run=f"p{i}", seed=i)])
    assert not out.exists()
    result = invoke("results", "info", out)
    assert result.exit_code == 0 and "3 row(s), 3 run(s)" in result.text
    assert len(pd.read_parquet(out)) == 3 and not (world / ".crashed.parquet.parts").exists()


# -- one rule for duplicates: a point run twice is one seed ------------------------------------------------


def test_a_point_run_twice_is_one_seed_everywhere(world):
    out = world / "twice.parquet"
    args = ["run", "--rule", TINY_RULE, "--dataset", DATA, "--metric", "accuracy", "--out", out, "-q"]
    assert invoke(*args).exit_code == 0
    assert invoke(*args).exit_code == 0  # the same point again (its model from the cache)
    df = pd.read_parquet(out)
    assert df.drop_duplicates("run_id")["cached"].tolist() == [False, True]
    info = invoke("results", "info", out)  # accuracy: 1 overall + 10 per-class rows per run
    assert "11 row(s), 1 run(s) (0 failed), 1 older run(s) of a point run again not counted" in info.text
    from ffbench.report.source import read_source

    rows = read_source(out).frame
    overall = rows[rows["class"].isna()]
    assert overall["seed"].tolist() == [0] and overall["run_id"].tolist() == [df["run_id"].iloc[-1]]  # the newest
    report = invoke("report", out, "--out", world / "rep")
    assert report.exit_code == 0, report.output
    assert "0, 0" not in (world / "rep" / "index.html").read_text()


# -- generated specs, values and text -------------------------------------------------------------------

FAST = settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
SPEC_TEXT = st.text(alphabet="ab=,[]/.- \\", max_size=20)


@FAST
@given(SPEC_TEXT)
def test_any_spec_parses_or_is_refused_naming_it(text):
    try:
        name, params = parse_spec(text)
    except ParameterError as exc:
        assert repr(text.strip()) in str(exc)  # the spec as given, brackets and all
        return
    assert name and "[" not in name and "]" not in name
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in params.items())


@FAST
@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12), st.integers(), st.booleans()))
def test_any_float_value_is_a_finite_number_in_range_or_refused(value):
    p = Param("lr", float, 0.1, min=0.0, max=10.0)
    try:
        out = p.coerce(value, "bp")
    except ParameterError as exc:
        assert "parameter 'bp.lr'" in str(exc)
        return
    assert isinstance(out, float) and np.isfinite(out) and 0.0 <= out <= 10.0


def _printed(markup: str) -> str:
    from ffbench.cli.console import err

    console = Console(record=True, width=400, color_system=None, emoji=err._emoji, file=io.StringIO())
    console.print(markup, highlight=False, end="")
    return console.export_text()


@FAST
@example("\\[")  # rich reads a backslash before any bracket, tag or not
@example("\\\\\\")  # three trailing backslashes would escape the closing tag
@example("\\[bold]x\\\\[/x] [a\\[b]")
@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40))
def test_any_text_prints_literally_through_the_consoles(text):
    assert _printed(f"[bold]{literal(text)}[/bold]|") == text + "|"  # inside markup, as it is used


@FAST
@given(st.text(alphabet="ab[]/@#\\ ", max_size=30))
def test_brackets_and_backslashes_print_literally(text):
    assert _printed(f"[bold]{literal(text)}[/bold]|") == text + "|"
    if not text.endswith("\\"):  # followed by plain text rather than by a tag
        assert _printed(f"{literal(text)}|") == text + "|"


@FAST
@given(st.text(alphabet="abc./_-[]~\\ ", max_size=30))
def test_a_name_accepted_as_a_board_name_stays_in_its_folder(tmp_path_factory, text):
    folder = tmp_path_factory.getbasetemp() / "boards"
    if is_identifier(text):
        assert is_inside(folder / f"{text}.parquet", folder) and "/" not in text and ".." not in text


@settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet="zq[]/=,.", min_size=1, max_size=12))
def test_run_with_any_unknown_or_malformed_spec_exits_2_with_one_paragraph(tmp_path, text):
    result = invoke("run", "--rule", "zq" + text, "--dataset", DATA, "--out", tmp_path / "r.parquet", "-q")
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error:") and "Traceback" not in result.output
    assert not (tmp_path / "r.parquet").exists()
