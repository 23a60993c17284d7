"""`ffbench leaderboard`: merge run results into the boards, show and diff them, render their
Markdown, list the suites. Logs go to stderr; tables, JSON and CSV to stdout."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from ffbench import leaderboard as lb
from ffbench.cli.board_tables import BoardView, over_all_classes, print_overview, print_ranking
from ffbench.cli.console import err, friendly_errors, out, print_json
from ffbench.cli.examples import examples_epilog
from ffbench.cli.tables import table_width
from ffbench.errors import FFBenchError
from ffbench.grid import suite_grid
from ffbench.prechecks import check_folder_writable
from ffbench.registry import get_registry
from ffbench.submission.board import results_for_update
from ffbench.untrusted import literal

EXAMPLES = examples_epilog(
    (
        "run a suite, then merge its rows into the boards",
        "ffbench run --suite quick --out quick.parquet",
        "ffbench leaderboard update quick.parquet",
    ),
    ("every board in leaderboards/", "ffbench leaderboard show"),
    ("one board, one metric, one layer", "ffbench leaderboard show fashion-mnist-mini --metric sparsity --layer 2"),
    ("for machines (--csv too)", "ffbench leaderboard show --metric accuracy --json"),
    ("what changed between two boards folders", "ffbench leaderboard diff old-boards/ leaderboards/ --markdown"),
    ("static HTML of every board", "ffbench leaderboard site site/ --boards leaderboards"),
)

SHOW_EXAMPLES = examples_epilog(
    ("the headline stats of every board in leaderboards/", "ffbench leaderboard show"),
    ("every stat of one board, still fitted to the terminal", "ffbench leaderboard show fashion-mnist --all"),
    ("one metric's ranking, one layer", "ffbench leaderboard show fashion-mnist --metric sparsity --layer 2"),
    ("only rows a verifier re-ran", "ffbench leaderboard show --verified-only"),
    ("for machines (--csv too)", "ffbench leaderboard show --metric accuracy --json"),
)

app = typer.Typer(
    help="Leaderboards: one Parquet board per dataset in leaderboards/, with a Markdown view.",
    no_args_is_help=True,
    epilog=EXAMPLES,
)

BoardsOpt = Annotated[Path, typer.Option("--boards", help="Folder holding the boards.")]
DEFAULT_BOARDS = Path("leaderboards")


def print_table(table: lb.TextTable, title: str, wrap: tuple[str, ...] = ()) -> None:
    """``table`` on stdout, fitted to the terminal (COLUMNS, or 100 columns when piped): only the
    columns named in ``wrap`` (prose, labels) wrap between words; the others (names, numbers) are
    never broken."""
    out.print(rich_table(table, title, wrap), width=table_width(out))


def rich_table(table: lb.TextTable, title: str, wrap: tuple[str, ...]) -> Table:
    """``table`` as a rich Table; only the columns named in ``wrap`` may wrap."""
    view = Table(title=literal(title), caption=literal(table.note) if table.note else None)
    for header, numeric in zip(table.headers, table.numeric):
        justify = "right" if numeric else "left"
        view.add_column(literal(header), justify=justify, overflow="fold", no_wrap=header not in wrap)
    for row in table.rows:
        view.add_row(*map(literal, row))
    return view


def _machine_rows(df: pd.DataFrame) -> list[dict]:
    return df.astype(object).where(df.notna(), None).to_dict("records")


@app.command()
@friendly_errors
def update(
    results: Annotated[
        list[Path],
        typer.Argument(
            help="Results Parquet files written by `ffbench run`, or submission folders (submissions/NAME) "
            "checked by `ffbench verify`.",
            show_default=False,
        ),
    ],
    boards: BoardsOpt = DEFAULT_BOARDS,
    render: Annotated[bool, typer.Option("--render/--no-render", help="Regenerate the Markdown views.")] = True,
    lock_timeout: Annotated[float, typer.Option(help="Seconds to wait for another update to finish.", min=0)] = 600.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print what happened as JSON.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No per-run decisions on stderr.")] = False,
    allow_dirty: Annotated[
        bool,
        typer.Option(
            "--allow-dirty",
            help="Merge rows of runs made from a checkout with uncommitted changes (git_sha ending in -dirty) "
            "or with no recorded commit; refused otherwise. Their git_sha stays as recorded; the report lists them.",
        ),
    ] = False,
    allow_deferred: Annotated[
        bool,
        typer.Option(
            "--allow-deferred",
            help="Merge a submission's deferred configurations (not re-run: too costly for the verifier's "
            "budget), marked deferred; refused otherwise. Failed submissions are always refused.",
        ),
    ] = False,
) -> None:
    """Merge run results into the boards and re-render their Markdown.

    A newer run of a configuration, seed and metric replaces its rows; every other row stays;
    failed rows are left out. A repeated update changes nothing."""
    check_folder_writable(boards, "leaderboards", "Choose another folder with --boards.")
    log = (lambda message: None) if quiet else (lambda message: err.log(literal(message)))
    with results_for_update(results, allow_deferred, log) as paths:  # a submission: its verified rows
        report = lb.update(
            paths,
            boards,
            render=render,
            lock_timeout=lock_timeout,
            allow_dirty=allow_dirty,
            log=log,
        )
    if as_json:
        print_json(report.as_dict())
        return
    actions = ("added", "replaced", "kept", "superseded", "unchanged")
    table = lb.TextTable(
        "",
        ["board", *actions, "rows", "file"],
        [
            [
                b.name,
                *(str(b.count(a)) for a in actions),
                f"{b.rows_before} -> {b.rows_after}",
                f"{b.path} ({'written' if b.written else 'unchanged'})",
            ]
            for b in report.boards
        ],
        [False] + [True] * 6 + [False],
        f"{len(report.failed)} failed row group(s) not merged" if report.failed else "",
    )
    print_table(table, "Leaderboard update (run x metric units)", wrap=("file",))
    if report.rendered:
        err.log(literal(f"Markdown rewritten: {', '.join(str(p) for p in report.rendered)}"))
    if report.dirty:
        err.log(literal(f"merged with --allow-dirty ({len(report.dirty)} run(s), git_sha kept as recorded)"))


@app.command(epilog=SHOW_EXAMPLES)
@friendly_errors
def show(
    board: Annotated[
        str | None,
        typer.Argument(
            help="Board name (e.g. fashion-mnist-mini) or Parquet path (default: every board in --boards).",
            show_default=False,
        ),
    ] = None,
    metric: Annotated[str | None, typer.Option("--metric", "-m", help="Rank by this metric (name or id).")] = None,
    stat: Annotated[str | None, typer.Option(help="A stat of the metric other than its headline stats.")] = None,
    layer: Annotated[int | None, typer.Option("--layer", "-l", help="Only this layer (1-based).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Ranked rows as JSON on stdout.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Ranked rows as CSV on stdout.")] = False,
    verified_only: Annotated[
        bool,
        typer.Option(
            "--verified-only",
            help="Rank only rows whose verification is 'verified' (rows without one are local runs).",
        ),
    ] = False,
    every_stat: Annotated[
        bool,
        typer.Option(
            "--all",
            help="The overview with every stat over all classes, not only the headline stats (with --json or "
            "--csv: every stat's ranked rows).",
        ),
    ] = False,
    boards: BoardsOpt = DEFAULT_BOARDS,
) -> None:
    """Show boards, ranked by the seeds.

    Without options: an overview, one row per configuration with its ranked headline values (mean ±
    std over seeds), fitted to the terminal (COLUMNS, or 100 columns when piped): short labels with
    a key, a legend line per stat, and columns that do not fit in further tables. --all: every stat.
    With --metric/--stat/--layer: one table per selected value. A rank is 1 + the
    configurations the seeds separate above it (paired t-test over shared seeds, Welch's otherwise;
    two-sided 0.05 per pair; leaderboards/SCHEMA.md); fewer than 3 seeds: preliminary, not ranked;
    descriptive metrics, and time and memory (measured on a shared machine), are listed, not ranked."""
    if as_json and as_csv:
        raise FFBenchError("Choose one of --json and --csv.")
    chosen = metric is not None or stat is not None or layer is not None
    if every_stat and chosen:
        raise FFBenchError("--all shows the overview: use it without --metric, --stat and --layer.")
    if board is not None:
        path = lb.resolve_board(board, boards)
        paths = {path.stem: path}
    else:
        paths = lb.list_boards(boards)
        if not paths:
            raise FFBenchError(
                f"No leaderboards in {boards}. Make one: ffbench run --suite quick --out quick.parquet "
                f"&& ffbench leaderboard update quick.parquet --boards {boards}"
            )
    rows = []
    for name, path in paths.items():
        board = lb.read_board(path)
        if verified_only:
            kept = board["verification"] == "verified" if "verification" in board.columns else False
            board = board[pd.Series(kept, index=board.index, dtype="boolean").fillna(False).to_numpy(dtype=bool)]
            if board.empty:
                err.log(literal(f"{name}: no verified rows."))
                continue
        agg = lb.aggregate(board)
        if as_json or as_csv:  # --all: every stat over all classes, ranked
            ranked = lb.rank(over_all_classes(agg)) if every_stat else lb.select(agg, metric, stat, layer)
            rows.append(lb.records(ranked, name))
        elif chosen:
            print_ranking(out, name, lb.select(agg, metric, stat, layer))
        else:
            print_overview(out, BoardView(name, agg, board, every=every_stat), get_registry())
    if as_json:
        print_json(_machine_rows(pd.concat(rows, ignore_index=True)) if rows else [])
    elif as_csv and rows:
        pd.concat(rows, ignore_index=True).to_csv(sys.stdout, index=False)


@app.command()
@friendly_errors
def diff(
    old: Annotated[Path, typer.Argument(help="The board (or boards folder) before.", show_default=False)],
    new: Annotated[Path, typer.Argument(help="The board (or boards folder) after.", show_default=False)],
    every_cell: Annotated[
        bool,
        typer.Option(
            "--all", help="Every changed value (per class, every stat), not only the headline values over all classes."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Every change as JSON.")] = False,
    markdown: Annotated[bool, typer.Option("--markdown", help="A Markdown summary (for a pull request).")] = False,
) -> None:
    """What changed between two boards (or boards folders), for reviewing an update.

    Values added, removed, changed or re-run with the same numbers, and rank moves of the ranked
    headline values."""
    changes = lb.diff(old, new)
    if as_json:
        print_json(_machine_rows(changes))
        return
    table = lb.diff_table(changes, every_cell)
    if markdown:
        body = lb.markdown_table(table) if table.rows else "No headline value changed."
        sys.stdout.write(f"### {table.title}\n\n{table.note}.\n\n{body}\n")
        return
    if table.rows:
        title = f"{old} -> {new}"
        boards = {row[0] for row in table.rows}
        if len(boards) == 1:  # one board: named in the title, its column left out (the others get the width)
            title = f"{title} (board {boards.pop()})"
            table = dataclasses.replace(
                table, headers=table.headers[1:], rows=[r[1:] for r in table.rows], numeric=table.numeric[1:]
            )
        print_table(table, title, wrap=("configuration", "cell"))
    else:
        out.print(literal(f"No changes shown ({table.note})."), highlight=False)


@app.command()
@friendly_errors
def render(
    boards: BoardsOpt = DEFAULT_BOARDS,
    check: Annotated[
        bool,
        typer.Option("--check", help="Change nothing; exit 1 if any Markdown file is not what its board renders to."),
    ] = False,
) -> None:
    """Regenerate the Markdown views (one .md per board, and README.md) from the Parquet boards."""
    if check:
        stale = lb.stale_markdown(boards)
        if stale:
            err.print(
                literal(
                    f"Out of date or edited by hand: {', '.join(map(str, stale))}. Run `ffbench leaderboard render`."
                ),
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(1)
        err.log(literal(f"Markdown in {boards} matches its boards."))
        return
    written = lb.render_all(boards)
    err.log(
        literal(
            f"{len(written)} Markdown file(s) rewritten in {boards}"
            + (f": {', '.join(p.name for p in written)}" if written else " (all up to date)")
        )
    )


@app.command()
@friendly_errors
def site(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the site into (new, empty, or a former site).")],
    boards: BoardsOpt = DEFAULT_BOARDS,
    figures: Annotated[
        bool, typer.Option("--figures/--no-figures", help="Draw the metrics' figures (the slow part).")
    ] = True,
) -> None:
    """Write a static HTML site of every board in --boards and its sub-folders.

    An index and one page per board: sortable tables (click a header), the figures the metrics
    declare, every seed's values and the provenance on demand. Plain files: open index.html, or
    publish the folder; nothing is fetched at view time."""
    from ffbench.leaderboard.site import build_site  # draws with matplotlib: not loaded at start-up

    check_folder_writable(out_dir, "the site", "Choose another folder.")
    built = build_site(out_dir, boards, figures=figures)
    err.log(literal(f"{len(built.pages)} board page(s) and {built.figures} figure(s) written to {built.out}"))
    out.print(literal(str(built.index)), highlight=False, soft_wrap=True)


@app.command()
@friendly_errors
def suites(as_json: Annotated[bool, typer.Option("--json", help="Suites and their entries as JSON.")] = False) -> None:
    """List the named suites that `ffbench run --suite NAME` runs."""
    registry = get_registry()
    rows, described = [], []
    for suite in registry.list_suites():
        try:
            points = str(len(suite_grid(registry, suite).points))
        except FFBenchError as exc:
            points = f"unavailable: {exc}"
        rows.append([suite.name, suite.version, points, f"{suite.description}\nMetrics: {', '.join(suite.metrics)}."])
        described.append({**suite.describe(), "points": points})
    if as_json:
        print_json(described)
        return
    print_table(
        lb.TextTable("", ["suite", "version", "run points", "what it runs"], rows, [False, False, True, False]),
        "ffbench suites",
        wrap=("what it runs",),
    )
