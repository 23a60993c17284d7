"""`ffbench results`: look after a results location (a FILE.parquet or a folder of part files)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ffbench import results_store
from ffbench.cli.console import friendly_errors, literal, out
from ffbench.prechecks import check_folder_writable
from ffbench.results import newest_runs

app = typer.Typer(
    help="Results locations written by `ffbench run --out` (a FILE.parquet or a folder of Parquet part files).",
    no_args_is_help=True,
)


@app.command()
@friendly_errors
def compact(
    location: Annotated[
        Path, typer.Argument(help="The --out of one or more runs: FILE.parquet or a folder.", show_default=False)
    ],
) -> None:
    """Merge the part files a run appended into one: into FILE.parquet (after a run that was
    killed before it could merge them), or into one part file of a folder store. Safe while
    other runs are writing: parts written meanwhile are kept for the next compaction."""
    before = results_store.pending_parts(location)  # a file store's: reading merges them already
    rows = len(results_store.read(location))  # clear error for a missing or foreign location
    check_folder_writable(results_store.parts_dir(location), "results", "Compact a copy elsewhere.")
    merged = max(results_store.compact(location), len(before) - len(results_store.pending_parts(location)))
    out.print(
        literal(f"{location}: merged {merged} part file(s); {rows} row(s) stored"), highlight=False, soft_wrap=True
    )


@app.command()
@friendly_errors
def info(
    location: Annotated[Path, typer.Argument(help="FILE.parquet or a folder store.", show_default=False)],
) -> None:
    """Rows, runs and part files stored at a results location. A point run again counts once: of
    its ok runs only the newest is counted (the rule reports and leaderboards use); the older
    runs' rows stay in the file and are reported as superseded."""
    stored = results_store.read(location)  # a file store's pending parts are merged in first
    df = newest_runs(stored)
    parts = results_store.pending_parts(location) if not results_store.is_folder_store(location) else []
    if results_store.is_folder_store(location):
        folder = results_store.parts_dir(location)
        n_parts = len(list(folder.glob(results_store.PART_GLOB))) if folder.is_dir() else 0
        stored_as = f"{n_parts} part file(s)"
    else:
        stored_as = f"{len(parts)} part file(s) not compacted"
    failed = df.loc[df["status"] != "ok", "run_id"].nunique()
    superseded = stored["run_id"].nunique() - df["run_id"].nunique()
    again = f", {superseded} older run(s) of a point run again not counted" if superseded else ""
    out.print(
        literal(f"{location}: {len(df)} row(s), {df['run_id'].nunique()} run(s) ({failed} failed){again}, {stored_as}"),
        highlight=False,
        soft_wrap=True,
    )
