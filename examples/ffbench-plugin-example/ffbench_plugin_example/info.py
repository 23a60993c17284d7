"""`ffbench example-info`: a command this distribution adds to the ffbench command line
(``ffbench_register_commands``), listing the components it provides."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

import ffbench
from ffbench.registry import get_registry
from ffbench_plugin_example import __version__

DISTRIBUTION = "ffbench-plugin-example"


def example_info(
    kind: Annotated[str | None, typer.Option("--kind", help="Only components of this kind.")] = None,
) -> None:
    """List the components the ffbench-plugin-example distribution provides."""
    console = Console(highlight=False)
    console.print(f"{DISTRIBUTION} {__version__}")
    for entry in get_registry().all_entries():
        if entry.dist == DISTRIBUTION and kind in (None, entry.kind):
            console.print(f"  {entry.kind} {escape(entry.name)}: {escape(entry.cls.description)}", soft_wrap=True)


@ffbench.hookimpl
def ffbench_register_commands(register) -> None:
    register(example_info)  # the command is the function's name with - for _: example-info
