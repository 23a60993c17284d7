"""Commands that plugins add (``ffbench_register_commands``), put on the root app once, when the
command line is built. A name that a built-in command or an earlier plugin already has is refused:
the plugin is listed by ``ffbench plugins`` as a collision naming its distribution, and the command
that had the name keeps it."""

from __future__ import annotations

from collections.abc import Callable

import typer

from ffbench.registry import DISABLE_ENV, Registry


def command_names(app: typer.Typer) -> set[str]:
    """The names of the commands and command groups on ``app``."""
    names = {c.name or c.callback.__name__.replace("_", "-") for c in app.registered_commands if c.callback}
    names |= {g.name or g.typer_instance.info.name for g in app.registered_groups}
    return names


def add_plugin_commands(app: typer.Typer, registry: Registry, wrap: Callable[[Callable], Callable]) -> None:
    """Add every plugin command of ``registry`` to ``app``; ``wrap`` decorates command functions
    (errors reported as one paragraph)."""
    owners = dict.fromkeys(command_names(app), "ffbench")
    for pc in registry.commands:
        info = pc.plugin
        here = f"{info.dist} {info.dist_version}"
        if pc.name in owners:
            info.status = "collision"
            info.reason = (
                f"command '{pc.name}' of {here} (plugin '{info.name}') is refused: {owners[pc.name]} already "
                f"has a command of that name. Rename it in {info.dist}, or block the plugin: {DISABLE_ENV}={info.name}."
            )
            continue
        if isinstance(pc.command, typer.Typer):
            app.add_typer(pc.command, name=pc.name)
        else:
            app.command(pc.name)(wrap(pc.command))
        owners[pc.name] = f"{here} (plugin '{info.name}')"
