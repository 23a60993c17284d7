"""Examples for a command's ``--help`` that survive the help formatter's reflow.

Click (under typer, with ``rich_markup_mode=None``) rewraps every paragraph of an epilog to the
terminal's width, which runs a list of commands together into one paragraph. A paragraph whose first
line is ``\\b`` is printed as written, so each example is such a paragraph: a ``#`` comment line,
then each of its commands on its own line, all indented by 2. Keep every line short
(:data:`MAX_LINE`) so that nothing wraps at 80 columns (the help indents the epilog by 2 more)."""

from __future__ import annotations

#: the longest example line that still fits 80 columns after the help's indentation
MAX_LINE = 74


def examples_epilog(*examples: tuple[str, ...]) -> str:
    """An epilog of ``(comment, command, ...)`` examples, each printed as unwrapped lines: the comment,
    then every command on its own line."""
    blocks = [(f"# {comment}", *commands) for comment, *commands in examples]
    for line in (line for block in blocks for line in block):
        if len(line) > MAX_LINE:
            raise ValueError(f"example line longer than {MAX_LINE} characters: {line!r}")
    return "Examples:\n\n" + "\n\n".join("\b\n" + "\n".join(f"  {line}" for line in block) for block in blocks) + "\n"
