"""One lock for folders that several ffbench processes write (a results store, a boards folder),
that leaves nothing behind: on POSIX an exclusive ``flock`` on the folder itself (no lock file);
elsewhere a hidden lock file inside the folder (filelock), the only portable way."""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ffbench.errors import FFBenchError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

#: the lock file used where flock on a folder is not available
FALLBACK_NAME = ".ffbench.lock"


@contextmanager
def folder_lock(folder: Path, timeout: float | None = None, what: str = "this folder") -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (which must exist) for the ``with`` block; waits up to
    ``timeout`` seconds (None: for ever), then raises a clear FFBenchError."""
    folder = Path(folder)
    if fcntl is None:
        from filelock import FileLock, Timeout

        try:
            with FileLock(str(folder / FALLBACK_NAME), timeout=-1 if timeout is None else timeout):
                yield
        except Timeout:
            raise FFBenchError(f"Another ffbench process holds {what} ({folder}); waited {timeout:g} s. "
                               "Try again when it has finished.") from None
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if deadline is None else fcntl.LOCK_NB))
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:  # type: ignore[operator]
                    raise FFBenchError(f"Another ffbench process holds {what} ({folder}); waited {timeout:g} s. "
                                       "Try again when it has finished.") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
