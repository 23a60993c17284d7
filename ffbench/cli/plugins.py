"""`ffbench plugins`: every registered component with its distribution, and each plugin's load status.

A plugin that failed to import or register is listed as ``broken`` with the reason, a blocked one
as ``disabled``; neither stops this command (or any other) from working with the rest.
"""

from __future__ import annotations

import enum
from fnmatch import fnmatchcase
from typing import Annotated, Any

import typer
from rich.table import Table

import ffbench
from ffbench.cli.console import err, out, print_json
from ffbench.component import Component, format_value
from ffbench.contracts import KINDS
from ffbench.registry import DISABLE_ENV, Registry, collision_message, disabled_names, get_registry
from ffbench.untrusted import literal

#: ``--kind`` choices: the component kinds (typer refuses any other, naming these)
Kind = enum.Enum("Kind", {kind: kind for kind in KINDS}, type=str)
STATUS_COLOURS = {"ok": "green", "broken": "red", "disabled": "yellow", "collision": "red"}


def traits(cls: type[Component]) -> dict[str, Any]:
    """The traits of a component class: the attributes its kind's contract lists in ``trait_names``."""
    values = {name: getattr(cls, name) for name in KINDS[cls.kind].trait_names}
    if "headline" in values:
        values["headline"] = list(cls.headline_stats())  # type: ignore[attr-defined]
    return values


def report(registry: Registry, pattern: str | None = None, kind: str | None = None) -> dict[str, Any]:
    """Everything `ffbench plugins --json` prints; components only of ``kind`` and with a name that
    matches the shell-style ``pattern`` (case-insensitive), where given."""
    components = [
        {
            **e.cls.describe(),
            **traits(e.cls),
            "distribution": e.dist,
            "distribution_version": e.dist_version,
            "plugin": e.plugin,
        }
        for e in registry.all_entries()
        if (kind is None or e.kind == kind) and (pattern is None or fnmatchcase(e.name.lower(), pattern.lower()))
    ]
    plugins = [
        {
            "name": p.name,
            "module": p.module,
            "distribution": p.dist,
            "distribution_version": p.dist_version,
            "status": p.status,
            "reason": p.reason,
            "components": [f"{k}:{n}" for k, n in p.components],
        }
        for p in registry.plugins
    ]
    collisions = [
        {
            "kind": kind,
            "name": name,
            "message": collision_message(kind, name, entries),
            "distributions": [e.dist for e in entries],
        }
        for (kind, name), entries in registry.collisions.items()
    ]
    return {
        "ffbench_version": ffbench.__version__,
        "components": components,
        "plugins": plugins,
        "collisions": collisions,
        "disabled_by_env": sorted(disabled_names()),
        "unmatched_disabled": registry.unmatched_blocks,
    }


def plugins(
    pattern: Annotated[
        str | None, typer.Argument(help="Only components whose name matches this pattern, e.g. 'ff*' or '*sparsity'.")
    ] = None,
    kind: Annotated[Kind | None, typer.Option("--kind", help="Only components of this kind.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List installed components (rules, goodness, negatives, datasets, metrics) and plugins."""
    data = report(get_registry(), pattern, kind.value if kind else None)
    if as_json:
        print_json(data)
        return
    table = Table(title="ffbench components")
    for col in ("kind", "name", "version", "distribution", "params", "description"):
        table.add_column(col, overflow="fold")
    for c in data["components"]:
        params = ", ".join(f"{p['name']}={format_value(p['default'])}" for p in c["params"])
        table.add_row(
            c["kind"],
            c["name"],
            c["version"],
            f"{c['distribution']} {c['distribution_version']}",
            literal(params),
            literal(c["description"]),
        )
    out.print(table)
    t = Table(title="plugins (entry-point group 'ffbench')")
    for col in ("plugin", "distribution", "status", "provides / reason"):
        t.add_column(col, overflow="fold")
    for p in data["plugins"]:
        colour = STATUS_COLOURS[p["status"]]
        detail = p["reason"] if p["status"] != "ok" else ", ".join(p["components"])
        t.add_row(
            p["name"],
            f"{p['distribution']} {p['distribution_version']}",
            f"[{colour}]{p['status']}[/{colour}]",
            literal(detail),
        )
    out.print(t)
    for c in data["collisions"]:
        out.print(f"[red]collision[/red]: {literal(c['message'])}", highlight=False)
    for name in data["unmatched_disabled"]:
        err.print(
            f"[yellow]warning[/yellow]: {DISABLE_ENV} names '{literal(name)}', which is neither an "
            "installed plugin nor a distribution providing one.",
            highlight=False,
        )
