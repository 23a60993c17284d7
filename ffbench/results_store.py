"""The append-only results store: every finished run point becomes one Parquet *part file*, written
atomically (temp file + rename), so writing a point costs the same at the 1st and the 5 000th point,
``kill -9`` at any moment leaves every finished point readable, and any number of processes can
write to one store at once without losing a row (each writes its own parts; no read-modify-write).

A results location is one of:

- **a folder** (``--out results/``, any path that is a folder or does not end in ``.parquet``):
  a Parquet dataset, ``part-*.parquet`` files with one schema (:data:`ffbench.results.COLUMNS`).
  ffbench, pandas (``pd.read_parquet("results/")``), pyarrow (``pyarrow.dataset.dataset``) and
  DuckDB (``read_parquet('results/*.parquet')``) read it as one table.
- **a file** (``--out results.parquet``): one Parquet file for users who want one. While a run
  writes, its points go to the hidden part folder ``.results.parquet.parts/`` next to the file;
  the run compacts them into the file when it ends. After a crash, the next ffbench command that
  reads the results (``results info``, ``report``, ``leaderboard update``, a ``run`` with the same
  ``--out``, ``results compact``) compacts them first, so the file alone holds every finished
  point again; until then pandas reads the parts as a folder
  (``pd.read_parquet(".results.parquet.parts")``). Once merged, the hidden folder is removed:
  nothing is left next to the file. ffbench reads the file *and* any parts not yet compacted, so
  nothing finished is missed.

Rows are built and written by :mod:`ffbench.results` (frames of the schema); this module stores
and reads them, and is the only one that knows where they lie.

Compaction merges the parts into the file (or, for a folder, into one part) with an atomic
rename, then deletes exactly the parts it merged, under a lock on the part folder (an flock on the
folder itself, no lock file; readers take it too), so a part written meanwhile is kept for the
next compaction.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from ffbench.errors import FFBenchError
from ffbench.locking import folder_lock
from ffbench.results import to_frame, write_atomic
from ffbench.schema import COLUMNS, RESULTS_REQUIRED, RESULTS_SCHEMA_KEY, RESULTS_SCHEMA_VERSION
from ffbench.untrusted import check_columns

PART_GLOB = "part-*.parquet"
SCHEMA_META = {RESULTS_SCHEMA_KEY: RESULTS_SCHEMA_VERSION}


def is_folder_store(path: Path) -> bool:
    """A folder store: an existing folder, or a new path that does not end in .parquet."""
    path = Path(path)
    return path.is_dir() or (not path.exists() and path.suffix != ".parquet")


def parts_dir(path: Path) -> Path:
    """Where the part files of the results at ``path`` live."""
    path = Path(path)
    return path if is_folder_store(path) else path.parent / f".{path.name}.parts"


def exists(path: Path) -> bool:
    """Whether any results (a file, or at least one part) are stored at ``path``."""
    path = Path(path)
    parts = parts_dir(path)
    return (path.is_file()) or (parts.is_dir() and any(parts.glob(PART_GLOB)))


def _lock(parts: Path):
    return folder_lock(parts, what="this results store", create=True)


def append(path: Path, rows: list[dict]) -> Path:
    """Write ``rows`` as one new part file (atomic); returns the part's path. Never reads or
    rewrites what is already stored, so its cost does not grow with the store."""
    parts = parts_dir(path)
    name = f"part-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{os.getpid()}-{uuid.uuid4().hex[:12]}.parquet"
    df = to_frame(rows)
    for attempt in range(5):
        parts.mkdir(parents=True, exist_ok=True)
        try:
            write_atomic(df, parts / name, SCHEMA_META)
            return parts / name
        except FileNotFoundError:  # a compaction removed the (then empty) hidden folder: again
            if attempt == 4:
                raise
    return parts / name


def append_and_compact(path: str | os.PathLike, rows: list[dict]) -> None:
    """Append ``rows`` to the results at ``path`` and compact, so a ``.parquet`` file holds them
    all at once (for scripts and tests; a run appends one part per point and compacts at the end)."""
    append(Path(path), rows)
    compact(Path(path))


MERGED_KEY = b"ffbench_merged_parts"


#: What the user can do about a results file that is refused (it is never changed).
KEEP = "It was left as it is: remove it, or write results elsewhere with --out."
#: Most missing columns a refusal lists by name.
_SHOWN_MISSING = 12


def check_schema(path: Path, schema: pa.Schema) -> None:
    """Refuse the results file at ``path`` (:class:`FFBenchError` naming it and the columns) unless its
    Arrow ``schema`` has every column of results schema 1 (columns a later version added read as
    missing values; unknown columns are ignored) and every column of ffbench's holds values of its
    type (:func:`ffbench.untrusted.check_columns`). Checked on every file before its rows are read,
    so values that pandas would quietly convert (numbers stored as text, a run_id stored as an
    integer) are refused too."""
    missing = [c for c in RESULTS_REQUIRED if c not in schema.names]
    if missing:
        shown = ", ".join(missing[:_SHOWN_MISSING])
        more = f" and {len(missing) - _SHOWN_MISSING} more" if len(missing) > _SHOWN_MISSING else ""
        raise FFBenchError(
            f"{path} is not an ffbench results file: it lacks the column(s) {shown}{more}, which every "
            f"ffbench results file has, so it was not read. {KEEP}"
        )
    check_columns(schema, COLUMNS, path, "results", KEEP)


def _file_schema(path: Path) -> pa.Schema:
    try:
        return pq.read_schema(path)
    except Exception as exc:
        raise FFBenchError(f"{path} is not a readable Parquet results file ({exc}). {KEEP}") from None


def _read_file(path: Path) -> tuple[pd.DataFrame, set[str]]:
    """(rows, names of the parts this file already holds: they are skipped, then deleted). The
    file is untrusted: its columns are checked (:func:`check_schema`) before its rows are read."""
    try:
        table = pq.read_table(path)
    except Exception as exc:
        raise FFBenchError(f"{path} is not a readable Parquet results file ({exc}). {KEEP}") from None
    check_schema(path, table.schema)
    df = table.to_pandas()
    try:
        merged = set(json.loads((table.schema.metadata or {}).get(MERGED_KEY, b"[]")))
        df = to_frame(df.to_dict("records")) if set(df.columns) != set(COLUMNS) else df.astype(COLUMNS)
    except (TypeError, ValueError, ArithmeticError, pa.ArrowException) as exc:
        raise FFBenchError(f"{path} holds values ffbench cannot read as results ({exc}). {KEEP}") from None
    return df, merged


def _merged_names(path: Path) -> set[str]:
    try:
        meta = pq.read_schema(path).metadata or {}
        names = json.loads(meta.get(MERGED_KEY, b"[]"))
        return {n for n in names if isinstance(n, str)} if isinstance(names, list) else set()
    except Exception:
        return set()  # unreadable: reported when its rows are read


def _read_unlocked(path: Path) -> tuple[pd.DataFrame, list[Path], set[str]]:
    """(every row once, the part files present, the part names some file says it already holds).
    A compaction killed between writing its result and deleting the parts it merged leaves those
    parts behind; the merged file lists them, so they are not counted twice. Only the results file
    and compacted parts carry such a list. The files are read as one pyarrow dataset (fast for
    thousands of parts) once every file's columns are checked (:func:`check_schema`: a file of the
    wrong form is refused, named); if their schemas disagree (results of an older ffbench), file by
    file."""
    parts = sorted(parts_dir(path).glob(PART_GLOB)) if parts_dir(path).is_dir() else []
    files = ([path] if path.is_file() else []) + parts
    held: set[str] = set()
    for f in files:
        if f == path or "-compacted-" in f.name:
            held |= _merged_names(f)
    files = [f for f in files if f == path or f.name not in held]
    if not files:
        return to_frame([]), parts, held
    for f in files:  # every file's columns, before any row is read or converted
        check_schema(f, _file_schema(f))
    try:
        df = ds.dataset([str(f) for f in files], format="parquet").to_table().to_pandas()
        if list(df.columns) != list(COLUMNS):
            raise ValueError("columns differ")
        df = df.astype(COLUMNS)
    except Exception:
        df = pd.concat([_read_file(f)[0] for f in files], ignore_index=True)
    return df, parts, held


def pending_parts(path: Path) -> list[Path]:
    """The part files of a *file* store not yet merged into its file (left by a run that was
    killed before it could merge them, or written by a run still going on); [] for a folder store."""
    path = Path(path)
    if is_folder_store(path):
        return []
    parts = parts_dir(path)
    return sorted(parts.glob(PART_GLOB)) if parts.is_dir() else []


def _compact_if_pending(path: Path) -> None:
    """Merge a file store's pending parts into its file, where the folder is writable, so that the
    file alone holds every finished point again (pandas then reads it as it is). Anything that
    stops the merge leaves the parts as they are: they are still read."""
    writable = os.access(path.parent, os.W_OK) and os.access(parts_dir(path), os.W_OK)
    if not pending_parts(path) or not writable or (path.exists() and not os.access(path, os.W_OK)):
        return  # a read-only results file (or folder) is read as it is, never replaced
    try:
        compact(path)
    except OSError:
        pass


def read(path: str | os.PathLike) -> pd.DataFrame:
    """Every row stored at ``path`` (file plus pending parts, or every part of a folder). A file
    store's pending parts are merged into its file first (:func:`_compact_if_pending`): after a
    crash, the next ffbench command that reads the results makes the file whole again."""
    path = Path(path)
    if not exists(path):
        raise FFBenchError(f"No results at {path}: neither a results file nor a folder of part files.")
    _compact_if_pending(path)
    parts = parts_dir(path)
    if not parts.is_dir() or not os.access(parts, os.W_OK):
        return _read_unlocked(path)[0]
    try:
        with folder_lock(parts, what="this results store"):
            return _read_unlocked(path)[0]
    except FileNotFoundError:  # a compaction merged everything and removed the part folder meanwhile
        return _read_unlocked(path)[0]


def compact(path: str | os.PathLike) -> int:
    """Merge the parts into the results file (file store) or into one part (folder store);
    returns how many parts were merged. Safe against concurrent writers and a kill at any point:
    the merged data is renamed into place before the merged parts are deleted."""
    path = Path(path)
    parts = parts_dir(path)
    if not parts.is_dir():
        return 0
    folder = is_folder_store(path)
    with _lock(parts):
        df, merged, held = _read_unlocked(path)
        if len(merged) <= (1 if folder else 0):
            if not folder and not merged:
                _remove_if_empty(parts)
            return 0
        target = (
            parts / f"part-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-compacted-{uuid.uuid4().hex[:12]}.parquet"
            if folder
            else path
        )
        names = sorted(p.name for p in merged)  # all held now: in df, or in the file df includes
        write_atomic(df, target, {**SCHEMA_META, MERGED_KEY.decode(): json.dumps(names)})
        for p in merged:  # only now: a kill before this line leaves parts the new file lists
            p.unlink(missing_ok=True)
        for stale in parts.glob(".part-*.tmp"):  # temp files of writers killed mid-write
            if time.time() - stale.stat().st_mtime > 3600:
                stale.unlink(missing_ok=True)
        if not folder:
            _remove_if_empty(parts)
    return len(merged)


def _remove_if_empty(parts: Path) -> None:
    """The hidden part folder of a file store goes when empty (a writer that loses the race to
    this rmdir re-creates it: :func:`append` retries)."""
    try:
        parts.rmdir()
    except OSError:
        pass
