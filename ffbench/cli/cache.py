"""`ffbench cache`: where trained models are cached, what is there, and clearing it. The cache
touches only files it wrote (KEY.pt) in a folder it marked as its own (ffbench.cache)."""

from __future__ import annotations

import typer

from ffbench.cache import MARKER, ModelCache
from ffbench.cli.console import friendly_errors, literal, out
from ffbench.errors import FFBenchError

app = typer.Typer(help="The trained-model cache ($FFBENCH_CACHE or the user cache folder).", no_args_is_help=True)


def _others(cache: ModelCache) -> str:
    others = cache.others()
    if not others:
        return ""
    names = ", ".join(p.name for p in others[:3]) + (" ..." if len(others) > 3 else "")
    return f"; {len(others)} other file(s) there ({names}) are not ffbench's and are never touched"


@app.command("dir")
def cache_dir() -> None:
    """Print the cache folder."""
    out.print(literal(ModelCache().root), highlight=False, soft_wrap=True)


@app.command("info")
@friendly_errors
def cache_info() -> None:
    """Number of cached models and their size."""
    cache = ModelCache()
    files = cache.entries()
    size = sum(f.stat().st_size for f in files)
    unmarked = "" if cache.owned or not cache.root.is_dir() else f" (not marked as ffbench's: no {MARKER} file)"
    out.print(
        literal(f"{len(files)} cached model(s), {size / 1e6:.1f} MB in {cache.root}{unmarked}{_others(cache)}"),
        highlight=False,
        soft_wrap=True,
    )


@app.command("clear")
@friendly_errors
def cache_clear() -> None:
    """Delete the cached models: only the files the cache wrote (KEY.pt), never other files in the folder."""
    cache = ModelCache()
    if cache.root.is_dir() and not cache.owned and any(cache.root.iterdir()):
        raise FFBenchError(
            f"{cache.root} is not marked as ffbench's model cache (it has no {MARKER} file, which ffbench "
            "writes with the first model it caches), so nothing was removed. Point FFBENCH_CACHE at ffbench's "
            "own cache folder, or delete the files you want gone yourself."
        )
    n, size = cache.clear()
    out.print(literal(f"removed {n} cached model(s), {size / 1e6:.1f} MB{_others(cache)}"), highlight=False)
