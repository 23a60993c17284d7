"""The append-only results store: part files, compaction, crash safety, concurrent writers."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pyarrow.dataset as ds
import pytest

from ffbench import results_store
from ffbench.errors import FFBenchError
from ffbench.results import COLUMNS


def point_rows(run: str, n: int = 3) -> list[dict]:
    return [
        {
            "run_id": run,
            "config_hash": "c" + run,
            "status": "ok",
            "metric": "m",
            "metric_id": "m",
            "stat": "s",
            "layer": i + 1,
            "value": float(i),
            "seed": 0,
        }
        for i in range(n)
    ]


def test_a_folder_store_is_one_table_for_ffbench_pandas_and_pyarrow(tmp_path):
    store = tmp_path / "results"
    for k in range(4):
        results_store.append(store, point_rows(f"r{k}"))
    assert len(list(store.glob("part-*.parquet"))) == 4
    df = results_store.read(store)
    assert len(df) == 12 and list(df.columns) == list(COLUMNS)
    assert len(pd.read_parquet(store)) == 12 and ds.dataset(store).to_table().num_rows == 12
    assert results_store.compact(store) == 4
    assert len(list(store.glob("part-*.parquet"))) == 1
    assert sorted(results_store.read(store)["run_id"].unique()) == ["r0", "r1", "r2", "r3"]


def test_a_file_store_reads_pending_parts_and_compacts_into_the_file(tmp_path):
    out = tmp_path / "r.parquet"
    results_store.append(out, point_rows("a"))
    assert not out.exists()
    assert results_store.compact(out) == 1 and len(pd.read_parquet(out)) == 3
    results_store.append(out, point_rows("b", 2))
    assert len(pd.read_parquet(out)) == 3  # the new point is a pending part
    # reading merges pending parts into the file first (a crashed run's file is whole again)
    assert len(results_store.read(out)) == 5 and len(pd.read_parquet(out)) == 5
    assert results_store.compact(out) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["r.parquet"]  # no lock file, no part folder left


def test_a_corrupt_part_is_a_clear_error(tmp_path):
    store = tmp_path / "s"
    results_store.append(store, point_rows("a"))
    (store / "part-zzz.parquet").write_bytes(b"not parquet")
    with pytest.raises(FFBenchError, match="part-zzz.parquet is not a readable Parquet results file"):
        results_store.read(store)


def test_a_compaction_killed_before_deleting_its_parts_counts_nothing_twice(tmp_path):
    out = tmp_path / "r.parquet"
    part = results_store.append(out, point_rows("a"))
    saved = part.read_bytes()
    results_store.compact(out)
    part.parent.mkdir(exist_ok=True)
    part.write_bytes(saved)  # as if killed after the rename, before the parts were deleted
    assert results_store.compact(out) == 1 and not part.exists()
    assert len(pd.read_parquet(out)) == 3
    part.parent.mkdir(exist_ok=True)
    part.write_bytes(saved)
    assert len(results_store.read(out)) == 3 and not part.exists()  # a read merges (and so drops) it too
    assert len(pd.read_parquet(out)) == 3


WRITER = textwrap.dedent("""
    import sys
    from ffbench import results_store
    path, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    for k in range(n):
        rows = [{"run_id": f"{tag}-{k}", "status": "ok", "metric": "m", "value": float(i), "layer": i}
                for i in range(50)]
        results_store.append(path, rows)
        if k % 10 == 9:
            results_store.compact(path)
    results_store.compact(path)
""")


def test_two_processes_writing_one_store_lose_nothing(tmp_path):
    out = tmp_path / "r.parquet"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(out), tag, "40"]) for tag in "ab"]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    df = pd.read_parquet(out)
    assert len(df) == 2 * 40 * 50 and df["run_id"].nunique() == 80
    assert df.groupby("run_id").size().eq(50).all()  # no point twice, none partial


def test_kill_9_leaves_a_readable_store_with_every_finished_point(tmp_path):
    out = tmp_path / "r.parquet"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(out), "k", "100000"])
    deadline = time.time() + 120
    while time.time() < deadline and len(results_store.read(out) if results_store.exists(out) else []) < 2000:
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    df = results_store.read(out)
    assert len(df) >= 2000
    counts = df.groupby("run_id").size()
    assert counts.eq(50).all()  # every point whole: parts and the file are replaced atomically
    results_store.compact(out)
    assert sorted(pd.read_parquet(out)["run_id"].unique()) == sorted(counts.index)
