"""The one atomic writer (ffbench/atomic_write.py) and the one schema module (ffbench/schema.py)."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pandas as pd
import pytest

import ffbench
from ffbench import schema
from ffbench.atomic_write import atomic_path, write_text
from ffbench.cache import ModelCache
from ffbench.results import to_frame, write_atomic

ROOT = Path(ffbench.__file__).parent


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path):
    target = tmp_path / "board.md"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half writ")
        raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["board.md"]


def test_a_write_replaces_the_file_with_shared_permissions_and_creates_the_folder(tmp_path):
    target = tmp_path / "new" / "results.md"
    assert write_text(target, "rows") is True
    assert target.read_text() == "rows"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644  # mkstemp's 0600 would hide results
    assert write_text(target, "rows", only_if_changed=True) is False
    assert write_text(target, "more", only_if_changed=True) is True and target.read_text() == "more"
    assert [p.name for p in target.parent.iterdir()] == ["results.md"]


def test_results_and_cached_models_go_through_it(tmp_path):
    df = to_frame([{"run_id": "r", "value": 0.5, "stat": "accuracy"}])
    write_atomic(df, tmp_path / "r.parquet", {"k": "v"})
    assert pd.read_parquet(tmp_path / "r.parquet")["value"].tolist() == [0.5]
    cache = ModelCache(tmp_path / "cache")
    cache.save("abc", {"w": 1}, {"m": 2})
    # the entry, and the marker that makes the folder the cache's own (`ffbench cache clear` touches nothing else)
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [".ffbench-model-cache", cache.path("abc").name]
    assert stat.S_IMODE(cache.path("abc").stat().st_mode) == 0o644


def test_no_other_module_renames_temp_files_into_place():
    """One place: every other module writes through ffbench.atomic_write."""
    offenders = [
        str(p.relative_to(ROOT))
        for p in sorted(ROOT.rglob("*.py"))
        if p.name != "atomic_write.py" and re.search(r"os\.replace\(|tempfile\.mkstemp\(", p.read_text())
    ]
    assert offenders == []


def test_every_board_column_has_its_results_dtype():
    assert set(schema.BOARD_COLUMNS) <= set(schema.COLUMNS)
    assert {c: schema.COLUMNS[c] for c in schema.BOARD_COLUMNS} == schema.BOARD_COLUMNS
    from ffbench import leaderboard, results

    # the historical names still resolve to the one definition
    assert results.COLUMNS is schema.COLUMNS
    assert leaderboard.BOARD_COLUMNS is schema.BOARD_COLUMNS
    assert (leaderboard.SCHEMA_KEY, leaderboard.SCHEMA_VERSION) == (
        schema.BOARD_SCHEMA_KEY,
        schema.BOARD_SCHEMA_VERSION,
    )
