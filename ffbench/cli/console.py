"""Consoles: progress and logs go to stderr, tables and JSON to stdout."""

from __future__ import annotations

import sys

from rich.console import Console

from ffbench.untrusted import literal  # noqa: F401 (the one escape helper, for the CLI modules)

# emoji=False: ":name:" in a user's text (a path, a spec) is printed as typed, never as an emoji.
err = Console(stderr=True, log_path=False, emoji=False)
# Piped or captured output gets a wide console so tables are not folded into 80 columns.
out = Console(soft_wrap=False, width=None if sys.stdout.isatty() else 200, emoji=False)


def print_json(obj) -> None:
    """Plain JSON on stdout (no rich markup, so it stays machine-readable)."""
    import json

    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")
    sys.stdout.flush()
