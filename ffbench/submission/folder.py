"""A submission folder on disk (``submissions/NAME/``): its files, read as untrusted input.

The folder holds exactly ``manifest.json`` and ``rows.parquet`` (written by ``ffbench submit``)
and, once verified, ``verification.json`` (written by ``ffbench verify``). Every path is built
from those fixed names, never from the files' content; links, other files and rows that do not
have the results schema's columns with its types are refused with the reason.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from ffbench.results import write_atomic
from ffbench.schema import COLUMNS, RESULTS_SCHEMA_KEY, RESULTS_SCHEMA_VERSION
from ffbench.submission.canonical import SubmissionError, check_name
from ffbench.submission.manifest import MANIFEST_FILE, RECORD_FILE, ROWS_FILE, check_header, read_json
from ffbench.untrusted import wrong_columns

ALLOWED_FILES = {MANIFEST_FILE, ROWS_FILE, RECORD_FILE}
#: Largest rows file read (bytes).
MAX_ROWS_BYTES = 512 * 2**20


@dataclass
class Submission:
    folder: Path
    manifest: dict
    rows: pd.DataFrame

    @property
    def name(self) -> str:
        return self.manifest["name"]


def write_rows(rows: pd.DataFrame, path: Path) -> None:
    """The rows as a results file (results schema, its version in the metadata), atomically."""
    write_atomic(rows[list(COLUMNS)].astype(COLUMNS), path, {RESULTS_SCHEMA_KEY: RESULTS_SCHEMA_VERSION})


def read_rows(path: Path) -> pd.DataFrame:
    """The rows file of a submission: a regular Parquet file with exactly the results schema's
    columns, each of its type; refused with the reason otherwise."""
    if path.is_symlink() or not path.is_file():
        raise SubmissionError(f"{path} is not a regular file (the rows of a submission must be one).")
    if path.stat().st_size > MAX_ROWS_BYTES:
        raise SubmissionError(f"{path} is larger than {MAX_ROWS_BYTES} bytes; refused.")
    try:
        table = pq.read_table(path)
    except Exception as exc:
        raise SubmissionError(f"{path} is not a readable Parquet file ({exc}).") from None
    names = table.schema.names
    missing = [c for c in COLUMNS if c not in names]
    extra = [c for c in names if c not in COLUMNS]
    wrong = wrong_columns(table.schema, COLUMNS)  # the one type check of every reader of untrusted rows
    problems = [
        p
        for p in (
            f"missing columns {', '.join(missing)}" if missing else "",
            f"unknown columns {', '.join(extra)}" if extra else "",
            f"columns of the wrong type: {'; '.join(wrong)}" if wrong else "",
        )
        if p
    ]
    if problems:
        raise SubmissionError(f"{path} does not hold ffbench results rows", problems)
    return table.to_pandas()[list(COLUMNS)].astype(COLUMNS)


def check_folder(folder: Path) -> Path:
    """``folder`` if it is a real folder (no link) named like a submission, holding only its files."""
    folder = Path(folder)
    if folder.is_symlink() or not folder.is_dir():
        raise SubmissionError(
            f"{folder} is not a submission folder (a folder holding {MANIFEST_FILE} and {ROWS_FILE})."
        )
    check_name(folder.name)
    present = sorted(os.listdir(folder))
    unknown = [f for f in present if f not in ALLOWED_FILES]
    if unknown:
        raise SubmissionError(
            f"{folder} holds files a submission does not have: {', '.join(unknown)}; "
            f"it holds only {MANIFEST_FILE}, {ROWS_FILE} and (once verified) {RECORD_FILE}"
        )
    return folder


def load(folder: str | os.PathLike) -> Submission:
    """The manifest and rows of a submission folder, checked for form (not yet against each other:
    :mod:`ffbench.submission.integrity` does that)."""
    folder = check_folder(Path(folder))
    manifest_path = folder / MANIFEST_FILE
    manifest = read_json(manifest_path, "submission manifest")
    check_header(manifest, manifest_path)
    if manifest["name"] != folder.name:
        raise SubmissionError(
            f"{manifest_path} names the submission {manifest['name']!r}, but its folder is {folder.name!r}; "
            "a submission's folder is submissions/NAME."
        )
    return Submission(folder, manifest, read_rows(folder / ROWS_FILE))
