"""`ffbench_register_commands`: a plugin adds commands to the real command line; a hook that fails
makes the plugin broken (listed by `ffbench plugins`), and a name a built-in command already has is
refused with the distribution named, the built-in keeping it."""

from __future__ import annotations

import json
import types

import pytest
import typer
from typer.testing import CliRunner

import ffbench
import ffbench.registry as registry_module
from ffbench.cli import app, friendly_errors
from ffbench.cli.plugin_commands import add_plugin_commands
from ffbench.errors import FFBenchError
from ffbench.registry import DISABLE_ENV, load_registry


@pytest.fixture(autouse=True)
def no_blocks(monkeypatch):
    monkeypatch.delenv(DISABLE_ENV, raising=False)


def commands_plugin(module_name: str, *commands) -> types.ModuleType:
    """A plugin module whose command hook registers ``commands``: functions or (command, name) pairs."""

    @ffbench.hookimpl
    def ffbench_register_commands(register):
        for command in commands:
            register(*command) if isinstance(command, tuple) else register(command)

    module = types.ModuleType(module_name)
    module.ffbench_register_commands = ffbench_register_commands
    return module


def cli_with(monkeypatch, *plugins):
    """The real CLI (its built-in commands and groups) plus the commands of ``plugins``; the
    registry of those plugins is the one `ffbench plugins` lists."""
    registry = load_registry(extra=list(plugins), use_entry_points=False)
    cli = typer.Typer(pretty_exceptions_enable=False, rich_markup_mode=None)
    cli.registered_callback = app.registered_callback
    cli.registered_commands = list(app.registered_commands)
    cli.registered_groups = list(app.registered_groups)
    add_plugin_commands(cli, registry, wrap=friendly_errors)
    monkeypatch.setattr(registry_module, "_DEFAULT", registry)
    return cli, registry


def plugin_status(registry, name):
    info = next(p for p in registry.plugins if p.name == name)
    return info.status, info.reason, info.components


def say_hello(name: str = "world") -> None:
    """Greets."""
    typer.echo(f"hello {name}")


def test_a_function_and_a_typer_group_become_commands(monkeypatch):
    tools = typer.Typer()

    @tools.command()
    def double(n: int) -> None:
        typer.echo(str(2 * n))

    @tools.command()
    def half(n: int) -> None:
        typer.echo(str(n / 2))

    cli, registry = cli_with(
        monkeypatch, ("hi", commands_plugin("hi_mod", say_hello, (tools, "tools")), "dist-hi", "1.2")
    )
    result = CliRunner().invoke(cli, ["say-hello", "--name", "ada"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "hello ada\n"
    assert CliRunner().invoke(cli, ["tools", "double", "21"]).stdout == "42\n"
    assert CliRunner().invoke(cli, ["tools", "half", "3"]).stdout == "1.5\n"
    assert plugin_status(registry, "hi") == ("ok", "", [("command", "say-hello"), ("command", "tools")])
    listed = json.loads(CliRunner().invoke(cli, ["plugins", "--json"]).stdout)
    assert next(p for p in listed["plugins"] if p["name"] == "hi")["components"] == [
        "command:say-hello",
        "command:tools",
    ]


def test_a_built_in_name_is_refused_naming_the_distribution(monkeypatch):
    def run() -> None:
        typer.echo("hijacked")

    squatter = typer.Typer()
    squatter.command()(say_hello)
    cli, registry = cli_with(
        monkeypatch, ("squat", commands_plugin("squat_mod", run, (squatter, "leaderboard")), "dist-squat", "0.3")
    )
    status, reason, _ = plugin_status(registry, "squat")
    assert status == "collision"
    assert "command 'leaderboard' of dist-squat 0.3 (plugin 'squat') is refused: ffbench already has" in reason
    assert f"{DISABLE_ENV}=squat" in reason
    result = CliRunner().invoke(cli, ["run", "--help"])
    assert result.exit_code == 0 and "hijacked" not in result.stdout and "--rule" in result.stdout
    table = CliRunner().invoke(cli, ["plugins"])
    assert table.exit_code == 0
    assert "collision" in table.stdout and "dist-squat" in table.stdout


def test_a_second_plugin_with_the_same_command_name_is_refused(monkeypatch):
    first = ("first", commands_plugin("first_mod", say_hello), "dist-first", "1.0")
    second = ("second", commands_plugin("second_mod", say_hello), "dist-second", "2.0")
    cli, registry = cli_with(monkeypatch, first, second)
    assert plugin_status(registry, "first")[0] == "ok"
    status, reason, _ = plugin_status(registry, "second")
    assert status == "collision"
    assert "dist-second 2.0" in reason and "dist-first 1.0 (plugin 'first') already has" in reason


def test_a_failing_command_hook_makes_the_plugin_broken_and_the_cli_still_works(monkeypatch):
    @ffbench.hookimpl
    def ffbench_register_commands(register):
        raise RuntimeError("no commands today")

    boom = types.ModuleType("boom_mod")
    boom.ffbench_register_commands = ffbench_register_commands
    nameless = ("nameless", commands_plugin("nameless_mod", (typer.Typer(), None)), "dist-nameless", "0.1")
    cli, registry = cli_with(monkeypatch, ("boom", boom, "dist-boom", "0.9"), nameless)
    status, reason, components = plugin_status(registry, "boom")
    assert status == "broken" and components == []
    assert reason.startswith("register hook failed: RuntimeError: no commands today")
    status, reason, _ = plugin_status(registry, "nameless")
    assert status == "broken" and "command name '' is not valid" in reason
    assert registry.commands == []
    listed = CliRunner().invoke(cli, ["plugins", "--json"])
    assert listed.exit_code == 0
    assert {p["name"]: p["status"] for p in json.loads(listed.stdout)["plugins"]} == {
        "boom": "broken",
        "nameless": "broken",
    }


def test_a_misspelt_command_hook_is_broken(monkeypatch):
    @ffbench.hookimpl
    def ffbench_register_command(register):
        register(say_hello)

    typo = types.ModuleType("typo_mod")
    typo.ffbench_register_command = ffbench_register_command
    cli, registry = cli_with(monkeypatch, ("typo", typo, "dist-typo", "0.1"))
    status, reason, _ = plugin_status(registry, "typo")
    assert status == "broken" and "unknown hook implementation 'ffbench_register_command'" in reason
    assert CliRunner().invoke(cli, ["say-hello"]).exit_code == 2  # no such command


def test_a_plugin_command_reports_ffbench_errors_as_one_paragraph(monkeypatch):
    def fail() -> None:
        raise FFBenchError("the file is missing: /tmp/x")

    cli, _ = cli_with(monkeypatch, ("failing", commands_plugin("failing_mod", fail), "dist-fail", "0.1"))
    result = CliRunner().invoke(cli, ["fail"])
    assert result.exit_code == 2
    assert "Error: the file is missing: /tmp/x" in result.stderr and "Traceback" not in result.output
