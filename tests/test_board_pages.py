"""The committed board pages are what their boards render to and read on one screen: few columns,
numbers formatted for reading, time and memory marked and never ranked, superseded and
preliminary configurations apart, dataset variants told apart, short labels with a key."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from ffbench import leaderboard as lb
from ffbench.results_store import append_and_compact

ROOT = Path(__file__).resolve().parent.parent
BOARDS = ROOT / "leaderboards"
#: the main boards and every study's folder of boards
FOLDERS = [BOARDS, *sorted(f for f in BOARDS.iterdir() if f.is_dir() and any(f.glob("*.parquet")))]
PAGES = [p for folder in FOLDERS for p in sorted(folder.glob("*.md")) if p.name not in ("README.md", "SCHEMA.md")]
#: The most columns a Markdown table may have and still fit a 1280 px screen.
MAX_COLUMNS = 10


def tables(text: str) -> dict[str, list[list[str]]]:
    """Section title -> the rows (header first) of the tables in it."""
    out: dict[str, list[list[str]]] = {}
    title = ""
    for line in text.splitlines():
        if line.startswith("#"):
            assert line.startswith(("# ", "## ", "### ")), f"a paragraph read as a heading: {line}"
            title = line.lstrip("#").strip()
        elif line.startswith("- ") and title == "Key":  # the key is a list: "- label: identity"
            out.setdefault(title, [["configuration", "identity"]]).append(line[2:].split(": ", 1))
        elif line.startswith("|") and not line.startswith("|---"):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if not set("".join(cells)) <= set("-: "):
                out.setdefault(title, []).append(cells)
    return out


def test_there_are_committed_pages():
    assert {"leaderboards", "goodness-study", "negatives-study"} <= {p.parent.name for p in PAGES}
    for folder in FOLDERS:  # one page per board
        assert sorted(p.stem for p in folder.glob("*.parquet")) == sorted(
            p.stem for p in PAGES if p.parent == folder
        ), folder.name


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda f: f.name)
def test_committed_pages_are_what_their_boards_render_to(folder):
    assert lb.stale_markdown(folder) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_table_fits_a_screen_and_numbers_read(page):
    text = page.read_text(encoding="utf-8")
    found = tables(text)
    assert "Overview" in found and "Key" in found and "Configurations and provenance" in found
    for title, rows in found.items():
        assert all(len(r) <= MAX_COLUMNS for r in rows), f"{page.name}: table '{title}' is too wide"
        if title in ("Key", "Configurations and provenance"):
            continue  # identities, hashes and dates
        for row in rows[1:]:
            for cell in row:
                assert "e+" not in cell and "e-0" not in cell, f"{page.name} '{title}': {cell}"
                for number in re.findall(r"\d[\d.]*", cell):  # e.g. not 601480000000.0 (FLOPs, now GFLOP)
                    digits = number.replace(".", "").lstrip("0")
                    whole = number.partition(".")[0]
                    assert len(whole) <= 5 and len(digits) <= 7, f"{page.name} '{title}': {number} in {cell}"
                for std in re.findall(r"± ([\d.]+)", cell):  # a std to 3 significant digits (or 0)
                    if "." in std:
                        assert len(std.replace(".", "").lstrip("0")) == 3, f"{page.name} '{title}': std {std}"
                    else:  # a whole number: rounded at its 3rd digit at most (1200, 98, 0)
                        assert len(std.rstrip("0")) <= 3, f"{page.name} '{title}': std {std}"


def test_the_mini_board_page():
    text = (ROOT / "leaderboards" / "fashion-mnist-mini.md").read_text(encoding="utf-8")
    found = tables(text)
    overview = found["Overview"]
    assert overview[0][:4] == ["#", "configuration", "seeds", "accuracy ▲"] and len(overview[0]) <= MAX_COLUMNS
    labels = [r[1] for r in overview[1:]]
    assert "bp-ff (lr=0.00015)" in labels and "bp-ff (lr=0.0001)" not in labels  # superseded: not ranked
    assert any(r[0] == "bp-ff (lr=0.0001)" and r[1] == "quick@3, zoo@2" for r in found["Superseded"][1:])
    # cost: time and memory marked, nothing ranked, units
    cost = found["cost"]
    assert cost[0] == [
        "configuration",
        "seeds",
        "peak_memory_mib (shared machine)",
        "train_flops",
        "train_seconds (shared machine)",
    ]
    assert "#" not in cost[0]
    assert all(r[2].endswith(" MiB") and r[3].endswith(" GFLOP") and r[4].endswith(" s") for r in cost[1:])
    # the leader line names a tie where the seeds do not separate the best
    assert "On accuracy ▲: tied: " in text
    readme = (ROOT / "leaderboards" / "README.md").read_text(encoding="utf-8")
    assert "| tied: " in readme
    # the paper board's row names its leader, a tie, or that nothing is ranked yet - never a bare best mean
    paper = next(line for line in readme.splitlines() if line.startswith("| [fashion-mnist](fashion-mnist.md)"))
    assert "(accuracy ▲)" in paper


def test_the_paper_board_ranks_only_configurations_with_3_seeds():
    """On the committed paper board, a configuration with fewer than 3 seeds is listed as preliminary
    with its seed count; every other one has a numeric rank."""
    found = tables((ROOT / "leaderboards" / "fashion-mnist.md").read_text(encoding="utf-8"))
    rows = found["Overview"][1:]
    assert rows
    for rank, _label, seeds, *_ in rows:
        assert rank == (f"prelim. (n={seeds})" if int(seeds) < 3 else rank) and (int(seeds) < 3 or rank.isdigit())
    assert any(int(r[2]) < 3 for r in rows) == any(r[0].startswith("prelim.") for r in rows)


def _row(rule, seed, value, dataset_id, run, **extra) -> dict:
    return {
        "run_id": run,
        "status": "ok",
        "seed": seed,
        "rule": rule,
        "rule_id": f"{rule}[lr=0.1]",
        "rule_version": "1",
        "dataset": "fashion-mnist-mini",
        "dataset_id": dataset_id,
        "dataset_version": "1",
        "dataset_hash": "h-" + dataset_id[-6:],
        "metric": "accuracy",
        "metric_id": "accuracy",
        "metric_version": "1",
        "higher_is_better": True,
        "headline": True,
        "stat": "accuracy",
        "value": value,
        "started_at": "2026-01-01T00:00:00+00:00",
        "git_sha": "0123456789abcdef",
        **extra,
    }


def test_dataset_variants_are_told_apart_and_never_paired(tmp_path):
    """A 1 000-image run beside the default: labels name the data, and the two never pair."""
    small, full = "fashion-mnist-mini[train_size=1000]", "fashion-mnist-mini[train_size=0]"
    rows = [_row("ff", s, 0.80 + s / 100, small, f"s{s}") for s in range(3)]
    rows += [_row("ff", s, 0.85 + s / 100, full, f"f{s}") for s in range(3)]
    rows += [_row("bp", s, 0.86 + s / 100, full, f"b{s}") for s in range(3)]
    append_and_compact(tmp_path / "r.parquet", rows)
    lb.update([tmp_path / "r.parquet"], tmp_path / "boards")
    board = lb.read_board(tmp_path / "boards" / "fashion-mnist-mini.parquet")
    labels = sorted(lb.short_labels(board).values())
    assert labels == ["bp · data: train_size=0", "ff · data: train_size=0", "ff · data: train_size=1000"]
    ranking = lb.cell_ranking(lb.select(lb.aggregate(board), "accuracy"))
    tests = {s.test for s, _ in ranking.pairs.values()}
    assert tests == {"paired t", "Welch t"}  # the two train_size=0 configurations pair, the others do not
    text = (tmp_path / "boards" / "fashion-mnist-mini.md").read_text(encoding="utf-8")
    assert "Data: 2 variants" in text and "| ff · data: train_size=1000 |" in text


def test_a_page_key_maps_short_labels_to_full_identities(tmp_path):
    rows = [_row("ff", s, 0.8, "fashion-mnist-mini", f"a{s}", rule_id="ff[epochs=20,lr=0.01]") for s in range(3)]
    rows += [_row("ff", s, 0.7, "fashion-mnist-mini", f"b{s}", rule_id="ff[epochs=200,lr=0.001]") for s in range(3)]
    append_and_compact(tmp_path / "r.parquet", rows)
    lb.update([tmp_path / "r.parquet"], tmp_path / "boards")
    key = tables((tmp_path / "boards" / "fashion-mnist-mini.md").read_text(encoding="utf-8"))["Key"]
    assert key[1][0] == "ff (epochs=20, lr=0.01)" and key[1][1].startswith(
        "`ff[epochs=20,lr=0.01] on fashion-mnist-mini"
    )
    assert key[2][0] == "ff (epochs=200, lr=0.001)"
    assert pd.notna(key[2][1])
