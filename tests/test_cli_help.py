"""Help and error texts as a newcomer reads them: every command's help within 80 columns with its
examples one per line, one default dataset, a bad option value refused naming it and the valid
ones, and an --out folder that cannot be created named as such."""

import pytest
import typer
from typer.testing import CliRunner

from ffbench.cli import app
from ffbench.cli.examples import MAX_LINE, examples_epilog


def command_paths(command, path=()):
    """Every command below ``command`` (plugin commands included), keyed by the words that reach it."""
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from command_paths(sub, (*path, name))


COMMANDS = dict(command_paths(typer.main.get_command(app)))


def help_text(args=("run",), columns: int = 80, cli=app) -> list[str]:
    result = CliRunner(env={"COLUMNS": str(columns)}).invoke(cli, [*args, "--help"])
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def examples_in(epilog: str | None) -> list[str]:
    """The comment and command lines of an epilog (examples_epilog indents each by 2)."""
    return [line.strip() for line in (epilog or "").splitlines() if line.startswith("  ")]


def assert_examples_whole(lines: list[str], examples: list[str], columns: int) -> None:
    assert max(len(line) for line in lines) <= columns
    stripped = [line.strip() for line in lines]
    assert [example for example in examples if example not in stripped] == []  # each whole, alone on its line
    assert all(line.startswith(("# ", "ffbench ")) for line in examples), examples


@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize("path", list(COMMANDS), ids=lambda path: " ".join(path) or "ffbench")
def test_every_help_fits_and_keeps_each_example_on_its_own_line(path, columns):
    assert_examples_whole(help_text(path, columns), examples_in(COMMANDS[path].epilog), columns)


def test_the_commands_with_examples_show_them():
    shown = {" ".join(path) for path, command in COMMANDS.items() if examples_in(command.epilog)}
    assert {"run", "bench", "submit", "verify", "leaderboard"} <= shown
    assert "# one metric" in examples_in(COMMANDS[("run",)].epilog)
    leaderboard = examples_in(COMMANDS[("leaderboard",)].epilog)
    assert leaderboard[:3] == [
        "# run a suite, then merge its rows into the boards",
        "ffbench run --suite quick --out quick.parquet",
        "ffbench leaderboard update quick.parquet",
    ]


def test_the_bench_examples_are_shown():
    examples = examples_in(COMMANDS[("bench",)].epilog)
    assert len(examples) == 14 and "ffbench bench --quality 3" in examples


@pytest.mark.parametrize(
    "args, says",
    [
        (["run", "--precision", "fp16"], "'fp16' is not one of 'fp32', 'tf32', 'bf16'."),
        (["bench", "--precision", "fp16"], "'fp16' is not one of 'fp32', 'tf32', 'bf16'."),
        (["run", "--preset", "fast"], "'fast' is not one of 'quick', 'paper'."),
        (["run", "--stack-seeds", "yes"], "'yes' is not one of 'auto', 'on', 'off'."),
        (["run", "--executor", "ray"], "'ray' is not one of 'local', 'dask', 'slurm'."),
        (["bench", "--clock", "cpu"], "'cpu' is not one of 'wall', 'thread'."),
        (["run", "--device", "gpu"], "Unknown device 'gpu'. Valid: auto, cpu, cuda, cuda:N."),
        (["bench", "--device", "gpu"], "Unknown device 'gpu'. Valid: auto, cpu, cuda, cuda:N."),
        (["verify", "submissions/x", "--device", "gpu"], "Unknown device 'gpu'. Valid: auto, cpu, cuda, cuda:N."),
    ],
)
def test_a_bad_option_value_is_refused_naming_it_and_the_valid_ones(args, says):
    result = CliRunner().invoke(app, args)
    text = " ".join(result.output.split())
    assert result.exit_code == 2 and f"Invalid value for '{args[-2]}'" in text and says in text, result.output


def test_the_default_dataset_reads_as_one_dataset():
    text = " ".join(" ".join(help_text()).split())
    assert "[default: fashion-mnist-mini (a Fashion-MNIST subset shipped with ffbench: no download)]" in text
    assert "fashion-mnist-mini, embedded" not in text


def test_an_example_too_long_for_80_columns_is_refused():
    assert "\b\n  # one metric\n  ffbench run" in examples_epilog(("one metric", "ffbench run"))
    assert "\b\n  # two\n  ffbench run\n  ffbench bench\n" in examples_epilog(("two", "ffbench run", "ffbench bench"))
    with pytest.raises(ValueError, match="longer than"):
        examples_epilog(("x", "ffbench run " + "-" * MAX_LINE))


def test_an_out_folder_that_cannot_be_created_is_named(tmp_path):
    result = CliRunner().invoke(app, ["run", "-q", "--out", "/proc/res.parquet"])
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "the folder /proc/.res.parquet.parts cannot be created (/proc is not writable;" in text
    assert "not writable (No such file or directory)" not in text and "--out" in text
    result = CliRunner().invoke(app, ["run", "-q", "--out", "/proc/deep/er/res.parquet"])
    text = " ".join(result.output.split())
    assert result.exit_code == 2
    assert "to /proc/deep/er/.res.parquet.parts: the folder /proc/deep cannot be created" in text
