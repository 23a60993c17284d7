"""The code quoted in docs/plugins.md is the code CI runs.

A fenced block whose first line is a comment naming a file (``# examples/.../greedy.py``) quotes
that file: each run of lines between ``...`` lines must appear verbatim in the file, in the
order quoted. A quote that drifts from its file fails here, naming the block and the first line
that is not found."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "plugins.md"
EXAMPLE = "examples/ffbench-plugin-example"
#: every kind's worked example must be quoted from its module (and the entry points from pyproject),
#: and the FF rule with its own loss, built on the public FF pieces, from the test that runs it
MUST_QUOTE = (
    [f"{EXAMPLE}/pyproject.toml"]
    + [f"{EXAMPLE}/ffbench_plugin_example/{m}.py" for m in ("greedy", "symba", "shuffle", "bars", "lifetime")]
    + ["tests/test_worked_rule_example.py"]
)

FENCE = re.compile(r"^```[\w-]*\n(.*?)^```", re.S | re.M)
MARKER = re.compile(r"#\s*((?:examples|plugins|ffbench|tests)/\S+)\s*$")


def quoted_blocks(markdown: str) -> list[tuple[str, list[str], int]]:
    """(quoted file, chunks of consecutive lines between ``...`` lines, line number in the doc)
    for each fenced block whose first line names a file."""
    blocks = []
    for match in FENCE.finditer(markdown):
        first, _, body = match.group(1).partition("\n")
        marker = MARKER.fullmatch(first.strip())
        if marker is None:
            continue
        chunks, current = [], []
        for line in body.splitlines():
            if line.strip() == "...":
                chunks.append(current)
                current = []
            else:
                current.append(line)
        chunks.append(current)
        text = ["\n".join(c).strip("\n") for c in chunks]
        blocks.append((marker.group(1), [t for t in text if t], markdown.count("\n", 0, match.start()) + 1))
    return blocks


def missing_chunk(source: str, chunks: list[str]) -> str | None:
    """The first chunk not found in ``source`` after the previous one, or None if all are."""
    at = 0
    for chunk in chunks:
        found = source.find(chunk, at)
        if found < 0:
            return chunk
        at = found + len(chunk)
    return None


BLOCKS = quoted_blocks(DOC.read_text(encoding="utf-8"))


def test_every_kind_is_quoted_from_its_module():
    quoted = {path for path, _, _ in BLOCKS}
    assert [p for p in MUST_QUOTE if p not in quoted] == []


@pytest.mark.parametrize(("path", "chunks", "line"), BLOCKS, ids=[f"{p}@{n}" for p, _, n in BLOCKS])
def test_quoted_block_is_in_its_file(path, chunks, line):
    source_file = ROOT / path
    assert source_file.is_file(), f"docs/plugins.md line {line} quotes {path}, which does not exist"
    source = source_file.read_text(encoding="utf-8")
    chunk = missing_chunk(source, chunks)
    if chunk is not None:
        first_bad = next((l for l in chunk.splitlines() if l.strip() and l not in source), chunk)
        pytest.fail(
            f"docs/plugins.md line {line}: this quoted part is not in {path} (in that order):\n{chunk}\n"
            f"first line not found: {first_bad!r}",
            pytrace=False,
        )


def test_the_checker_catches_drift():
    source = "a = 1\nb = 2\n\nc = 3\n"
    assert missing_chunk(source, ["a = 1\nb = 2", "c = 3"]) is None
    assert missing_chunk(source, ["c = 3", "a = 1"]) == "a = 1"  # out of order
    assert missing_chunk(source, ["a = 1\nb = 3"]) == "a = 1\nb = 3"  # an edited line
    doc = "```python\n# examples/x.py\nline 1\n...\n    line 2\n```\n\n```python\nnot quoted\n```\n"
    assert quoted_blocks(doc) == [("examples/x.py", ["line 1", "    line 2"], 1)]
