"""Checks made before any training: every place a command will write must be writable and have
room, and an existing results file must be one ffbench can append to.

Each failure is an :class:`~ffbench.errors.FFBenchError` (one paragraph naming the path and the
fix; the CLI exits with code 2) raised before a single model is trained, so a bad ``--out`` no
longer costs a whole grid. Component names and parameters are checked when the grid is built,
datasets are loaded before the first training (ffbench.runner).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ffbench import results_store
from ffbench.errors import FFBenchError

#: Free space asked for before a run: a floor for results and artifacts plus a per-point share
#: for the model cache and artifacts (a 3 x 1000 MLP is ~11 MB in the cache, its artifacts < 1 MB;
#: 3 x 3072 for CIFAR-sized inputs ~113 MB). An estimate, stated as such in the message.
MIN_FREE_BYTES = 64 * 2**20
PER_POINT_BYTES = 16 * 2**20


def existing_ancestor(path: Path) -> Path:
    """``path`` itself if it exists, else its nearest existing parent folder."""
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_folder_writable(folder: Path, what: str, fix: str) -> Path:
    """Raise unless files can be created in ``folder`` (created later if absent). Probes by
    creating and removing an empty temporary folder: permission bits do not tell the truth for
    root, read-only mounts or /proc. Returns the existing folder that was probed."""
    base = existing_ancestor(folder)
    if not base.is_dir():
        raise FFBenchError(f"Cannot write {what} to {folder}: {base} is a file, not a folder. {fix}")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".ffbench-write-check-", dir=base))
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        folder = Path(folder).absolute()
        if base == folder:
            raise FFBenchError(f"Cannot write {what} in the folder {folder}: not writable ({reason}). {fix}") from None
        missing = base / folder.relative_to(base).parts[0]  # the first folder that would have to be created
        where = f"Cannot write {what}:" if missing == folder else f"Cannot write {what} to {folder}:"
        raise FFBenchError(
            f"{where} the folder {missing} cannot be created ({base} is not writable; the system says: {reason}). {fix}"
        ) from None
    return base


def check_free_space(base: Path, needed: int, what: str, fix: str) -> None:
    free = shutil.disk_usage(base).free
    if free < needed:
        raise FFBenchError(
            f"Not enough free disk space for {what} at {base}: {free / 2**20:.0f} MiB free, about "
            f"{needed / 2**20:.0f} MiB needed (an estimate: {MIN_FREE_BYTES // 2**20} MiB plus "
            f"{PER_POINT_BYTES // 2**20} MiB per run point). {fix}"
        )


def check_results_target(out: Path) -> None:
    """``out`` must be a new location in a writable folder, an ffbench results file to append to,
    or a folder store of ffbench part files."""
    fix = "Choose another location with --out."
    if out.exists() and not out.is_dir() and out.suffix != ".parquet":
        raise FFBenchError(f"--out {out} is a file that is not .parquet; give a FILE.parquet or a folder. {fix}")
    if results_store.exists(out):
        results_store.read(out)  # raises a clear FFBenchError for a corrupt or foreign file
        if out.is_file() and not os.access(out, os.W_OK):
            raise FFBenchError(f"The results file {out} is read-only. {fix}")
    check_folder_writable(results_store.parts_dir(out), "results", fix)


def check_run_outputs(out: Path, artifacts_dir: Path, cache_dir: Path | None, points: int) -> None:
    """Everything ``ffbench run`` writes: the results file, its artifacts folder and (when the
    model cache is on) the cache folder, each writable and with room for ``points`` run points."""
    check_results_target(out)
    base = check_folder_writable(artifacts_dir, "metric artifacts", "Choose another --out location.")
    check_free_space(
        base,
        MIN_FREE_BYTES + PER_POINT_BYTES * points,
        "results and artifacts",
        "Free some space or choose another --out location.",
    )
    if cache_dir is not None:
        fix = "Set FFBENCH_CACHE to a writable folder, or run with --no-cache."
        base = check_folder_writable(cache_dir, "trained models (the model cache)", fix)
        check_free_space(base, MIN_FREE_BYTES + PER_POINT_BYTES * points, "the model cache", fix)
