"""Write time per finished point: the append-only store (one part file per point) against the
previous way (read the whole results file, add the point, rewrite it).

    python benchmarks/results_store.py                  # 5 000 points, 120 rows each
    python benchmarks/results_store.py --points 1000 --rows 60 --rewrite-points 500

Prints the median write time per point in windows of the run (points 1-10, ..., 4 991-5 000), for
the store and, up to --rewrite-points, for the full rewrite, plus the final read and compaction.
A point's rows look like a real run's (accuracy per class, sparsity per layer, ...: about 120).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

from ffbench import results_store
from ffbench.results import RESULTS_SCHEMA_VERSION, to_frame, write_atomic


def point_rows(k: int, n: int) -> list[dict]:
    base = {
        "run_id": f"run{k:06d}",
        "config_hash": f"{k:016x}",
        "status": "ok",
        "seed": k % 10,
        "preset": "quick",
        "rule": "ff",
        "rule_id": "ff[epochs=20]",
        "dataset": "fashion-mnist",
        "metric_id": "sparsity",
        "ffbench_version": "0.1.0",
        "torch_version": "2.x",
        "device": "cpu",
        "train_seconds": 12.5,
    }
    return [
        {
            **base,
            "metric": "sparsity",
            "stat": "hoyer",
            "layer": i % 3 + 1,
            "class": str(i % 10),
            "value": 0.5 + i * 1e-3,
        }
        for i in range(n)
    ]


def rewrite_append(path: Path, rows: list[dict]) -> None:
    """The previous results.append_results: read everything, concatenate, rewrite atomically."""
    new = to_frame(rows)
    df = pd.concat([pd.read_parquet(path), new], ignore_index=True) if path.exists() else new
    write_atomic(df, path, {"ffbench_results_schema": RESULTS_SCHEMA_VERSION})


def windows(times: list[float], marks: list[int]) -> list[tuple[int, float]]:
    return [(m, statistics.median(times[max(0, m - 10) : m]) * 1e3) for m in marks if m <= len(times)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=5000)
    ap.add_argument("--rows", type=int, default=120)
    ap.add_argument("--rewrite-points", type=int, default=1000)
    a = ap.parse_args()
    marks = [m for m in (10, 100, 500, 1000, 2000, 3000, 4000, 5000, a.points) if m <= a.points]
    marks = sorted(set(marks))
    with tempfile.TemporaryDirectory() as tmp:
        store, single = Path(tmp) / "store", Path(tmp) / "single.parquet"
        t_store, t_rewrite = [], []
        for k in range(a.points):
            rows = point_rows(k, a.rows)
            t0 = time.perf_counter()
            results_store.append(store, rows)
            t_store.append(time.perf_counter() - t0)
            if k < a.rewrite_points:
                t0 = time.perf_counter()
                rewrite_append(single, rows)
                t_rewrite.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        n = len(results_store.read(store))
        t_read = time.perf_counter() - t0
        t0 = time.perf_counter()
        results_store.compact(store)
        t_compact = time.perf_counter() - t0
    print(f"{a.points} points x {a.rows} rows; median write ms per point over the 10 points up to point N")
    print(f"{'point N':>8} {'store (part/point)':>20} {'full rewrite':>14}")
    rewrite = dict(windows(t_rewrite, marks))
    for m, ms in windows(t_store, marks):
        print(f"{m:>8} {ms:>20.2f} {rewrite[m]:>14.2f}" if m in rewrite else f"{m:>8} {ms:>20.2f} {'-':>14}")
    print(f"store total {sum(t_store):.1f} s; rewrite total ({len(t_rewrite)} points) {sum(t_rewrite):.1f} s")
    print(f"read {n} rows from {a.points} parts: {t_read:.2f} s; compact into one part: {t_compact:.2f} s")


if __name__ == "__main__":
    main()
