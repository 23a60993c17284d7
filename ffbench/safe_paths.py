"""Paths built from untrusted text: names that become file names, and folders they must stay in.

Every file ffbench reads may come from a stranger (a results file in a pull request, a board
written by another version, a plugin's output). Whenever such text becomes part of a path (a
row's ``dataset_id`` names a board file; a row's ``artifact`` names files next to its results
file), it goes through this module:

- :func:`check_identifier`: the text must be a plain name (``[A-Za-z0-9][A-Za-z0-9._-]*``, at
  most 100 characters, no ``..``): no separator, no absolute path, no parent folder, nothing a
  file system reads specially;
- :func:`check_inside`: the *resolved* path (symlinks followed) must lie inside the folder the
  user named on the command line.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ffbench.errors import FFBenchError

#: A name that may become a file name: letters, digits, ``.``, ``_`` and ``-``, starting with a
#: letter or digit, at most 100 characters, never containing ``..``.
IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


class UnsafePathError(FFBenchError):
    """Text from a file would make a path outside the folder it belongs in."""


def is_identifier(text: object) -> bool:
    """Whether ``text`` is a plain name (:data:`IDENTIFIER`, no ``..``)."""
    return isinstance(text, str) and IDENTIFIER.fullmatch(text) is not None and ".." not in text


def check_identifier(text: object, what: str, where: str = "") -> str:
    """``text`` if it is a plain name; :class:`UnsafePathError` naming it (and ``where`` it came from) otherwise."""
    if is_identifier(text):
        return str(text)
    source = f" in {where}" if where else ""
    raise UnsafePathError(
        f"Refused {what} {text!r}{source}: a name that becomes a file name must be letters, digits, '.', '_' "
        "or '-' (starting with a letter or digit, at most 100 characters, no '..'); nothing was read or written."
    )


def is_inside(path: str | os.PathLike, folder: str | os.PathLike) -> bool:
    """Whether ``path``, resolved (symlinks followed, ``..`` removed), lies inside ``folder`` (also resolved)."""
    return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(folder))


def check_inside(path: str | os.PathLike, folder: str | os.PathLike, what: str) -> Path:
    """``path`` if it resolves to a place inside ``folder``; :class:`UnsafePathError` otherwise."""
    if not is_inside(path, folder):
        raise UnsafePathError(
            f"Refused {what} {path}: it resolves to {os.path.realpath(path)}, outside {folder}; "
            "nothing was read or written there."
        )
    return Path(path)
