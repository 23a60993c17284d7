"""The ffbench command line (typer). Errors caused by input or environment print one paragraph
on stderr and exit with code 2, without a traceback."""

from __future__ import annotations

import platform
from typing import Annotated

import torch
import typer

import ffbench
from ffbench.cli import cache as cache_cmd
from ffbench.cli import leaderboard as leaderboard_cmd
from ffbench.cli import results as results_cmd
from ffbench.cli.bench import EXAMPLES as BENCH_EXAMPLES
from ffbench.cli.bench import bench
from ffbench.cli.console import friendly_errors
from ffbench.cli.plugin_commands import add_plugin_commands
from ffbench.cli.plugins import plugins
from ffbench.cli.report import report
from ffbench.cli.run import EXAMPLES, run
from ffbench.cli.submit import SUBMIT_EXAMPLES, submit, verify
from ffbench.registry import get_registry

app = typer.Typer(
    name="ffbench",
    help="Benchmark Forward-Forward-style learning rules: train, measure, and compare on leaderboards.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help shows name[k=v,...] literally; no markup parsing
)


app.command(epilog=EXAMPLES)(friendly_errors(run))
app.command()(friendly_errors(plugins))
app.command()(friendly_errors(report))
app.command(epilog=BENCH_EXAMPLES)(friendly_errors(bench))
app.command(epilog=SUBMIT_EXAMPLES)(friendly_errors(submit))
app.command(epilog=SUBMIT_EXAMPLES)(friendly_errors(verify))
app.add_typer(cache_cmd.app, name="cache")
app.add_typer(leaderboard_cmd.app, name="leaderboard")
app.add_typer(results_cmd.app, name="results")
add_plugin_commands(app, get_registry(), wrap=friendly_errors)  # last: a plugin cannot take a built-in name


def version_text() -> str:
    lines = [f"ffbench {ffbench.__version__} (python {platform.python_version()}, torch {torch.__version__})"]
    registry = get_registry()
    dists = sorted({(p.dist, p.dist_version) for p in registry.plugins if p.status == "ok"})
    lines.append("plugins: " + ", ".join(f"{d}-{v}" for d, v in dists))
    problems = [f"{p.name} ({p.status})" for p in registry.plugins if p.status != "ok"]
    if problems:
        lines.append("not loaded: " + ", ".join(problems) + " (see `ffbench plugins`)")
    return "\n".join(lines)


def _version(value: bool) -> None:
    if value:
        typer.echo(version_text())
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Show ffbench, torch and plugin versions."),
    ] = None,
) -> None:
    """Benchmark Forward-Forward-style learning rules."""


def main() -> None:
    app()
