"""`ffbench leaderboard show` fits the terminal: every line within COLUMNS (100 when piped), each
header, configuration label and value whole on its line, short labels with a key, a legend line
per stat; --all shows every stat the same way; --metric, --verified-only and the ranks still work.
Run on the committed boards (leaderboards/) through the CLI."""

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from ffbench import leaderboard as lb
from ffbench.cli import app
from ffbench.cli.board_tables import BoardView, abbreviation, stat_labels

BOARDS = Path(__file__).resolve().parents[1] / "leaderboards"
MINI = "fashion-mnist-mini"
#: a value as the tables print it: mean ± std (and the seeds with a value, the rank on the column)
VALUE = re.compile(r"(?:[-+\d.e]+|mean) ± (?:[-+\d.e]+|std)")


def show(*args, columns: int = 100, boards: Path = BOARDS):
    result = CliRunner(env={"COLUMNS": str(columns)}).invoke(
        app, ["leaderboard", "show", *map(str, args), "--boards", str(boards)]
    )
    assert result.exit_code == 0, result.output
    return result


def lines_of(result) -> list[str]:
    return result.stdout.splitlines()


def section(lines: list[str], title: str) -> list[tuple[str, str]]:
    """The (label, text) lines of a key or legend (``title`` up to the next unindented title)."""
    start = lines.index(next(line for line in lines if line.rstrip() == title)) + 1
    found = []
    for line in lines[start:]:
        if not line.startswith(" ") and line.rstrip().endswith(":") and "  " not in line.rstrip():
            break
        if not line.strip():
            break
        if not line.startswith(" "):
            label, _, text = line.rstrip().partition("  ")
            found.append((label, text.strip()))
    return found


def tables_part(lines: list[str]) -> list[str]:
    """The table lines (before the note under the tables)."""
    return lines[: next(i for i, line in enumerate(lines) if line.startswith("Values: mean ± std"))]


def whole(text: str, lines: list[str]) -> bool:
    """``text`` on one line, not glued to other characters."""
    pattern = re.compile(rf"(^|\s){re.escape(text)}(\s|$)")
    return any(pattern.search(line) for line in lines)


def assert_fitted(lines: list[str], width: int) -> None:
    too_long = [line for line in lines if len(line) > width]
    assert too_long == [], f"{len(too_long)} line(s) wider than {width}: {too_long[:3]}"
    for line in lines:  # a value is never split over two lines
        assert line.count("±") == len(VALUE.findall(line)), line
        assert not line.rstrip().endswith("±") and not line.lstrip().startswith("±"), line


def assert_headers_whole(lines: list[str], view: BoardView) -> None:
    """Every column header (a row label in the transposed view) and configuration label on one line."""
    table = tables_part(lines)
    transposed = any(line.startswith("stat ") for line in table)
    for _, c in view.cols.iterrows():
        header = view.header(c, with_layer=not transposed)
        assert whole(header, table), f"header {header!r} split or missing"
    for k in view.order:
        assert whole(view.board.labels[k], table), f"label {view.board.labels[k]!r} split or missing"


def board_view(name: str, every: bool = False) -> BoardView:
    board = lb.read_board(BOARDS / f"{name}.parquet")
    return BoardView(name, lb.aggregate(board), board, every=every)


def test_short_stat_labels_are_unique_and_say_the_stat():
    cols = pd.DataFrame(
        [
            ("accuracy", "accuracy", "accuracy"),
            ("linear-probe[steps=100]", "linear-probe", "accuracy"),
            ("sparsity[samples=correct]", "sparsity", "sparsity"),
            ("unseen-category[tau=1.0]", "unseen-category", "sparsity"),
            ("sparsity[samples=correct]", "sparsity", "dead_fraction"),
            ("excitation[skip_inputs=0]", "excitation", "mean"),
            ("excitation[skip_inputs=10]", "excitation", "mean"),
        ],
        columns=["metric_id", "metric", "stat"],
    )
    assert stat_labels(cols) == {
        ("accuracy", "accuracy"): "accuracy",
        ("linear-probe[steps=100]", "accuracy"): "lp.accuracy",
        ("sparsity[samples=correct]", "sparsity"): "sparsity",
        ("unseen-category[tau=1.0]", "sparsity"): "uc.sparsity",
        ("sparsity[samples=correct]", "dead_fraction"): "dead_fraction",
        ("excitation[skip_inputs=0]", "mean"): "excitation1.mean",
        ("excitation[skip_inputs=10]", "mean"): "excitation2.mean",
    }
    assert abbreviation("loo-ensembles") == "le" and abbreviation("jaccard") == "jaccard"
    # initials two metrics share fall back to the full metric id
    clash = pd.DataFrame(
        [("linear-probe", "linear-probe", "accuracy"), ("layer-pool", "layer-pool", "accuracy")],
        columns=["metric_id", "metric", "stat"],
    )
    assert stat_labels(clash) == {
        ("linear-probe", "accuracy"): "linear-probe.accuracy",
        ("layer-pool", "accuracy"): "layer-pool.accuracy",
    }


def test_every_board_fits_100_columns_with_keys_and_a_legend():
    lines = lines_of(show())  # both committed boards; CliRunner's stdout is not a terminal
    assert_fitted(lines, 100)
    assert max(len(line.rstrip()) for line in lines) > 80  # the width is used, not folded to 80
    titles = [line for line in lines if ": headline stats" in line]
    assert {t.split(":")[0] for t in titles} == {"fashion-mnist", MINI}
    # the fashion-mnist board on its own, to hold its lines apart from the other board's
    lines = lines_of(show("fashion-mnist"))
    view = board_view("fashion-mnist")
    assert_headers_whole(lines, view)
    headers = [lines[i + 1] for i, line in enumerate(lines) if ": headline stats" in line]
    assert "accuracy ▲" in headers[0] and any("lp.accuracy L1 ▲" in h for h in headers)  # short labels
    columns = dict(section(lines, "Columns:"))
    assert columns["lp.accuracy"].startswith("accuracy of linear-probe[neutral=uniform, seed=0, steps=100,")
    legend = dict(section(lines, "Legend:"))
    assert set(legend) == {"accuracy", "lp.accuracy"}
    assert legend["accuracy"].startswith("share of test images classified correctly, 0 .. 1; ranked: higher")
    configs = dict(section(lines, "Configurations:"))
    assert set(configs) == {view.board.labels[k] for k in view.order} and len(configs) == len(view.order)
    assert configs["bp · bf16"].startswith("bp[batch_size=2048, epochs=80,")  # brackets printed as given


@pytest.mark.parametrize("columns", [100, 64])
def test_the_mini_board_fits_and_splits_columns_not_words(columns):
    lines = lines_of(show(MINI, columns=columns))
    assert_fitted(lines, columns)
    view = board_view(MINI)
    assert_headers_whole(lines, view)
    tables = [line for line in lines if line.startswith(f"{MINI}: headline stats")]
    assert len(tables) == (2 if columns == 100 else 4)  # 4 value columns: 3 + 1 at 100, one per table at 64
    assert all(f"of {len(tables)})" in t for t in tables)
    assert len(view.cols) == 4 and len(section(lines, "Configurations:")) == len(view.order)


def test_the_rank_column_is_the_separation_rank_on_the_first_column():
    lines = lines_of(show(MINI))
    ranked = json.loads(show(MINI, "--metric", "accuracy", "--json").stdout)
    view = board_view(MINI)
    label = {k: view.board.labels[k] for k in view.order}
    want = {}
    for record in ranked:  # the current configurations (superseded ones are not in the overview)
        for k in view.order:
            if view.board.configs.loc[k, "rule_id"] == record["rule_id"]:
                want[label[k]] = str(record["rank"])
    table = tables_part(lines)
    got = {}
    for line in table:
        for lab in label.values():
            if re.match(rf"\S+\s+{re.escape(lab)}\s+3\s", line):
                got.setdefault(lab, line.split()[0])
    # every current configuration is ranked, ties share a rank, and the overview's # equals --json's
    assert got == want and len(want) == len(view.order) and len(set(want.values())) < len(want)


def test_all_shows_every_stat_and_still_fits():
    default = board_view(MINI)
    every = board_view(MINI, every=True)
    assert len(every.cols) > 10 * len(default.cols)
    assert list(every.cols["_col"][: len(default.cols)]) == list(default.cols["_col"])  # headline ones first
    lines = lines_of(show(MINI, "--all"))
    assert_fitted(lines, 100)
    assert_headers_whole(lines, every)
    text = " ".join(line.strip() for line in lines)
    assert "# is the rank on accuracy ▲;" in text and f"{len(every.cols)} value(s) per configuration." in text
    legend = section(lines, "Legend:")
    assert len(legend) > 20 and len(legend) == len({label for label, _ in legend})
    for label, _ in section(lines, "Columns:"):  # each key label is a whole header
        assert any(re.match(rf"{re.escape(label)}( [▲▼])?\s", line) for line in tables_part(lines)), label
    assert "cost.train_seconds" not in " ".join(lines) or "shared machine" in " ".join(lines)
    default_legend = section(lines_of(show(MINI)), "Legend:")
    assert len(legend) > len(default_legend) == 2


def test_all_with_a_metric_is_refused_and_all_json_holds_every_stat():
    result = CliRunner().invoke(app, ["leaderboard", "show", MINI, "--boards", str(BOARDS), "--all", "-m", "sparsity"])
    assert result.exit_code == 2 and "--all shows the overview" in result.output
    every = json.loads(show("fashion-mnist", "--all", "--json").stdout)
    headline = json.loads(show("fashion-mnist", "--json").stdout)
    assert {(r["metric_id"], r["stat"]) for r in headline} < {(r["metric_id"], r["stat"]) for r in every}
    assert {r["stat"] for r in every} >= {"accuracy", "train_accuracy", "bimodality", "empty_pairs"}


def test_metric_sparsity_still_ranks_one_table_per_value_and_fits():
    lines = lines_of(show(MINI, "--metric", "sparsity", columns=80))
    assert_fitted(lines, 80)
    titles = [line for line in lines if line.startswith(f"{MINI}: sparsity")]
    assert titles == [
        f"{MINI}: sparsity.dead_fraction L1",
        f"{MINI}: sparsity.dead_fraction L2",
        f"{MINI}: sparsity.dead_fraction L3",
        f"{MINI}: sparsity.hoyer_live L1",
        f"{MINI}: sparsity.hoyer_live L2",
        f"{MINI}: sparsity.hoyer_live L3",
        f"{MINI}: sparsity L1",
        f"{MINI}: sparsity L2",
        f"{MINI}: sparsity L3",
    ]
    assert lines[1].split() == ["rank", "configuration", "n", "mean", "±", "std", "status"]
    assert "descriptive: not ranked" in lines and len(section(lines, "Configurations:")) == 9  # superseded too


def test_verified_only_ranks_and_markup_in_a_board_is_printed_as_written(tmp_path):
    board = lb.read_board(BOARDS / f"{MINI}.parquet")
    # a stranger's board: a rule id holding rich markup; only some configurations verified
    evil = "[bold]evil[/bold]"
    name = board["rule_id"].str.partition("[")[0]
    board.loc[name == "pepita", ["rule", "rule_id"]] = evil
    kept = name.isin(["ff", "dfa", "pepita", "random"])
    board["verification"] = pd.Series(["verified" if k else None for k in kept], index=board.index, dtype="string")
    lb.write_board(board, tmp_path / f"{MINI}.parquet")
    lines = lines_of(show("--verified-only", boards=tmp_path))
    assert_fitted(lines, 100)
    ranked = json.loads(show("--verified-only", "--metric", "accuracy", "--json", boards=tmp_path).stdout)
    want = {r["rule_id"].split("[")[0] or r["rule_id"]: str(r["rank"]) for r in ranked}
    assert set(want) == {"ff", "dfa", evil, "random"}
    got = {}
    for line in tables_part(lines):
        match = re.match(r"(\S+)\s+(\S+)\s+3\s", line)
        if match and match.group(2) in want:
            got.setdefault(match.group(2), match.group(1))
    assert got == want
    assert dict(section(lines, "Configurations:"))[evil].startswith(evil + " on fashion-mnist-mini[")
