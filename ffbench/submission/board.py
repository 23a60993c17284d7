"""Submissions on the boards: ``ffbench leaderboard update submissions/NAME`` merges a verified
submission's rows with ``verification`` set.

The folder must be intact (its rows still rebuild its manifest) and carry a verification record of
that very manifest. A failed verification is refused with its reasons. Rows of verified
configurations are merged as ``verified``; a deferred configuration (too costly to re-run within
the budget) is refused unless ``allow_deferred`` is given, and its rows are then marked
``deferred``. Every other path given to the update is a results file of runs made by whoever
holds it: its rows are merged as local runs, so any ``verification`` they carry is cleared (on a
copy, with a note naming the file). A verification state reaches a board only through a folder
whose rows still rebuild its manifest and whose verification record names that manifest's hash.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from ffbench import results_store
from ffbench.results import write_atomic
from ffbench.schema import RESULTS_SCHEMA_KEY, RESULTS_SCHEMA_VERSION
from ffbench.submission import integrity
from ffbench.submission.canonical import SubmissionError, config_key
from ffbench.submission.folder import load, write_rows
from ffbench.submission.manifest import MANIFEST_FILE, RECORD_FILE, manifest_hash
from ffbench.submission.record import read as read_record


def is_submission(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a submission folder (a folder holding a manifest)."""
    path = Path(path)
    return path.is_dir() and (path / MANIFEST_FILE).is_file()


def verified_rows(folder: str | os.PathLike, allow_deferred: bool = False) -> pd.DataFrame:
    """The submission's rows (results schema) with ``verification`` set from its record; a
    :class:`SubmissionError` naming the reason when it may not reach a board."""
    submission = load(folder)
    where = submission.folder
    changed = integrity.problems(submission)
    if changed:
        raise SubmissionError(f"{where} was changed after it was submitted; not merged", changed)
    record_path = where / RECORD_FILE
    if not record_path.is_file():
        raise SubmissionError(f"{where} has not been verified (no {RECORD_FILE}): run `ffbench verify {where}` first.")
    record = read_record(record_path)
    if record["manifest_sha256"] != manifest_hash(submission.manifest):
        raise SubmissionError(
            f"{record_path} verified another manifest than {where / MANIFEST_FILE} (the manifest changed since): "
            f"run `ffbench verify {where}` again."
        )
    if record["status"] == "failed":
        reasons = [f"{c['label']}: {c['reason']}" for c in record["configurations"] if c["status"] == "failed"]
        raise SubmissionError(
            f"{where} failed verification ({record['reason']}); not merged", reasons + record.get("integrity", [])
        )
    states = {c["key"]: c for c in record["configurations"]}
    keys = [c["key"] for c in submission.manifest["configurations"]]
    missing = [k for k in keys if k not in states]
    if missing or len(states) != len(keys):
        raise SubmissionError(f"{record_path} does not cover the manifest's configurations exactly; verify again.")
    deferred = [states[k] for k in keys if states[k]["status"] == "deferred"]
    if deferred and not allow_deferred:
        raise SubmissionError(
            f"{where} is only partly verified: {len(deferred)} configuration(s) were deferred (not re-run); "
            "merge them marked deferred with --allow-deferred, or verify them with a larger --budget",
            [f"{c['label']}: {c['reason']}" for c in deferred],
        )
    rows = submission.rows.copy()
    rows["verification"] = pd.Series([states[config_key(r)]["status"] for r in rows.to_dict("records")], dtype="string")
    return rows


def as_local_runs(path: Path, target: Path, log: Callable[[str], None]) -> Path:
    """``path``, or where its rows were written with ``verification`` cleared when any row carried
    one: a results file is not a verified submission, whatever its column says."""
    rows = results_store.read(path)
    carried = rows["verification"].dropna() if "verification" in rows.columns else ()
    if len(carried) == 0:
        return path
    states = ", ".join(f"{n} {s}" for s, n in sorted(carried.astype(str).value_counts().items()))
    log(
        f"{path}: {len(carried)} row(s) carried a verification state ({states}); merged as local runs "
        "(a verification state comes only from a verified submission folder: ffbench verify)"
    )
    rows["verification"] = pd.Series(pd.NA, index=rows.index, dtype="string")
    target.parent.mkdir(parents=True)
    write_atomic(rows, target, {RESULTS_SCHEMA_KEY: RESULTS_SCHEMA_VERSION})
    return target


@contextmanager
def results_for_update(
    paths: Iterable[str | os.PathLike],
    allow_deferred: bool = False,
    log: Callable[[str], None] = lambda message: None,
) -> Iterator[list[Path]]:
    """The paths for ``ffbench.leaderboard.update``: each submission folder replaced by a temporary
    results file of its verified rows, each results file whose rows carry a verification state by
    a temporary copy without it (:func:`as_local_runs`; both removed afterwards), every other path
    as given."""
    with tempfile.TemporaryDirectory(prefix="ffbench-submissions-") as tmp:
        out: list[Path] = []
        for i, path in enumerate(map(Path, paths)):
            if not is_submission(path):
                out.append(as_local_runs(path, Path(tmp) / f"results-{i}" / path.name, log))
                continue
            rows = verified_rows(path, allow_deferred)
            counts = rows["verification"].value_counts().to_dict()
            log(
                f"submission {path.name}: {len(rows)} rows ({', '.join(f'{n} {s}' for s, n in sorted(counts.items()))})"
            )
            target = Path(tmp) / f"submission-{i}.parquet"
            write_rows(rows, target)
            out.append(target)
        yield out
