"""One lock for folders that several ffbench processes write (a results store, a boards folder),
that leaves nothing behind: on POSIX an exclusive ``flock`` on the folder itself (no lock file);
elsewhere a hidden lock file inside the folder (filelock), the only portable way."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ffbench.errors import FFBenchError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

#: the lock file used where flock on a folder is not available
FALLBACK_NAME = ".ffbench.lock"


@contextmanager
def folder_lock(
    folder: Path, timeout: float | None = None, what: str = "this folder", create: bool = False
) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` for the ``with`` block; waits up to ``timeout``
    seconds (None: for ever), then raises a clear FFBenchError. With ``create``, the folder is
    made if absent, and a folder that its previous holder removed while we waited is not trusted:
    the lock is taken again on the folder now at that path."""
    folder = Path(folder)
    if create:
        folder.mkdir(parents=True, exist_ok=True)
    if fcntl is None:
        from filelock import FileLock, Timeout  # only where flock is missing (Windows)

        try:
            with FileLock(str(folder / FALLBACK_NAME), timeout=-1 if timeout is None else timeout):
                yield
        except Timeout:
            raise FFBenchError(
                f"Another ffbench process holds {what} ({folder}); waited {timeout:g} s. "
                "Try again when it has finished."
            ) from None
        return
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            fd = os.open(folder, os.O_RDONLY)
        except FileNotFoundError:
            if not create:
                raise
            folder.mkdir(parents=True, exist_ok=True)
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if deadline is None else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            if time.monotonic() >= deadline:  # type: ignore[operator]
                raise FFBenchError(
                    f"Another ffbench process holds {what} ({folder}); waited {timeout:g} s. "
                    "Try again when it has finished."
                ) from None
            time.sleep(0.05)
            continue
        try:
            current = os.stat(folder)
        except FileNotFoundError:
            current = None
        if current is not None and os.path.samestat(os.fstat(fd), current):
            break
        os.close(fd)  # the folder we locked was removed (and maybe re-made) meanwhile: again
        if not create and current is None:
            raise FileNotFoundError(folder)
        if create:
            folder.mkdir(parents=True, exist_ok=True)
    try:
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
