"""`ffbench cache`: where trained models are cached, what is there, and clearing it."""

from __future__ import annotations

import typer

from ffbench.cache import ModelCache
from ffbench.cli.console import out

app = typer.Typer(help="The trained-model cache ($FFBENCH_CACHE or the user cache folder).", no_args_is_help=True)


@app.command("dir")
def cache_dir() -> None:
    """Print the cache folder."""
    out.print(str(ModelCache().root), highlight=False)


@app.command("info")
def cache_info() -> None:
    """Number of cached models and their size."""
    files = ModelCache().entries()
    size = sum(f.stat().st_size for f in files)
    out.print(f"{len(files)} cached model(s), {size / 1e6:.1f} MB in {ModelCache().root}", highlight=False)


@app.command("clear")
def cache_clear() -> None:
    """Delete every cached model."""
    n, size = ModelCache().clear()
    out.print(f"removed {n} cached model(s), {size / 1e6:.1f} MB", highlight=False)
