"""The zoo table of docs/findings.md is the committed board's (printed by scripts/zoo_table.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_findings_zoo_table_matches_the_committed_board():
    spec = importlib.util.spec_from_file_location("zoo_table", ROOT / "scripts" / "zoo_table.py")
    zoo_table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(zoo_table)
    table = zoo_table.table(str(ROOT / "leaderboards" / "fashion-mnist-mini.parquet"))
    rows = table.splitlines()
    assert len(rows) == 2 + 8  # header, rule, one row per zoo rule
    assert "GFLOP" in rows[0] and all(" n/c " not in r and " – " not in r for r in rows[2:])  # cost everywhere
    assert table in (ROOT / "docs" / "findings.md").read_text(encoding="utf-8")
