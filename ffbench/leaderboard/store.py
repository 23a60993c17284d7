"""Reading, writing, listing and naming boards (Parquet files in a boards folder)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import ffbench
from ffbench.errors import FFBenchError
from ffbench.leaderboard.schema import BOARD_COLUMNS, ROW_ORDER, SCHEMA_KEY, SCHEMA_VERSION, BoardError
from ffbench.results import write_atomic, write_parquet
from ffbench.safe_paths import UnsafePathError, check_identifier, check_inside
from ffbench.schema import BOARD_COLUMNS_ADDED, BOARD_SCHEMA_READABLE
from ffbench.untrusted import check_columns

#: Board names that would replace the boards folder's own pages (its index and the schema doc).
RESERVED_NAMES = ("readme", "schema")


def board_name(dataset_id: str) -> str:
    """The board a dataset's rows go to: its name without parameters (``mnist[train_size=10]`` -> ``mnist``)."""
    return dataset_id.partition("[")[0]


def safe_board_name(dataset_id: object, where: str = "") -> str:
    """:func:`board_name` of a ``dataset_id`` read from a file, checked before it becomes a file
    name: a plain name (:func:`ffbench.safe_paths.check_identifier`: no separator, no ``..``, not
    absolute) that is not one of the folder's own pages (README, SCHEMA)."""
    if not isinstance(dataset_id, str):
        check_identifier(dataset_id, "dataset_id", where)
    name = check_identifier(board_name(dataset_id), f"board name (from dataset_id {dataset_id!r})", where)
    if name.lower() in RESERVED_NAMES:
        raise UnsafePathError(
            f"Refused dataset_id {dataset_id!r}{f' in {where}' if where else ''}: its board would be "
            f"{name}.parquet / {name}.md, which would replace the boards folder's own {name}.md; "
            "nothing was read or written."
        )
    return name


def board_path(boards_dir: Path, name: str) -> Path:
    """``<boards_dir>/<name>.parquet``, checked to resolve inside ``boards_dir`` (a symlinked board
    that leads elsewhere is refused)."""
    return check_inside(Path(boards_dir) / f"{name}.parquet", boards_dir, "board file")


def empty_board() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in BOARD_COLUMNS.items()})


def read_board(path: str | os.PathLike) -> pd.DataFrame:
    """The per-seed rows of the board at ``path``; :class:`BoardError` if it is not a board we can read."""
    path = Path(path)
    keep = f"It was left untouched: restore it (e.g. `git checkout -- {path}`) or move it away."
    if not path.exists():
        raise BoardError(f"No leaderboard at {path}.")
    try:
        pf = pq.ParquetFile(path)
        meta = {k.decode(): v.decode() for k, v in (pf.schema_arrow.metadata or {}).items()}
        table = pf.read()
    except Exception as exc:
        raise BoardError(f"{path} is not a readable Parquet file ({exc}). {keep}") from None
    version = meta.get(SCHEMA_KEY)
    if version is None:
        raise BoardError(
            f"{path} is not an ffbench leaderboard: its Parquet metadata has no '{SCHEMA_KEY}' key. {keep}"
        )
    if version not in BOARD_SCHEMA_READABLE:
        raise BoardError(
            f"{path} has leaderboard schema version {version}; ffbench {ffbench.__version__} reads "
            f"versions {', '.join(BOARD_SCHEMA_READABLE)} (leaderboards/SCHEMA.md). {keep}"
        )
    names = table.schema.names
    # columns added after the board's version read as missing values
    later = [c for v, cols in BOARD_COLUMNS_ADDED.items() if v > version for c in cols]
    for c in later:
        if c not in names:
            table = table.append_column(c, pa.nulls(table.num_rows))
    names = table.schema.names
    check_columns(table.schema, BOARD_COLUMNS, path, "leaderboard", keep)
    missing = [c for c in BOARD_COLUMNS if c not in names]
    extra = [c for c in names if c not in BOARD_COLUMNS]
    if missing or extra:
        what = "; ".join(
            p
            for p in (
                f"missing {', '.join(missing)}" if missing else "",
                f"unknown {', '.join(extra)}" if extra else "",
            )
            if p
        )
        raise BoardError(f"{path} claims leaderboard schema version {version} but its columns differ ({what}). {keep}")
    try:
        return table.to_pandas()[list(BOARD_COLUMNS)].astype(BOARD_COLUMNS)
    except (TypeError, ValueError) as exc:
        raise BoardError(f"{path} has columns of the wrong type ({exc}). {keep}") from None


def sort_board(df: pd.DataFrame) -> pd.DataFrame:
    """Rows in their canonical order (so equal boards are equal files)."""
    return df.sort_values(ROW_ORDER, na_position="first", kind="stable").reset_index(drop=True)


def board_frame(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` as a board file holds it: the board columns with their dtypes, canonical row order."""
    return sort_board(df[list(BOARD_COLUMNS)].astype(BOARD_COLUMNS))


def write_board(df: pd.DataFrame, path: Path, stage: Callable[[Path], Path] | None = None) -> None:
    """Write a board atomically; with ``stage`` (:func:`ffbench.atomic_write.atomic_paths`) into the
    temporary file it gives, renamed over ``path`` together with the rest of the unit."""
    if stage is None:
        write_atomic(board_frame(df), path, {SCHEMA_KEY: SCHEMA_VERSION})
    else:
        write_parquet(board_frame(df), stage(path), {SCHEMA_KEY: SCHEMA_VERSION})


def list_boards(boards_dir: Path) -> dict[str, Path]:
    """Board name -> Parquet path, for every ``*.parquet`` in ``boards_dir`` (sorted by name)."""
    if not boards_dir.is_dir():
        return {}
    return {p.stem: p for p in sorted(boards_dir.glob("*.parquet"))}


def resolve_board(board: str, boards_dir: Path) -> Path:
    """A board given as a Parquet path or as a name in ``boards_dir``."""
    as_path = Path(board)
    if as_path.suffix == ".parquet" or as_path.is_file():
        if not as_path.exists():
            raise FFBenchError(f"No leaderboard at {as_path}.")
        return as_path
    boards = list_boards(boards_dir)
    if board not in boards:
        raise FFBenchError(f"No board '{board}' in {boards_dir}. Boards there: {', '.join(boards) or '(none)'}.")
    return boards[board]
