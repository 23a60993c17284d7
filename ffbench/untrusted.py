"""Text and files from strangers.

**Text** a user or a plugin supplies (component specs such as ``ff[epochs=5]``, paths, error
messages, a rule's log lines) is printed through rich only via :func:`literal`, so rich markup
never eats ``[...]`` nor fails on ``[/bold]``.

**Parquet files** ffbench did not necessarily write: every column it knows must hold the
kind of values ffbench writes there, or the file is refused with one paragraph naming the file
and the columns (instead of a pyarrow or pandas traceback from deep inside a reader).

Used by the results reader (:mod:`ffbench.results_store`) and the board reader
(:mod:`ffbench.leaderboard.store`); paths built from the rows' text are checked by
:mod:`ffbench.safe_paths`.
"""

from __future__ import annotations

import os
import re

import pyarrow as pa

from ffbench.errors import FFBenchError

#: A bracket rich's markup reads as a tag (its own escape's pattern).
_TAG = re.compile(r"\[[a-z#/@][^[]*?]")
#: A bracket with the backslashes before it.
_BRACKET = re.compile(r"(\\*)\[")


def _escaped_bracket(text: str, match: re.Match) -> str:
    backslashes = match.group(1)
    if _TAG.match(text, match.end() - 1):
        # a tag: rich halves the backslashes before it and an odd count makes it literal
        return backslashes * 2 + "\\["
    # not a tag: rich prints the backslashes as they are, but reads a last "\[" as "["
    return backslashes + "\\[" if backslashes else "["


def literal(text: object) -> str:
    """``text`` as rich prints it literally: the one escape for every user- or plugin-supplied
    string that goes through a rich console (its markup would otherwise eat ``[k=v]`` or fail on
    ``[/bold]``).

    ``rich.markup.escape`` is not enough: rich reads every backslash before a bracket, tag or
    not (``\\[`` prints as ``[``), and three trailing backslashes escape the tag that follows.
    Here every bracket gets the backslashes rich's markup needs to print it and the backslashes
    before it literally, and trailing backslashes are doubled (rich halves them before the
    closing tag that follows in the markup they are placed in)."""
    text = str(text)
    out = _BRACKET.sub(lambda m: _escaped_bracket(text, m), text)
    trailing = len(out) - len(out.rstrip("\\"))
    return out + "\\" * trailing


#: pandas dtype of a column -> (what the error calls it, the Arrow types accepted for it). Null
#: columns (every value missing) fit every dtype; integer columns fit float ones.
_ACCEPTS = {
    "string": ("text", lambda t: pa.types.is_string(t) or pa.types.is_large_string(t)),
    "Int64": ("integers", pa.types.is_integer),
    "float64": ("numbers", lambda t: pa.types.is_floating(t) or pa.types.is_integer(t)),
    "boolean": ("true/false", pa.types.is_boolean),
}


class SchemaMismatchError(FFBenchError):
    """A Parquet file whose known columns hold values of the wrong type."""


def _value_type(t: pa.DataType) -> pa.DataType:
    return t.value_type if pa.types.is_dictionary(t) else t


def _kind(t: pa.DataType) -> str:
    """What values an Arrow type holds, in the words the error uses."""
    t = _value_type(t)
    for label, accepts in (_ACCEPTS[d] for d in ("string", "boolean", "Int64")):
        if accepts(t):
            return label
    return "numbers" if pa.types.is_floating(t) else str(t)


def wrong_columns(schema: pa.Schema, columns: dict[str, str]) -> list[str]:
    """``"column (expected ..., found ...)"`` for each column of ``columns`` (name -> pandas dtype)
    that ``schema`` holds with an Arrow type that cannot hold that dtype's values."""
    wrong = []
    for field in schema:
        if field.name not in columns:
            continue
        label, accepts = _ACCEPTS[columns[field.name]]
        t = _value_type(field.type)
        if not (pa.types.is_null(t) or accepts(t)):
            wrong.append(f"{field.name} (expected {label}, found {_kind(field.type)})")
    return wrong


def check_columns(schema: pa.Schema, columns: dict[str, str], path: str | os.PathLike, what: str, keep: str) -> None:
    """Raise :class:`SchemaMismatchError` naming ``path`` and every wrongly typed column (``what``
    the file claims to be, ``keep`` what the user can do) unless ``schema`` fits ``columns``."""
    wrong = wrong_columns(schema, columns)
    if wrong:
        raise SchemaMismatchError(
            f"{path} has ffbench's {what} column names but values of the wrong type in "
            f"{'; '.join(wrong)}, so it was not read. {keep}"
        )
