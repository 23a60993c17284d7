"""The one atomic writer: results, part files, boards, their Markdown, cached models and run
artifacts all reach their final path through :func:`atomic_path` (or, for several files that
belong together, :func:`atomic_paths`), so a reader never sees a half-written file and a crash
leaves either the old file or the new one (plus, at worst, a hidden ``.NAME.*.tmp`` that the next
write of the same folder does not read).

How: write to a temp file in the destination's folder (same file system, so the rename is
atomic), flush it to disk, give it the destination's permissions (those of the file it replaces;
ordinary shared ones for a new file: ``mkstemp`` creates 0600, and ffbench's files are meant to be
shared and committed), rename it over the destination, and on any failure remove the temp file and
leave the destination untouched.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

#: Permissions of every new file ffbench writes (results, boards and models are shared files);
#: a file that is replaced keeps its own.
FILE_MODE = 0o644


def _mode_for(path: Path, mode: int | None) -> int:
    """``mode`` if given; else the permissions of the file at ``path`` (kept when it is replaced), else FILE_MODE."""
    if mode is not None:
        return mode
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return FILE_MODE


def _temp_next_to(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(tmp)


def _flush(tmp: Path) -> None:
    with open(tmp, "rb") as fh:  # the data reaches the disk before the name does
        os.fsync(fh.fileno())


@contextmanager
def atomic_path(path: str | os.PathLike, mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; when the block ends without an exception the file
    written there replaces ``path`` atomically, otherwise it is deleted. The folder is created.
    The file gets ``mode``, or by default the permissions of the file it replaces (a results
    file a user made private stays private), or :data:`FILE_MODE` when there is none."""
    path = Path(path)
    tmp = _temp_next_to(path)
    try:
        yield tmp
        _flush(tmp)
        os.chmod(tmp, _mode_for(path, mode))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@contextmanager
def atomic_paths() -> Iterator[Callable[[str | os.PathLike], Path]]:
    """Several files written as one unit (e.g. a board's Parquet and its Markdown): the block gets
    ``stage(destination) -> temporary path``; every staged file is written first, and only when the
    block ends without an exception are they renamed over their destinations, one after the other
    (each rename atomic). On any failure before that, every temporary file is deleted and no
    destination has changed."""
    staged: list[tuple[Path, Path]] = []

    def stage(path: str | os.PathLike) -> Path:
        tmp = _temp_next_to(Path(path))
        staged.append((tmp, Path(path)))
        return tmp

    try:
        yield stage
        for tmp, path in staged:
            _flush(tmp)
            os.chmod(tmp, _mode_for(path, None))
        for tmp, path in staged:
            os.replace(tmp, path)
    finally:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)


def write_text(path: str | os.PathLike, text: str, *, only_if_changed: bool = False) -> bool:
    """Write ``text`` (UTF-8) to ``path`` atomically; with ``only_if_changed`` leave a file that
    already holds it alone (a file that is not UTF-8 text is simply different). True if the file
    was written."""
    path = Path(path)
    if only_if_changed and path.is_file() and path.read_bytes() == text.encode("utf-8"):
        return False
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return True
