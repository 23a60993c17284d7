"""`ffbench submit` and `ffbench verify`: make a submission folder from results, and check one by
re-running a seed the verifier draws (docs/submitting.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ffbench.atomic_write import write_text
from ffbench.cli.console import err, out, print_json
from ffbench.cli.examples import examples_epilog
from ffbench.cli.options import DataDirOpt, DeviceOpt, DownloadOpt, QuietOpt
from ffbench.cli.progress import RichReporter
from ffbench.submission import record as rec
from ffbench.submission.manifest import MANIFEST_FILE, RECORD_FILE
from ffbench.submission.submit import submit as make
from ffbench.submission.verify import verify as run_verify
from ffbench.untrusted import literal

SUBMIT_EXAMPLES = examples_epilog(
    ("write submissions/my-rule-fashion/ from your results", "ffbench submit results.parquet --name my-rule-fashion"),
    ("re-run a seed it draws; writes verification.json", "ffbench verify submissions/my-rule-fashion"),
)


def submit(
    results: Annotated[Path, typer.Argument(help="Results written by `ffbench run` (a file or a folder).")],
    name: Annotated[
        str,
        typer.Option(
            "--name",
            help="The submission's name: 3-64 lowercase letters, digits and hyphens; the folder is DIR/NAME.",
            show_default=False,
        ),
    ],
    to: Annotated[Path, typer.Option("--to", help="The submissions folder.")] = Path("submissions"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the manifest's summary as JSON.")] = False,
) -> None:
    """Write a submission folder (rows + manifest with content hashes) from a results file.

    Refuses failed rows, rows run from a modified checkout (dirty git sha) and incomplete
    configurations (a seed or a metric the others have), naming each."""
    folder = make(results, name, to)
    manifest = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
    summary = [
        {
            "configuration": c["display"]["rule"],
            "dataset": c["display"]["dataset"],
            "seeds": c["seeds"],
            "metrics": [m["metric_id"] for m in c["metrics"]],
            "rows": len(c["rows"]),
        }
        for c in manifest["configurations"]
    ]
    if as_json:
        print_json({"folder": str(folder), "rows_sha256": manifest["rows_sha256"], "configurations": summary})
        return
    table = Table(title=literal(f"Submission {folder}"))
    for col in ("configuration", "dataset", "seeds", "metrics", "rows"):
        table.add_column(col, justify="right" if col == "rows" else "left", overflow="fold")
    for s in summary:
        table.add_row(
            literal(str(s["configuration"])),
            literal(str(s["dataset"])),
            ", ".join(map(str, s["seeds"])),
            literal(", ".join(s["metrics"])),
            str(s["rows"]),
        )
    out.print(table)
    err.print(
        literal(
            f"Next: ffbench verify {folder}  (then open a pull request adding {folder}/ with "
            "manifest.json and rows.parquet; CI writes verification.json)"
        ),
        highlight=False,
        soft_wrap=True,
    )


def verify(
    folder: Annotated[Path, typer.Argument(help="A submission folder, e.g. submissions/NAME.")],
    budget: Annotated[
        float,
        typer.Option(
            help="Seconds of re-runs allowed; a configuration whose estimated cost does not fit what is left "
            "is deferred, never verified.",
            min=0,
        ),
    ] = 1800.0,
    device: DeviceOpt = "cpu",
    threads: Annotated[
        int | None,
        typer.Option(
            help="torch threads for the re-runs. [default: each seed's submitted thread count, so that the "
            "values can be identical]",
            min=1,
            show_default=False,
        ),
    ] = None,
    boards: Annotated[
        Path,
        typer.Option("--boards", help="Boards whose seed std caps the tolerance (skipped where none exists)."),
    ] = Path("leaderboards"),
    install: Annotated[
        bool,
        typer.Option("--install", help="pip install the plugin distributions the manifest names at their versions."),
    ] = False,
    salt: Annotated[
        str, typer.Option(help="Text mixed into the seed draw (e.g. a merge commit), recorded in the record.")
    ] = "",
    data_dir: DataDirOpt = None,
    download: DownloadOpt = True,
    record_path: Annotated[
        Path | None,
        typer.Option("--record", help="Where the verification record goes. [default: FOLDER/verification.json]"),
    ] = None,
    summary: Annotated[
        Path | None, typer.Option("--summary", help="Also write the record as Markdown here (for a PR comment).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the record as JSON on stdout.")] = False,
    quiet: QuietOpt = False,
) -> None:
    """Verify a submission: check its rows against its manifest, re-run one seed per configuration
    (drawn from the manifest's hash) and compare every value; write the verification record.

    Exit code 0 when verified or deferred (too costly for --budget; never counted as verified),
    1 when it failed."""
    log = (lambda message: None) if quiet else (lambda message: err.log(literal(message)))
    with RichReporter(quiet=quiet) as reporter:
        record = run_verify(
            folder,
            budget=budget,
            device=str(device),
            threads=threads,
            boards_dir=boards if boards.is_dir() else None,
            install=install,
            salt=salt,
            data_dir=data_dir,
            download=download,
            reporter=reporter,
            log=log,
        )
    target = record_path or folder / RECORD_FILE
    rec.write(record, target)
    if summary is not None:
        write_text(summary, rec.markdown(record))
    if as_json:
        print_json(record)
    else:
        table = Table(title=literal(f"ffbench verify {folder}: {record['status']}"), caption=literal(record["reason"]))
        for col in ("configuration", "drawn seed", "status", "comparison", "values", "reason"):
            table.add_column(col, overflow="fold")
        for c in record["configurations"]:
            mode = c["mode"] or "-"
            if c["mode"] == "exact":
                mode += ", identical" if c["identical"] else ", not identical"
            table.add_row(
                literal(c["label"]),
                str(c["drawn_seed"]),
                c["status"],
                mode,
                str(len(c["values"])),
                literal(c["reason"]),
            )
        out.print(table)
        for problem in record["integrity"]:
            err.print(literal(f"integrity: {problem}"), highlight=False, soft_wrap=True)
        for d in record["distributions"]:
            if not d["ok"]:
                err.print(
                    literal(f"distribution {d['name']}=={d['version']}: installed {d['installed']}"), highlight=False
                )
        if not quiet:
            err.log(literal(f"record written to {target}"))
    if record["status"] == "failed":
        raise typer.Exit(1)
