"""Consoles: progress and logs go to stderr, tables and JSON to stdout; errors caused by input or
the environment as one paragraph on stderr (:func:`friendly_errors`)."""

from __future__ import annotations

import functools
import json
import sys

import typer
from rich.console import Console
from rich.text import Text

from ffbench.errors import FFBenchError
from ffbench.untrusted import literal  # noqa: F401 (the one escape helper, for the CLI modules)

# emoji=False: ":name:" in a user's text (a path, a spec) is printed as typed, never as an emoji.
err = Console(stderr=True, log_path=False, emoji=False)
# Piped or captured output gets a wide console so tables are not folded into 80 columns.
out = Console(soft_wrap=False, width=None if sys.stdout.isatty() else 200, emoji=False)


def print_json(obj) -> None:
    """Plain JSON on stdout (no rich markup, so it stays machine-readable)."""
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")
    sys.stdout.flush()


def friendly_errors(fn):
    """Report FFBenchError as one paragraph on stderr, exit code 2, no traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except FFBenchError as exc:
            # the message as a Text: printed exactly as written, never parsed as markup; soft_wrap: the
            # terminal wraps the paragraph (rich would break paths and specs mid-word)
            err.print(Text.assemble(("Error:", "bold red"), f" {exc}"), highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err.print("Interrupted: run points that finished are kept in the results.")
            raise typer.Exit(130) from None

    return wrapper
