"""docs/studies.md shows the committed study boards (printed by scripts/study_tables.py), and the
script's seed-separation rule does what its docstring says on hand-made seeds."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent


def load_script():
    spec = importlib.util.spec_from_file_location("study_tables", ROOT / "scripts" / "study_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("study", "versions", "components"),
    [("goodness", [None], 14), ("negatives", [None, "1"], 10)],
)
def test_docs_studies_tables_match_the_committed_boards(study, versions, components):
    st = load_script()
    doc = (ROOT / "docs" / "studies.md").read_text(encoding="utf-8")
    board = str(ROOT / st.BOARDS[study])
    for version in versions:
        table = st.table(study, board, version)
        rows = table.splitlines()[2:]
        assert len(rows) == components
        assert all(r.rstrip(" |").endswith("| 3") for r in rows)  # 3 seeds for every component
        assert table in doc, f"docs/studies.md is missing the {study} table (version {version})"
        assert st.ranking_table(study, board, version) in doc


def test_separated_means_every_seed_above_every_other():
    st = load_script()
    s = pd.Series
    assert st.separated(s([0.80, 0.81, 0.82]), s([0.70, 0.75, 0.79])) == 1
    assert st.separated(s([0.70, 0.75, 0.79]), s([0.80, 0.81, 0.82])) == -1
    assert st.separated(s([0.80, 0.81, 0.90]), s([0.70, 0.75, 0.805])) == 0  # one seed overlaps
    assert st.separated(s([0.90, 0.91]), s([0.70, 0.75, 0.79])) == 0  # 2 seeds: the p of 3 vs 3 does not hold
    assert st.separated(s([0.90, 0.91, float("nan")]), s([0.70, 0.75, 0.79])) == 0
    assert st.separated(s([0.8]), s([])) == 0
