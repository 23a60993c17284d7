"""Leaderboards: merge rules (newest wins per configuration x seed x metric, nothing else lost),
idempotency, a concurrent update from two processes, refusing corrupt and foreign boards, ranking
direction, Markdown rendering, diff, suites, and one real tiny run end to end."""

from __future__ import annotations

import json
import multiprocessing
import shutil

import pandas as pd
import pyarrow.parquet as pq
import pytest
import typer
from conftest import result_row as row
from typer.testing import CliRunner

from ffbench import leaderboard as lb
from ffbench.cli import leaderboard as lb_cli
from ffbench.errors import FFBenchError
from ffbench.grid import suite_grid
from ffbench.registry import get_registry
from ffbench.results_store import append_and_compact

T0, T1, T2 = "2026-01-01T00:00:00+00:00", "2026-01-02T00:00:00+00:00", "2026-01-03T00:00:00+00:00"


def results(tmp_path, name, rows) -> str:
    path = tmp_path / name
    append_and_compact(path, rows)
    return str(path)


def board_of(boards, name="fashion-mnist-mini") -> pd.DataFrame:
    return lb.read_board(boards / f"{name}.parquet")


def values(board, rule="ff", seed=0, metric="accuracy", cls=None) -> list[float]:
    sel = board[(board["rule"] == rule) & (board["seed"] == seed) & (board["metric"] == metric)]
    sel = sel[sel["class"].isna()] if cls is None else sel[sel["class"] == cls]
    return sel["value"].tolist()


def cli() -> typer.Typer:
    from ffbench.cli import friendly_errors
    from ffbench.cli.run import run

    app = typer.Typer()
    app.command()(friendly_errors(run))
    app.add_typer(lb_cli.app, name="leaderboard")
    return app


def invoke(*args):
    return CliRunner().invoke(cli(), [str(a) for a in args])


# -- merging ----------------------------------------------------------------------------------


def test_update_merges_and_a_second_identical_update_changes_nothing(tmp_path):
    boards = tmp_path / "boards"
    res = results(
        tmp_path,
        "r.parquet",
        [
            row(seed=0, value=0.8, run="f0"),
            row(seed=1, value=0.9, run="f1"),
            row(rule="bp", seed=0, value=0.7, run="b0"),
        ],
    )
    report = lb.update([res, res], boards)  # the same file twice adds its rows once
    (up,) = report.boards
    assert (up.name, up.rows_before, up.rows_after, up.written, up.count("added")) == (
        "fashion-mnist-mini",
        0,
        3,
        True,
        3,
    )
    assert sorted(p.name for p in report.rendered) == ["README.md", "fashion-mnist-mini.md"]
    files = {p.name: p.read_bytes() for p in boards.iterdir() if not p.name.startswith(".")}
    again = lb.update([res], boards)
    assert again.boards[0].written is False and again.boards[0].count("unchanged") == 3 and again.rendered == []
    assert {p.name: p.read_bytes() for p in boards.iterdir() if not p.name.startswith(".")} == files
    board = board_of(boards)
    assert values(board, seed=1) == [pytest.approx(0.9)] and values(board, rule="bp") == [pytest.approx(0.7)]
    assert board["goodness_id"].isna().tolist() == [r == "bp" for r in board["rule"]]


def test_a_newer_run_replaces_its_unit_and_nothing_else(tmp_path):
    boards = tmp_path / "boards"
    lb.update(
        [
            results(
                tmp_path,
                "old.parquet",
                [
                    row(value=0.5, run="old"),
                    row(value=0.4, run="old", cls="Bag"),
                    row(value=0.3, run="old", metric="sparsity", layer=1),
                    row(seed=1, value=0.6, run="old1"),
                    row(rule="bp", value=0.7, run="bp"),
                ],
            )
        ],
        boards,
    )
    report = lb.update([results(tmp_path, "new.parquet", [row(value=0.55, run="new", t=T2)])], boards)
    board = board_of(boards)
    assert values(board) == [pytest.approx(0.55)]
    assert values(board, cls="Bag") == []  # the unit is replaced whole: no stale per-class row survives
    assert values(board, metric="sparsity") == [pytest.approx(0.3)]  # same run point, other metric: kept
    assert values(board, seed=1) == [pytest.approx(0.6)] and values(board, rule="bp") == [pytest.approx(0.7)]
    (decision,) = report.boards[0].decisions
    assert decision.action == "replaced" and (decision.other_run, decision.run) == ("old", "new")
    assert "run old" in decision.message and "newer run new" in decision.message


def test_an_older_run_is_kept_out_and_the_board_is_not_rewritten(tmp_path):
    boards = tmp_path / "boards"
    lb.update([results(tmp_path, "new.parquet", [row(value=0.9, run="new", t=T2)])], boards)
    before = (boards / "fashion-mnist-mini.parquet").read_bytes()
    report = lb.update([results(tmp_path, "old.parquet", [row(value=0.1, run="old", t=T0)])], boards)
    assert [d.action for d in report.boards[0].decisions] == ["kept"]
    assert (boards / "fashion-mnist-mini.parquet").read_bytes() == before
    assert values(board_of(boards)) == [pytest.approx(0.9)]


def test_within_one_update_the_newest_run_of_a_unit_wins_whatever_the_order(tmp_path):
    boards = tmp_path / "boards"
    newer = results(tmp_path, "b.parquet", [row(value=0.9, run="newer", t=T2)])
    older = results(tmp_path, "a.parquet", [row(value=0.1, run="older", t=T1)])
    report = lb.update([newer, older], boards)
    assert values(board_of(boards)) == [pytest.approx(0.9)]
    actions = sorted(d.action for d in report.boards[0].decisions)
    assert actions == ["added", "superseded"]


def test_failed_rows_are_logged_not_merged(tmp_path):
    boards = tmp_path / "boards"
    logged: list[str] = []
    res = results(
        tmp_path,
        "r.parquet",
        [
            row(value=0.8, run="ok"),
            row(rule="bp", value=float("nan"), run="bad", status="failed", error="ValueError: boom"),
        ],
    )
    report = lb.update([res], boards, log=logged.append)
    assert board_of(boards)["run_id"].tolist() == ["ok"]
    assert len(report.failed) == 1 and "bad" in report.failed[0] and "ValueError: boom" in report.failed[0]
    assert report.failed[0] in logged


def test_rows_go_to_one_board_per_dataset_name(tmp_path):
    boards = tmp_path / "boards"
    lb.update(
        [
            results(
                tmp_path,
                "r.parquet",
                [
                    row(run="m", dataset="mnist"),
                    row(run="s", dataset="mnist[train_size=100]"),
                    row(run="f", dataset="fashion-mnist"),
                ],
            )
        ],
        boards,
    )
    assert sorted(p.name for p in boards.glob("*.parquet")) == ["fashion-mnist.parquet", "mnist.parquet"]
    assert sorted(board_of(boards, "mnist")["dataset_id"]) == ["mnist", "mnist[train_size=100]"]


def _update_in_child(paths, boards, barrier) -> None:
    barrier.wait()
    lb.update(paths, boards, lock_timeout=60)


def test_two_concurrent_updates_both_land(tmp_path):
    get_registry()  # loaded once, before forking
    boards = tmp_path / "boards"
    a = results(tmp_path, "a.parquet", [row(rule="ff", seed=s, run=f"ff{s}", value=0.1 * s) for s in range(3)])
    b = results(tmp_path, "b.parquet", [row(rule="bp", seed=s, run=f"bp{s}", value=0.2 * s) for s in range(3)])
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_update_in_child, args=([p], boards, barrier)) for p in (a, b)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    board = board_of(boards)
    assert sorted(board["run_id"]) == ["bp0", "bp1", "bp2", "ff0", "ff1", "ff2"]
    assert lb.stale_markdown(boards) == []


def test_an_update_waits_for_the_lock_and_says_so_when_it_times_out(tmp_path):
    from ffbench.locking import folder_lock

    boards = tmp_path / "boards"
    boards.mkdir()
    res = results(tmp_path, "r.parquet", [row()])
    with folder_lock(boards):
        with pytest.raises(FFBenchError, match="Another ffbench process holds the leaderboards folder"):
            lb.update([res], boards, lock_timeout=0.2)
    assert not (boards / "fashion-mnist-mini.parquet").exists()
    lb.update([res], boards)
    assert sorted(p.name for p in boards.iterdir()) == [
        "README.md",
        "fashion-mnist-mini.md",
        "fashion-mnist-mini.parquet",
    ]  # no lock file left


# -- refusing boards we cannot trust ----------------------------------------------------------


def test_a_corrupt_board_is_refused_and_left_untouched(tmp_path):
    boards = tmp_path / "boards"
    lb.update([results(tmp_path, "r.parquet", [row(run="a")])], boards)
    path = boards / "fashion-mnist-mini.parquet"
    path.write_bytes(path.read_bytes()[:200])  # truncated, as by a crash without atomic writes
    corrupt = path.read_bytes()
    res = results(tmp_path, "r2.parquet", [row(run="b", t=T2), row(run="m", dataset="mnist")])
    with pytest.raises(lb.BoardError, match="is not a readable Parquet file.*left untouched"):
        lb.update([res], boards)
    assert path.read_bytes() == corrupt
    assert not (boards / "mnist.parquet").exists()  # nothing is written when any board is refused
    result = invoke("leaderboard", "update", res, "--boards", boards)
    assert result.exit_code == 2 and "not a readable Parquet file" in result.output
    assert path.read_bytes() == corrupt


def test_foreign_and_other_version_boards_are_refused(tmp_path):
    boards = tmp_path / "boards"
    boards.mkdir()
    res = results(tmp_path, "r.parquet", [row()])
    foreign = boards / "fashion-mnist-mini.parquet"
    pd.DataFrame({"x": [1, 2]}).to_parquet(foreign)
    with pytest.raises(lb.BoardError, match="not an ffbench leaderboard.*ffbench_leaderboard_schema"):
        lb.update([res], boards)
    foreign.unlink()
    lb.update([res], boards)
    table = pq.read_table(foreign)
    meta = {**table.schema.metadata, lb.SCHEMA_KEY.encode(): b"99"}
    pq.write_table(table.replace_schema_metadata(meta), foreign)
    newer = foreign.read_bytes()
    with pytest.raises(lb.BoardError, match="schema version 99; .* reads versions 1, 2"):
        lb.update([results(tmp_path, "r2.parquet", [row(run="b", t=T2)])], boards)
    assert foreign.read_bytes() == newer
    pq.write_table(table.drop(["headline"]).replace_schema_metadata(table.schema.metadata), foreign)
    with pytest.raises(lb.BoardError, match="columns differ \\(missing headline\\)"):
        lb.read_board(foreign)


def test_a_version_1_board_reads_with_the_later_columns_missing(tmp_path):
    """Boards written before schema 2 (no threads, no verification) stay readable: those columns
    come back as missing values, and the next write stores version 2."""
    boards = tmp_path / "boards"
    boards.mkdir()
    lb.update([results(tmp_path, "r.parquet", [row()])], boards)
    path = boards / "fashion-mnist-mini.parquet"
    table = pq.read_table(path)
    assert table.schema.metadata[lb.SCHEMA_KEY.encode()] == b"2"
    old = table.drop(["threads", "verification"])
    pq.write_table(old.replace_schema_metadata({**table.schema.metadata, lb.SCHEMA_KEY.encode(): b"1"}), path)
    board = lb.read_board(path)
    assert board["threads"].isna().all() and board["verification"].isna().all()
    assert str(board["threads"].dtype) == "Int64" and len(board) == len(table)


# -- aggregation and ranking ------------------------------------------------------------------


def test_aggregate_is_mean_sample_std_and_n_over_seeds(tmp_path):
    boards = tmp_path / "boards"
    lb.update(
        [
            results(
                tmp_path,
                "r.parquet",
                [
                    row(seed=0, value=0.5, run="s0"),
                    row(seed=1, value=0.7, run="s1"),
                    row(seed=2, value=0.9, run="s2"),
                    row(seed=3, value=float("nan"), run="s3"),
                    row(rule="bp", value=0.4, run="b"),
                ],
            )
        ],
        boards,
    )
    agg = lb.aggregate(board_of(boards)).set_index("rule")
    assert set(lb.AGGREGATE_COLUMNS) <= set(agg.reset_index().columns)
    ff, bp = agg.loc["ff"], agg.loc["bp"]
    assert ff["mean"] == pytest.approx(0.7) and ff["std"] == pytest.approx(0.2) and ff["n"] == 3
    assert ff["seeds"] == "0,1,2,3" and ff["runs"] == "s0,s1,s2,s3"
    assert bp["mean"] == pytest.approx(0.4) and pd.isna(bp["std"]) and bp["n"] == 1
    assert pd.isna(bp["goodness"]) and bp["dataset"] == "fashion-mnist-mini"


def _board_with(tmp_path, metric, higher, scores) -> pd.DataFrame:
    """A board of ``scores``: rule -> one value per seed (seeds 0, 1, ...)."""
    rows = [
        row(rule=rule, seed=seed, run=f"{rule}-{seed}", value=v, metric=metric, higher=higher)
        for rule, vs in scores.items()
        for seed, v in enumerate(vs)
    ]
    lb.update([results(tmp_path, f"{metric}.parquet", rows)], tmp_path / "boards")
    return lb.aggregate(board_of(tmp_path / "boards"))


#: bp is far above bp-ff and ff2, which the seeds cannot tell apart (paired differences -0.01, +0.02,
#: -0.01: mean 0), and ff is far below them (every paired difference >= 0.29 with a spread of 0.01).
SCORES = {"ff": [0.30, 0.31, 0.29], "bp": [0.90, 0.91, 0.92], "bp-ff": [0.60, 0.62, 0.61], "ff2": [0.61, 0.60, 0.62]}


def test_ranking_follows_the_declared_direction_and_the_seeds(tmp_path):
    up = lb.select(_board_with(tmp_path, "accuracy", True, SCORES), "accuracy")
    assert list(zip(up["rule"], up["rank"])) == [("bp", 1), ("bp-ff", 2), ("ff2", 2), ("ff", 4)]
    assert set(up["status"]) == {"ranked"} and set(up["test"]) == {"paired t"}
    down = lb.select(_board_with(tmp_path, "error", False, SCORES), "error")
    assert list(zip(down["rule"], down["rank"])) == [("ff", 1), ("bp-ff", 2), ("ff2", 2), ("bp", 4)]
    flat = lb.select(_board_with(tmp_path, "size", None, SCORES), "size")
    assert flat["rank"].isna().all() and set(flat["status"]) == {"descriptive"}
    table = lb.overview(lb.aggregate(board_of(tmp_path / "boards")))
    assert table.headers == ["#", "configuration", "seeds", "accuracy ▲", "error ▼"]  # ranked values only
    assert [r[:2] for r in table.rows] == [["1", "bp"], ["2", "bp-ff"], ["2", "ff2"], ["4", "ff"]]
    assert table.rows[0][4] == "0.9100 ± 0.0100 (4)"  # bp's error (the same scores) and its rank on it
    assert table.ranked_by == "accuracy ▲"


def test_fewer_than_three_seeds_are_preliminary_and_close_means_tie(tmp_path):
    scores = {"bp": [0.90, 0.91], "ff": [0.80, 0.95, 0.65], "bp-ff": [0.70, 0.71, 0.72]}
    ranked = lb.select(_board_with(tmp_path, "accuracy", True, scores), "accuracy").set_index("rule")
    assert ranked.loc["bp", "status"] == "preliminary" and pd.isna(ranked.loc["bp", "rank"])
    # ff's spread (0.15) hides its 0.09 lead over bp-ff: not separated, both first
    assert ranked.loc["ff", "rank"] == 1 and ranked.loc["bp-ff", "rank"] == 1
    assert ranked.loc["ff", "separable"] > 0.09


def test_time_and_memory_are_never_ranked_whatever_the_plugin_declares(tmp_path):
    scores = {"ff": [10.0, 11.0, 12.0], "bp": [100.0, 101.0, 102.0], "bp-ff": [50.0, 51.0, 52.0]}
    rows = [
        row(rule=r, seed=i, run=f"{r}-{i}", value=v, metric="cost", stat="train_seconds", higher=False)
        for r, vs in scores.items()
        for i, v in enumerate(vs)
    ]
    lb.update([results(tmp_path, "c.parquet", rows)], tmp_path / "boards")
    ranked = lb.select(lb.aggregate(board_of(tmp_path / "boards")), "cost", "train_seconds")
    assert ranked["rank"].isna().all() and set(ranked["status"]) == {"shared machine"}


def test_show_ranks_and_prints_json_and_csv(tmp_path):
    boards = tmp_path / "boards"
    rows = []
    for seed in range(3):
        rows += [
            row(rule="ff", seed=seed, run=f"f{seed}", value=0.60 + seed / 100),
            row(rule="bp", seed=seed, run=f"b{seed}", value=0.80 + seed / 100),
            row(rule="ff", seed=seed, run=f"f{seed}", value=0.2, metric="sparsity", layer=1),
            row(rule="ff", seed=seed, run=f"f{seed}", value=0.30 + seed / 100, metric="sparsity", layer=2),
            row(rule="bp", seed=seed, run=f"b{seed}", value=0.50 - seed / 100, metric="sparsity", layer=2),
        ]
    lb.update([results(tmp_path, "r.parquet", rows)], boards)
    shown = invoke("leaderboard", "show", "--boards", boards)
    assert shown.exit_code == 0, shown.output
    assert "accuracy ▲" in shown.stdout and "sparsity L2 ▲" in shown.stdout and "0.8100 ± 0.0100" in shown.stdout
    data = json.loads(
        invoke(
            "leaderboard",
            "show",
            "fashion-mnist-mini",
            "--boards",
            boards,
            "--metric",
            "sparsity",
            "--layer",
            "2",
            "--json",
        ).stdout
    )
    assert [(d["rule"], d["rank"], round(d["mean"], 6), d["status"]) for d in data] == [
        ("bp", 1, 0.49, "ranked"),
        ("ff", 2, 0.31, "ranked"),
    ]
    assert data[0]["test"] == "paired t" and data[0]["separable"] > 0
    csv = invoke("leaderboard", "show", str(boards / "fashion-mnist-mini.parquet"), "--metric", "accuracy", "--csv")
    lines = csv.stdout.strip().splitlines()
    assert lines[0].startswith("board,rank,status,rule,") and lines[1].startswith("fashion-mnist-mini,1,ranked,bp,")
    none = invoke("leaderboard", "show", "--boards", boards, "--verified-only", "--json")
    assert none.exit_code == 0 and json.loads(none.stdout) == []  # no row was verified: nothing ranked
    bad = invoke("leaderboard", "show", "--boards", boards, "--metric", "acuracy")
    assert bad.exit_code == 2 and "Did you mean 'accuracy'?" in bad.output
    bad = invoke("leaderboard", "show", "--boards", boards, "--metric", "sparsity", "--layer", "3")
    assert bad.exit_code == 2 and "Valid layers: 1, 2" in bad.output
    empty = invoke("leaderboard", "show", "--boards", tmp_path / "none")
    assert empty.exit_code == 2 and "ffbench leaderboard update" in empty.output


def test_verified_only_ranks_the_verified_rows_alone(tmp_path):
    boards = tmp_path / "boards"
    rows = [
        row(rule=r, seed=s, run=f"{r}{s}", value=v + s / 100, verification="verified" if r != "bp" else None)
        for r, v in (("ff", 0.6), ("bp", 0.9), ("bp-ff", 0.5))
        for s in range(3)
    ]
    lb.update([results(tmp_path, "r.parquet", rows)], boards)
    everything = json.loads(invoke("leaderboard", "show", "--boards", boards, "--json").stdout)
    assert [(d["rule"], d["rank"]) for d in everything] == [("bp", 1), ("ff", 2), ("bp-ff", 3)]
    verified = json.loads(invoke("leaderboard", "show", "--boards", boards, "--json", "--verified-only").stdout)
    assert [(d["rule"], d["rank"], d["verification"]) for d in verified] == [
        ("ff", 1, "verified"),
        ("bp-ff", 2, "verified"),
    ]


# -- Markdown ---------------------------------------------------------------------------------


def test_markdown_renders_overview_metric_sections_and_provenance(tmp_path):
    boards = tmp_path / "boards"
    rows = []
    for seed, (ff, bp) in enumerate(((0.60, 0.90), (0.80, 0.91), (0.70, 0.92))):
        rows += [
            row(rule="ff", seed=seed, run=f"f{seed}", value=ff),
            row(rule="bp", seed=seed, run=f"b{seed}", value=bp),
            row(rule="bp", seed=seed, run=f"b{seed}", value=0.25, metric="sparsity", layer=1),
            row(rule="bp", seed=seed, run=f"b{seed}", value=3.0, metric="size", higher=None, layer=1),
            row(rule="ff", seed=seed, run=f"f{seed}", value=0.2 if seed else float("nan"), metric="sparsity", layer=1),
        ]
    lb.update([results(tmp_path, "r.parquet", rows)], boards)
    text = (boards / "fashion-mnist-mini.md").read_text()
    assert text.startswith("<!-- Generated by `ffbench leaderboard render` from fashion-mnist-mini.parquet")
    assert "# Leaderboard: fashion-mnist-mini" in text and "2 configuration(s), 6 seeded run(s)" in text
    assert "Data: `fashion-mnist-mini` v1 (h1) for every configuration." in text
    # the overview: ranked values only; bp-ff's 0.2 lead over ff is within ff's spread (std 0.1)
    assert "| # | configuration | seeds | accuracy ▲ | sparsity L1 ▲ |" in text
    assert "| 1 | bp | 3 | 0.9100 ± 0.0100 | 0.2500 ± 0 (1) |" in text
    assert "| 1 | ff | 3 | 0.700 ± 0.100 | 0.2000 ± 0 (n=2) |" in text  # ff has 2 sparsity seeds: preliminary
    assert "On accuracy ▲: tied: bp, ff." in text
    assert "## size\n\nNo direction declared: descriptive, not ranked." in text
    assert "| 1 | bp | 3 | 3.000 ± 0 |" in text  # size: layer, configuration, seeds, value
    identity = "`ff[lr=0.1] / l2[threshold=3.0] / wrong-label[resample=false] on fashion-mnist-mini v1 (h1)`"
    assert f"- ff: {identity}" in text  # the key: a list (a table of identities scrolls sideways)
    assert "| ff | 0, 1, 2 |" in text and "0123456789ab" in text and "quick@1" in text
    index = (boards / "README.md").read_text()
    board_line = "| [fashion-mnist-mini](fashion-mnist-mini.md) | 2 | 6 | accuracy, size, sparsity |"
    assert f"{board_line} tied: bp, ff (accuracy ▲) |" in index


def test_superseded_configurations_leave_the_ranks_for_their_own_section(tmp_path):
    boards = tmp_path / "boards"
    old = [row(rule="bp", seed=s, run=f"o{s}", value=0.5 + s / 100, rule_id="bp[lr=0.1]") for s in range(3)]
    new = [
        row(rule="bp", seed=s, run=f"n{s}", value=0.7 + s / 100, rule_id="bp[lr=0.2]", suite_version="2")
        for s in range(3)
    ]
    ff = [row(rule="ff", seed=s, run=f"f{s}", value=0.6 + s / 100, suite_version="2") for s in range(3)]
    lb.update([results(tmp_path, "r.parquet", old + new + ff)], boards)
    board = board_of(boards)
    assert list(lb.superseded(board).values()) == ["quick@2"]
    ranked = lb.select(lb.aggregate(board), "accuracy")
    assert list(zip(ranked["rule_id"], ranked["rank"].astype(object), ranked["status"])) == [
        ("bp[lr=0.2]", 1, "ranked"),
        ("ff[lr=0.1]", 2, "ranked"),
        ("bp[lr=0.1]", pd.NA, "superseded"),
    ]
    text = (boards / "fashion-mnist-mini.md").read_text()
    assert "## Superseded" in text and "| bp (lr=0.1) | quick@2 | 3 | 0.5100 ± 0.0100 |" in text
    assert "| 1 | bp (lr=0.2) | 3 | 0.7100 ± 0.0100 |" in text
    assert "| bp (lr=0.1) | 3 |" not in text.split("## Superseded")[0]


def test_render_check_catches_hand_edits_and_render_repairs_them(tmp_path):
    boards = tmp_path / "boards"
    lb.update([results(tmp_path, "r.parquet", [row()])], boards)
    assert invoke("leaderboard", "render", "--boards", boards, "--check").exit_code == 0
    page = boards / "fashion-mnist-mini.md"
    page.write_text(page.read_text().replace("0.5000", "0.9999"))
    check = invoke("leaderboard", "render", "--boards", boards, "--check")
    assert check.exit_code == 1 and "fashion-mnist-mini.md" in check.output
    assert invoke("leaderboard", "render", "--boards", boards).exit_code == 0
    assert "0.5000" in page.read_text() and lb.stale_markdown(boards) == []
    (boards / "SCHEMA.md").write_text("# hand-written\n")
    shutil.copy(page, boards / "gone.md")  # the page of a board since deleted
    assert lb.stale_markdown(boards) == [boards / "gone.md"]
    assert invoke("leaderboard", "render", "--boards", boards).exit_code == 0
    assert not (boards / "gone.md").exists() and (boards / "SCHEMA.md").read_text() == "# hand-written\n"


# -- diff -------------------------------------------------------------------------------------


def test_diff_reports_changed_added_and_removed_values_with_ranks(tmp_path):
    boards = tmp_path / "boards"
    three = range(3)
    lb.update(
        [
            results(
                tmp_path,
                "r.parquet",
                [row(rule="ff", seed=s, run=f"f{s}", value=0.60 + s / 100) for s in three]
                + [row(rule="bp", seed=s, run=f"b{s}", value=0.80 + s / 100) for s in three]
                + [row(run="m", dataset="mnist")],
            )
        ],
        boards,
    )
    old = tmp_path / "old"
    shutil.copytree(boards, old)
    (boards / "mnist.parquet").unlink()
    lb.update(
        [
            results(
                tmp_path,
                "r2.parquet",
                [row(rule="ff", seed=s, run=f"g{s}", value=0.90 + s / 100, t=T2) for s in three]
                + [row(rule="bp-ff", seed=s, run=f"x{s}", value=0.70 + s / 100) for s in three],
            )
        ],
        boards,
    )
    changes = lb.diff(old, boards).set_index(["board", "rule"])
    ff = changes.loc[("fashion-mnist-mini", "ff")]
    assert ff["status"] == "changed" and ff["delta"] == pytest.approx(0.3)
    assert (ff["old_rank"], ff["new_rank"]) == (2, 1)
    assert ff["change"] == "separated"  # every seed moved by +0.30
    assert changes.loc[("fashion-mnist-mini", "bp-ff"), "status"] == "added"
    assert changes.loc[("mnist", "ff"), "status"] == "removed"
    assert ("fashion-mnist-mini", "bp") not in changes.index  # same run, same numbers (its rank moved: 1 -> 2)
    md = invoke("leaderboard", "diff", old, boards, "--markdown")
    assert md.exit_code == 0 and "1 added, 1 removed, 1 changed, 0 rerun cell(s)" in md.stdout
    assert (
        "| fashion-mnist-mini | changed | ff / l2 / wrong-label on fashion-mnist-mini | accuracy | 0.6100 | 0.9100 | "
        "+0.3000 | 3 -> 3 | separated | 2 -> 1 |" in md.stdout
    )
    same = invoke("leaderboard", "diff", boards, boards, "--json")
    assert same.exit_code == 0 and json.loads(same.stdout) == []


def test_the_terminal_tables_of_diff_update_and_suites_fit_the_width(tmp_path):
    # piped (not a terminal): COLUMNS, else 100 columns; names and numbers are never broken
    def lines(*args, columns=100):
        result = CliRunner(env={"COLUMNS": str(columns)}).invoke(cli(), [str(a) for a in args])
        assert result.exit_code == 0, result.output
        return result.stdout.splitlines()

    boards, old = tmp_path / "boards", tmp_path / "old"
    lb.update([results(tmp_path, "r.parquet", [row(rule="ff", seed=s, run=f"f{s}") for s in range(3)])], boards)
    shutil.copytree(boards, old)
    two = results(tmp_path, "r2.parquet", [row(rule="bp", seed=0, run="b0"), row(run="m", dataset="mnist")])
    updated = lines("leaderboard", "update", two, "--boards", boards, "--no-render")
    assert all(len(line) <= 100 for line in updated)
    assert any("fashion-mnist-mini" in line for line in updated) and any("mnist " in line for line in updated)
    both = lines("leaderboard", "diff", old, boards)  # two boards changed: a board column
    assert all(len(line) <= 100 for line in both) and any("│ fashion-mnist-mini │" in line for line in both)
    one = lines("leaderboard", "diff", old / "fashion-mnist-mini.parquet", boards / "fashion-mnist-mini.parquet")
    top = next(i for i, line in enumerate(one) if line.startswith("┏"))
    assert "(board fashion-mnist-mini)" in " ".join(one[:top]) and "board" not in one[top + 1]
    suites = lines("leaderboard", "suites", columns=80)
    assert all(len(line) <= 80 for line in suites)
    names = {line.split("│")[1].strip() for line in suites if line.startswith("│")}
    assert {suite.name for suite in get_registry().list_suites()} <= names  # each name whole on its line
    assert any("Metrics: accuracy, sparsity." in line for line in suites)


# -- suites -----------------------------------------------------------------------------------


def test_suites_expand_to_their_grids():
    registry = get_registry()
    quick = suite_grid(registry, registry.get_suite("quick"))
    assert len(quick.points) == 9 and {p.seed for p in quick.points} == {0, 1, 2}
    assert {p.rule.name for p in quick.points} == {"ff", "bp-ff", "bp"}
    assert all(p.goodness is None and p.negatives is None for p in quick.points if p.rule.name == "bp")
    assert [m.name for m in quick.metrics] == ["accuracy", "sparsity", "loo-ensembles", "jaccard", "excitation"]
    assert all(p.preset == "quick" for p in quick.points)
    assert {p.rule.name: p.rule.values["epochs"] for p in quick.points} == {"ff": 20, "bp": 10, "bp-ff": 30}
    paper = suite_grid(registry, registry.get_suite("paper-fashion"))
    assert {p.rule.values["epochs"] for p in paper.points} == {100, 300, 80}
    assert {p.rule.values["lr"] for p in quick.points if p.rule.name == "bp-ff"} == {1.5e-4}
    for suite in registry.list_suites():
        assert suite_grid(registry, suite).points, suite.name
    # the two studies: every distinct function / strategy x 3 seeds, the study's protocol as preset
    goodness = suite_grid(registry, registry.get_suite("goodness-study"))
    assert len(goodness.points) == 14 * 3 and len({p.goodness.name for p in goodness.points}) == 14
    ff = goodness.points[0].rule.values
    assert (ff["width"], ff["layers"], ff["activation"], ff["lr_schedule"], ff["batch_size"]) == (
        2000,
        4,
        "relu-st",
        "cooldown",
        100,
    )
    assert all(p.negatives.resamples for p in goodness.points)
    negatives = suite_grid(registry, registry.get_suite("negatives-study"))
    assert len(negatives.points) == 10 * 3
    label_free = {p.negatives.name for p in negatives.points if p.rule.values["label"] == "none"}
    assert label_free == {"ns-image-mix", "ns-class-aware-mix", "ns-random-noise", "ns-mask"}
    assert {p.rule.values["epochs"] for p in negatives.points} == {1000}
    # their CPU slices: the same components and seeds, the documented deviations only
    goodness_cpu = suite_grid(registry, registry.get_suite("goodness-study-cpu"))
    assert [p.goodness.identity for p in goodness_cpu.points] == [p.goodness.identity for p in goodness.points]
    assert {p.rule.values["width"] for p in goodness_cpu.points} == {500}
    assert {p.rule.values["epochs"] for p in goodness_cpu.points} == {20}
    negatives_cpu = suite_grid(registry, registry.get_suite("negatives-study-cpu"))
    assert [p.negatives.identity for p in negatives_cpu.points] == [p.negatives.identity for p in negatives.points]
    assert {p.rule.values["epochs"] for p in negatives_cpu.points} == {1000}
    assert {p.dataset.values["train_size"] for p in negatives_cpu.points} == {2000}
    assert [m.name for m in negatives_cpu.metrics] == ["accuracy", "sparsity", "linear-probe", "cka", "cost"]
    # --seeds with a suite replaces the suite's seeds
    ten = suite_grid(registry, registry.get_suite("paper-fashion"), tuple(range(10))).points
    assert [p.seed for p in ten] == sorted(p.seed for p in ten) and {p.seed for p in ten} == set(range(10))
    with pytest.raises(FFBenchError, match="Unknown suite 'quik'. Did you mean 'quick'\\?.*Valid suites: ci-smoke"):
        registry.get_suite("quik")


# -- a real run, end to end -------------------------------------------------------------------


def test_suite_run_update_show_end_to_end(tmp_path):
    out, boards = tmp_path / "ci.parquet", tmp_path / "boards"
    ran = invoke("run", "--suite", "ci-smoke", "--out", out, "-q")
    assert ran.exit_code == 0, ran.output
    # --allow-dirty: this test runs from whatever checkout it is in (the clean-commit rule has its own tests)
    updated = invoke("leaderboard", "update", out, "--boards", boards, "--json", "--allow-dirty")
    assert updated.exit_code == 0, updated.output
    counts = json.loads(updated.stdout)["boards"][0]["counts"]
    assert counts["added"] == 8  # 2 rules x 2 seeds x 2 metrics
    before = {p.name: p.read_bytes() for p in boards.iterdir()}
    again = invoke("leaderboard", "update", out, "--boards", boards, "-q")
    assert again.exit_code == 0 and "unchanged" in again.stdout
    assert {p.name: p.read_bytes() for p in boards.iterdir()} == before
    board = board_of(boards)
    assert set(board["suite"]) == {"ci-smoke"} and set(board["seed"]) == {0, 1}
    assert board["git_sha"].notna().all() and board["torch_version"].notna().all()
    data = json.loads(invoke("leaderboard", "show", "--boards", boards, "--metric", "accuracy", "--json").stdout)
    # 2 seeds: listed as preliminary, not ranked
    assert all(d["rank"] is None and d["status"] == "preliminary" and d["n"] == 2 for d in data)
    assert data[0]["mean"] >= data[1]["mean"] and all(0.0 <= d["mean"] <= 1.0 for d in data)
    listed = invoke("leaderboard", "suites")
    assert listed.exit_code == 0 and "ci-smoke" in listed.stdout and "paper-mnist" in listed.stdout


def test_a_suite_can_be_rerun_for_one_rule(tmp_path):
    out = tmp_path / "bp.parquet"
    ran = invoke("run", "--suite", "ci-smoke", "--rule", "bp", "--out", out, "-q")
    assert ran.exit_code == 0, ran.output
    df = pd.read_parquet(out)
    assert set(df["rule"].str.split("[").str[0]) == {"bp"} and set(df["seed"]) == {0, 1}
    assert set(df["suite"]) == {"ci-smoke"}
    wrong = invoke("run", "--suite", "ci-smoke", "--rule", "bp-ff", "--out", out, "-q")
    assert wrong.exit_code == 2 and "Suite ci-smoke has no rule 'bp-ff'. Its rules: bp, ff." in wrong.output
    mixed = invoke("run", "--suite", "ci-smoke", "--dataset", "mnist", "--out", out, "-q")
    assert mixed.exit_code == 2 and "drop --dataset" in mixed.output
    # --seeds replaces the suite's seeds (0, 1); --seed alone keeps their number from there
    for args, expected in ((["--seed", "4", "--seeds", "3"], {4, 5, 6}), (["--seed", "7"], {7, 8})):
        fresh = tmp_path / f"seeds-{expected}.parquet"
        ran = invoke("run", "--suite", "ci-smoke", "--rule", "bp", *args, "--out", fresh, "-q")
        assert ran.exit_code == 0, ran.output
        assert set(pd.read_parquet(fresh)["seed"]) == expected


def test_one_metric_of_a_suite_can_be_added_on_the_same_models(tmp_path):
    """--suite S --metric M: only the suite's metric M, rows tagged with the suite (e.g. a metric
    added in a new suite version, computed without recomputing the others)."""
    out = tmp_path / "acc.parquet"
    ran = invoke("run", "--suite", "ci-smoke", "--rule", "ff", "--metric", "accuracy", "--out", out, "-q")
    assert ran.exit_code == 0, ran.output
    df = pd.read_parquet(out)
    assert set(df["metric"]) == {"accuracy"} and set(df["seed"]) == {0, 1}
    assert set(df["suite"]) == {"ci-smoke"}
    wrong = invoke("run", "--suite", "ci-smoke", "--metric", "cost", "--out", out, "-q")
    assert (
        wrong.exit_code == 2 and "Suite ci-smoke has no metric 'cost'. Its metrics: accuracy, sparsity." in wrong.output
    )
