"""`ffbench report`: the papers' figures from a results file or a leaderboard, as PNGs and a
static index.html."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ffbench.cli.console import err, literal, out
from ffbench.cli.tables import print_matrix
from ffbench.prechecks import check_folder_writable


def report(
    results: Annotated[
        Path,
        typer.Argument(help="Results Parquet written by `ffbench run`, or a leaderboard Parquet.", show_default=False),
    ],
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Folder for the PNGs and index.html. Default: "
            "RESULTS-report/ next to RESULTS, e.g. ffbench-results-report/.",
            show_default=False,
        ),
    ] = None,
    class_name: Annotated[
        str | None,
        typer.Option(
            "--class",
            help="Class whose mean activity per unit is drawn (class-mean figure of loo-ensembles), e.g. Trouser. "
            "Default: the first class.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Draw every figure the installed metrics declare for these results (for the built-ins:
    activation maps, ensembles, Jaccard maps, unseen category, rho+, Hoyer sparsity per layer,
    accuracy vs sparsity), plus each metric's headline bars, and an index.html that shows them with
    the run's configuration and provenance. A figure that cannot be drawn (metric not run, plugin
    not installed, data missing) is listed with the reason."""
    # drawing loads matplotlib: only when a report is drawn, not at the command line's start-up
    from ffbench.report.build import build_report, default_out

    check_folder_writable(out_dir or default_out(results), "the report", "Choose another folder with --out.")
    built = build_report(results, out_dir, class_name)
    for note in built.notes:
        err.log(literal(note), highlight=False)
    skipped = [f"{s.title} ({s.skipped})" for s in built.sections if s.skipped]
    if skipped:
        err.log(literal("skipped: " + "; ".join(skipped)), highlight=False)
    err.log(literal(f"{len(built.files)} figure(s) written to {built.out}"), highlight=False)
    from ffbench.report.terminal import headline_matrix  # loads the report's matplotlib, as above

    print_matrix(out, headline_matrix(results))  # the headline numbers, fitted to the terminal
    out.print(literal(built.index), highlight=False, soft_wrap=True)
