"""``ffbench submit``: turn a results file into a submission folder, ``submissions/NAME/``.

The folder gets the results' rows (artifact paths and any verification state cleared: artifacts
stay with the results file, and only ``ffbench verify`` says how a row was checked) and their
manifest. Nothing is written when any row failed, was computed from a modified checkout, or leaves
a configuration incomplete; the error names each of them. The folder appears whole or not at all
(written next to its place, then renamed).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from ffbench import results_store
from ffbench.atomic_write import write_text
from ffbench.provenance import environment
from ffbench.submission import checks
from ffbench.submission.canonical import SubmissionError, check_name
from ffbench.submission.folder import write_rows
from ffbench.submission.manifest import MANIFEST_FILE, ROWS_FILE, build_manifest, canonical_rows


def submission_rows(results: pd.DataFrame) -> pd.DataFrame:
    """The rows a submission stores: the ok rows, in their canonical order, without artifact paths
    or verification state."""
    rows = results[results["status"] == "ok"].copy()
    rows["artifact"] = pd.Series(pd.NA, index=rows.index, dtype="string")
    rows["verification"] = pd.Series(pd.NA, index=rows.index, dtype="string")
    ordered = pd.DataFrame(canonical_rows(rows), columns=rows.columns)
    return ordered.astype(results.dtypes.to_dict()).reset_index(drop=True)


def write_manifest(manifest: dict, path: Path) -> None:
    write_text(path, json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=True, allow_nan=False) + "\n")


def submit(results_path: str | os.PathLike, name: str, to: str | os.PathLike = "submissions") -> Path:
    """Write ``<to>/<name>/`` (rows and manifest) from the results at ``results_path``; returns the
    folder. Raises :class:`SubmissionError` naming every refused row, or if the folder exists."""
    name = check_name(name)
    results = results_store.read(results_path)
    found = checks.problems(results)
    if found:
        raise SubmissionError(f"{results_path} cannot be submitted; nothing was written", found)
    target = Path(to) / name
    if target.exists() or target.is_symlink():
        raise SubmissionError(f"{target} exists already: choose another --name, or remove it to submit again.")
    rows = submission_rows(results)
    env = environment()
    submitted_with = {k: env[k] for k in ("ffbench_version", "git_sha", "torch_version", "python_version")}
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    manifest = build_manifest(rows, name, created, submitted_with)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=target.parent))
    try:
        write_rows(rows, staging / ROWS_FILE)
        write_manifest(manifest, staging / MANIFEST_FILE)
        os.chmod(staging, 0o755)
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target
