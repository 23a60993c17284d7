"""`ffbench results`: look after a results location (a FILE.parquet or a folder of part files)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ffbench import results_store
from ffbench.cli.console import out
from ffbench.cli.leaderboard import friendly

app = typer.Typer(
    help="Results locations written by `ffbench run --out` (a FILE.parquet or a folder of Parquet part files).",
    no_args_is_help=True,
)


@app.command()
@friendly
def compact(
    location: Annotated[
        Path, typer.Argument(help="The --out of one or more runs: FILE.parquet or a folder.", show_default=False)
    ],
) -> None:
    """Merge the part files a run appended into one: into FILE.parquet (after a run that was
    killed before it could merge them), or into one part file of a folder store. Safe while
    other runs are writing: parts written meanwhile are kept for the next compaction."""
    from ffbench.prechecks import check_folder_writable

    rows = len(results_store.read(location))  # clear error for a missing or foreign location
    check_folder_writable(results_store.parts_dir(location), "results", "Compact a copy elsewhere.")
    merged = results_store.compact(location)
    out.print(f"{location}: merged {merged} part file(s); {rows} row(s) stored", highlight=False)


@app.command()
@friendly
def info(
    location: Annotated[Path, typer.Argument(help="FILE.parquet or a folder store.", show_default=False)],
) -> None:
    """Rows, runs and part files stored at a results location."""
    df = results_store.read(location)
    parts = results_store.parts_dir(location)
    n_parts = len(list(parts.glob(results_store.PART_GLOB))) if parts.is_dir() else 0
    failed = df.loc[df["status"] != "ok", "run_id"].nunique()
    out.print(
        f"{location}: {len(df)} row(s), {df['run_id'].nunique()} run(s) ({failed} failed), "
        f"{n_parts} part file(s) not compacted",
        highlight=False,
    )
