"""Every result number in README.md's Results section, docs/findings.md and the generated blocks of
docs/science.md is printed from the committed boards (scripts/doc_numbers.py)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _doc_numbers():
    spec = importlib.util.spec_from_file_location("doc_numbers", ROOT / "scripts" / "doc_numbers.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["doc_numbers"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


doc_numbers = _doc_numbers()

#: a decimal (0.85, .85) or a percentage (39 %, 5%): a result number, unless generated
NUMBER = re.compile(r"(?<![\w.])\d*\.\d+|\d+\s?%")
#: what the scan leaves out: generated blocks, fenced and indented code, inline code, link targets
BLOCK = re.compile(r"<!-- numbers:([\w-]+) -->.*?<!-- /numbers:\1 -->", re.S)
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
INDENTED = re.compile(r"^(?: {4}|\t).*$", re.M)
CODE = re.compile(r"`[^`]*`")
LINK_TARGET = re.compile(r"\]\([^)]*\)")


def numbers_outside_blocks(text: str) -> list[str]:
    for pattern in (BLOCK, FENCE, INDENTED, CODE, LINK_TARGET):
        text = pattern.sub(" ", text)
    return [line.strip() for line in text.splitlines() if NUMBER.search(line)]


def results_section(readme: str) -> str:
    start = readme.index("\n## Results\n")
    end = readme.index("\n## ", start + 1)
    return readme[start:end]


@pytest.mark.parametrize("doc", doc_numbers.DOCS, ids=lambda p: p.name)
def test_generated_blocks_equal_the_committed_boards(doc):
    stale = doc_numbers.sync(doc, write=False)
    assert stale == [], (
        f"{doc.relative_to(ROOT)}: blocks {', '.join(stale)} differ from the boards; "
        "run `python scripts/doc_numbers.py` and commit the result"
    )


def test_result_sections_hold_no_number_outside_a_generated_block():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    findings = (ROOT / "docs" / "findings.md").read_text(encoding="utf-8")
    assert numbers_outside_blocks(results_section(readme)) == []
    assert numbers_outside_blocks(findings) == []


def test_the_number_scan_finds_a_hand_written_number():
    """The scan itself: a number typed into prose is found, the same number in a block is not."""
    prose = "FF reaches 0.85 at layer 1, and 39 % of units are dead.\n"
    block = f"<!-- numbers:x -->\n{prose}<!-- /numbers:x -->\n"
    assert numbers_outside_blocks(prose) == [prose.strip()]
    assert numbers_outside_blocks(block + "`lr=0.01` in code, 3 seeds, layer 2.\n") == []


def test_a_changed_board_value_makes_its_block_stale(tmp_path, monkeypatch):
    """Rewrite one value of a copy of the paper board: the README's headline block no longer matches."""
    import pandas as pd

    board = pd.read_parquet(doc_numbers.PAPER_BOARD)
    hit = (board["metric"] == "sparsity") & (board["stat"] == "sparsity") & (board["layer"] == 1)
    board.loc[hit, "value"] = board.loc[hit, "value"] + 0.05
    copy = tmp_path / "fashion-mnist.parquet"
    board.to_parquet(copy)
    monkeypatch.setattr(doc_numbers, "PAPER_BOARD", copy)
    assert "paper-headline" in doc_numbers.sync(ROOT / "README.md", write=False)


def test_preliminary_configurations_are_never_ordered():
    """A configuration with fewer than 3 seeds is labelled preliminary and gets no verdict."""
    df = doc_numbers.board()
    for cfg in doc_numbers.PAPER_CONFIGS:
        n = len(doc_numbers.seeds(df, cfg))
        if 0 < n < doc_numbers.MIN_SEEDS:
            assert doc_numbers.label(cfg, n).endswith("preliminary")
            verdict = doc_numbers.verdict(df, cfg, cfg, "sparsity", "sparsity", 1)
            assert verdict.startswith("not tested")
