"""Help and error texts as a newcomer reads them: examples one per line at 80 columns, one default
dataset, and an --out folder that cannot be created named as such."""

import pytest
from typer.testing import CliRunner

from ffbench.cli import app
from ffbench.cli.examples import MAX_LINE, examples_epilog

EXAMPLES = [
    "ffbench run",
    "ffbench run --rule ff --metric sparsity",
    "ffbench run --rule ff --param ff.epochs=5,20 --seeds 3",
    'ffbench run --rule "ff[schedule=simultaneous]" --goodness l2,sumsq',
    "ffbench run --preset paper -d fashion-mnist --device cuda -o paper.parquet",
    "ffbench run --suite quick --out quick.parquet",
    "ffbench run --suite zoo --rule bp --out zoo.parquet",
    "ffbench run --suite zoo --metric cost --out zoo.parquet",
    "ffbench run --rule ff,bp --seeds 5 --executor dask --workers 4 --resume",
]


def help_text(columns: int) -> list[str]:
    result = CliRunner(env={"COLUMNS": str(columns)}).invoke(app, ["run", "--help"])
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


@pytest.mark.parametrize("columns", [80, 120])
def test_run_help_keeps_every_example_on_its_own_line(columns):
    lines = help_text(columns)
    examples = lines[lines.index("  Examples:") :]
    stripped = [line.strip() for line in examples]
    assert all(command in stripped for command in EXAMPLES)  # each whole, alone on its line
    comments = [line for line in stripped if line.startswith("#")]
    assert len(comments) == len(EXAMPLES) and "# one metric" in comments
    assert max(len(line) for line in examples) <= 80


def test_the_default_dataset_reads_as_one_dataset():
    text = " ".join(" ".join(help_text(80)).split())
    assert "[default: fashion-mnist-mini (a Fashion-MNIST subset shipped with ffbench: no download)]" in text
    assert "fashion-mnist-mini, embedded" not in text


def test_an_example_too_long_for_80_columns_is_refused():
    assert "\b\n  # one metric\n  ffbench run" in examples_epilog(("one metric", "ffbench run"))
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
