"""The one atomic writer: results, part files, boards, their Markdown, cached models and run
artifacts all reach their final path through :func:`atomic_path`, so a reader never sees a
half-written file and a crash leaves either the old file or the new one (plus, at worst, a hidden
``.NAME.*.tmp`` that the next write of the same folder does not read).

How: write to a temp file in the destination's folder (same file system, so the rename is
atomic), flush it to disk, give it ordinary permissions (``mkstemp`` creates 0600; ffbench's files
are meant to be shared and committed), rename it over the destination, and on any failure remove
the temp file and leave the destination untouched.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: Permissions of every file ffbench writes (results, boards and models are shared files).
FILE_MODE = 0o644


@contextmanager
def atomic_path(path: str | os.PathLike, mode: int = FILE_MODE) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; when the block ends without an exception the file
    written there replaces ``path`` atomically, otherwise it is deleted. The folder is created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb") as fh:  # the data reaches the disk before the name does
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path: str | os.PathLike, text: str, *, only_if_changed: bool = False) -> bool:
    """Write ``text`` (UTF-8) to ``path`` atomically; with ``only_if_changed`` leave a file that
    already holds it alone. True if the file was written."""
    path = Path(path)
    if only_if_changed and path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return True
