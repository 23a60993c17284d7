"""`ffbench plugins`: every registered component with its distribution, and plugin load status."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ffbench.cli.console import out, print_json
from ffbench.component import format_value
from ffbench.registry import collision_message, get_registry


def plugins(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """List installed components (rules, goodness, negatives, datasets, metrics) and plugins."""
    registry = get_registry()
    components = [
        {**e.cls.describe(), "distribution": e.dist, "distribution_version": e.dist_version, "plugin": e.plugin}
        for e in registry.all_entries()
    ]
    collisions = [
        {"kind": kind, "name": name, "message": collision_message(kind, name, entries),
         "distributions": [e.dist for e in entries]}
        for (kind, name), entries in registry.collisions.items()
    ]
    plugin_rows = [
        {"name": p.name, "module": p.module, "distribution": p.dist, "distribution_version": p.dist_version,
         "status": p.status, "reason": p.reason, "components": [f"{k}:{n}" for k, n in p.components]}
        for p in registry.plugins
    ]
    if as_json:
        print_json({"components": components, "plugins": plugin_rows, "collisions": collisions})
        return
    table = Table(title="ffbench components")
    for col in ("kind", "name", "version", "distribution", "params", "description"):
        table.add_column(col, overflow="fold")
    for c in components:
        params = ", ".join(f"{p['name']}={format_value(p['default'])}" for p in c["params"])
        table.add_row(c["kind"], c["name"], c["version"], f"{c['distribution']} {c['distribution_version']}",
                      params, c["description"])
    out.print(table)
    problems = [p for p in plugin_rows if p["status"] != "ok"]
    if problems:
        t = Table(title="plugins not loaded")
        for col in ("plugin", "distribution", "status", "reason"):
            t.add_column(col, overflow="fold")
        for p in problems:
            colour = "red" if p["status"] == "broken" else "yellow"
            t.add_row(p["name"], f"{p['distribution']} {p['distribution_version']}",
                      f"[{colour}]{p['status']}[/{colour}]", p["reason"])
        out.print(t)
    for c in collisions:
        out.print(f"[red]collision[/red]: {c['message']}")
