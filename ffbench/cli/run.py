"""`ffbench run`: expand a grid, train, compute metrics, append tidy rows to Parquet."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ffbench.cache import ModelCache
from ffbench.cli.console import err, literal, print_json
from ffbench.cli.examples import examples_epilog
from ffbench.cli.options import (
    DataDirOpt,
    DeviceOpt,
    DownloadOpt,
    Executor,
    PrecisionOpt,
    Preset,
    QuietOpt,
    StackSeeds,
)
from ffbench.cli.progress import RichReporter
from ffbench.cli.run_summary import print_next_steps, print_summary
from ffbench.defaults import DEFAULTS, default_of
from ffbench.errors import FFBenchError
from ffbench.executors import make_executor
from ffbench.grid import check_seed_option, expand_grid, split_specs, suite_grid
from ffbench.prechecks import check_run_outputs
from ffbench.precision import check_device, check_rules
from ffbench.registry import get_registry
from ffbench.results import newest_runs, to_frame
from ffbench.runner import Runner, RunOptions, completed_points, point_keys

EXAMPLES = examples_epilog(
    ("ff on the Fashion-MNIST subset shipped with ffbench (quick preset)", "ffbench run"),
    ("one metric", "ffbench run --rule ff --metric sparsity"),
    ("a grid: 2 epoch settings x 3 seeds = 6 run points", "ffbench run --rule ff --param ff.epochs=5,20 --seeds 3"),
    (
        "a rule's parameters in brackets; two goodness functions",
        'ffbench run --rule "ff[schedule=simultaneous]" --goodness l2,sumsq',
    ),
    (
        "the papers' settings on all of Fashion-MNIST, on a GPU",
        "ffbench run --preset paper -d fashion-mnist --device cuda -o paper.parquet",
    ),
    ("a named suite, for leaderboards", "ffbench run --suite quick --out quick.parquet"),
    ("only the suite's bp points", "ffbench run --suite zoo --rule bp --out zoo.parquet"),
    ("only the suite's cost metric", "ffbench run --suite zoo --metric cost --out zoo.parquet"),
    (
        "5 seeds of ff and bp on 4 Dask workers, skipping points already run",
        "ffbench run --rule ff,bp --seeds 5 --executor dask --workers 4 --resume",
    ),
)

ListOpt = list[str] | None


def ignored_choices(grid, goodness: ListOpt, negatives: ListOpt) -> list[str]:
    """Notices for an explicit --goodness / --negatives that no rule of the grid reads."""
    rules = sorted({p.rule.short_identity for p in grid.points})
    notes = []
    for flag, given, reads in (("--goodness", goodness, "uses_goodness"), ("--negatives", negatives, "uses_negatives")):
        if given and grid.points and not any(getattr(p.rule, reads) for p in grid.points):
            notes.append(
                f"notice: {flag} {','.join(given)} is ignored: the rule(s) {', '.join(rules)} read no "
                f"{flag[2:]} (rows show '-')."
            )
    return notes


#: the scale-out options that one executor reads, by executor
READ_ONLY_BY = {
    "slurm": (
        "--cluster-config",
        "--slurm-queue",
        "--slurm-walltime",
        "--slurm-memory",
        "--slurm-gpus",
        "--slurm-jobs",
    ),
    "dask": ("--workers", "--scheduler"),
}


def refuse_unread_options(executor: str, given: dict[str, object]) -> None:
    """Refuse, before anything runs, the scale-out options in ``given`` (flag -> value, None where
    not given) that ``executor`` would ignore, naming them, the executor in use and the one that
    reads them. (--workers or --scheduler with slurm: ``make_executor`` says how slurm is sized.)"""
    for reader, flags in READ_ONLY_BY.items():
        unread = [f for f in flags if given.get(f) is not None]
        if not unread or executor == reader or (reader, executor) == ("dask", "slurm"):
            continue
        them = "it" if len(unread) == 1 else "them"
        raise FFBenchError(
            f"{' and '.join(unread)} {'is' if len(unread) == 1 else 'are'} read by --executor {reader} only; "
            f"this run uses --executor {executor}, which would ignore {them}. Use --executor {reader}, or drop "
            f"{them}. Nothing was run."
        )


def run(
    rule: Annotated[
        ListOpt,
        typer.Option(
            "--rule",
            "-r",
            help="Learning rule(s): name or name[k=v,...]; comma-separated or repeated. "
            f"[default: {default_of('rule')}]",
        ),
    ] = None,
    goodness: Annotated[
        ListOpt, typer.Option("--goodness", "-g", help=f"Goodness function(s). [default: {default_of('goodness')}]")
    ] = None,
    negatives: Annotated[
        ListOpt,
        typer.Option(
            "--negatives",
            "-n",
            help="Negative-sample generator(s); 'none' for goodness functions that need none. "
            f"[default: {default_of('negatives')}]",
        ),
    ] = None,
    dataset: Annotated[
        ListOpt,
        typer.Option(
            "--dataset",
            "-d",
            help=f"Dataset(s). [default: {default_of('dataset')} (a Fashion-MNIST subset shipped with ffbench: no "
            "download)]",
        ),
    ] = None,
    metric: Annotated[
        ListOpt,
        typer.Option("--metric", "-m", help=f"Metric(s) computed for every point. [default: {default_of('metric')}]"),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(help="First seed. [default: 0; with --suite the suite's first seed]", show_default=False),
    ] = None,
    seeds: Annotated[
        int | None,
        typer.Option(
            help="Number of seeds: seed, seed+1, ... (a grid axis). [default: 1; with --suite the suite's "
            "seeds: --seeds N replaces them with seed..seed+N-1, e.g. --suite paper-fashion --seeds 10; "
            "--seed S alone keeps their number from S]",
            min=1,
            show_default=False,
        ),
    ] = None,
    preset: Annotated[
        Preset,
        typer.Option(
            help="quick: fewer epochs, smaller batches (minutes on a laptop); paper: the papers' settings "
            "(docs/science.md)."
        ),
    ] = "quick",
    param: Annotated[
        ListOpt,
        typer.Option(
            "--param",
            "-p",
            help="TARGET.KEY=VALUE[,VALUE...]; target: a kind (every chosen one), a component name, or "
            "KIND:NAME for a name that two chosen kinds share (e.g. goodness:symba.alpha=2); several values add "
            "a grid axis.",
        ),
    ] = None,
    out_path: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="Where results go: a FILE.parquet (one file; each point is appended as a part and merged in "
            "when the run ends) or a FOLDER (a Parquet dataset of part files, one per point; read by pandas, "
            "pyarrow and DuckDB as one table). Appended, never rewritten; where a point runs again, ffbench's "
            "readers count its newest run. Artifacts go next to it.",
        ),
    ] = Path("ffbench-results.parquet"),
    device: DeviceOpt = "auto",
    precision: PrecisionOpt = "fp32",
    compile_: Annotated[
        bool, typer.Option("--compile", help="torch.compile the rules' hot functions (opt-in; recorded per row).")
    ] = False,
    stack_seeds: Annotated[
        StackSeeds,
        typer.Option(
            "--stack-seeds",
            help="Train the seeds of a configuration together as one stacked model when the rule supports it: "
            "auto (on CUDA only), on, off.",
        ),
    ] = "auto",
    data_dir: DataDirOpt = None,
    download: DownloadOpt = True,
    cache: Annotated[
        bool,
        typer.Option("--cache/--no-cache", help="Reuse trained models cached for the same configuration and code."),
    ] = True,
    suite: Annotated[
        str | None,
        typer.Option(
            help="Run a named, versioned suite of run points (see `ffbench leaderboard suites`) instead of "
            "--rule/--goodness/... ; with --rule, only the suite's points of those rules, with --metric only those "
            "of its metrics (e.g. to rerun one "
            "rule after its version changed)."
        ),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Skip run points whose metrics already have ok rows in --out (same config hash, seed included, "
            "same precision).",
        ),
    ] = False,
    executor: Annotated[
        Executor,
        typer.Option(
            help="local (in process), dask (a LocalCluster, or --scheduler), or slurm (dask-jobqueue).",
            rich_help_panel="Scale out",
        ),
    ] = "local",
    workers: Annotated[
        int | None,
        typer.Option(help="Dask LocalCluster workers (default: CPU count).", min=1, rich_help_panel="Scale out"),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="Address of an existing Dask scheduler, e.g. tcp://127.0.0.1:8786.", rich_help_panel="Scale out"
        ),
    ] = None,
    cluster_config: Annotated[
        Path | None,
        typer.Option(
            "--cluster-config",
            help="YAML/JSON file of SLURMCluster options (queue, walltime, memory, gpus, jobs, ...).",
            rich_help_panel="Scale out",
        ),
    ] = None,
    slurm_queue: Annotated[str | None, typer.Option(help="SLURM partition.", rich_help_panel="Scale out")] = None,
    slurm_walltime: Annotated[
        str | None, typer.Option(help="Walltime per job, e.g. 02:00:00.", rich_help_panel="Scale out")
    ] = None,
    slurm_memory: Annotated[
        str | None, typer.Option(help="Memory per job, e.g. 16GB.", rich_help_panel="Scale out")
    ] = None,
    slurm_gpus: Annotated[int | None, typer.Option(help="GPUs per job.", rich_help_panel="Scale out")] = None,
    slurm_jobs: Annotated[
        int | None, typer.Option(help="Number of SLURM jobs (workers) to start.", rich_help_panel="Scale out")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the tidy rows as JSON on stdout instead of a table.")
    ] = False,
    quiet: QuietOpt = False,
) -> None:
    """Train every point of a grid and compute metrics; append tidy rows with provenance to Parquet."""
    check_seed_option(seed or 0, seeds or 1)  # before any grid is built: huge or negative seeds, huge --seeds
    slurm = {
        "queue": slurm_queue,
        "walltime": slurm_walltime,
        "memory": slurm_memory,
        "gpus": slurm_gpus,
        "jobs": slurm_jobs,
    }
    given = {"--cluster-config": cluster_config, "--workers": workers, "--scheduler": scheduler}
    refuse_unread_options(executor, given | {f"--slurm-{k}": v for k, v in slurm.items()})
    registry = get_registry()
    extra_columns: dict[str, str] = {}
    if suite:
        mixed = [
            flag
            for flag, v in (
                ("--goodness", goodness),
                ("--negatives", negatives),
                ("--dataset", dataset),
                ("--param", param),
            )
            if v
        ]
        if mixed:
            raise FFBenchError(
                f"--suite {suite} defines its own run points; drop {', '.join(mixed)} "
                "(--rule NAME keeps only the suite's points of that rule, --metric NAME only that metric)."
            )
        chosen = registry.get_suite(suite)
        # --seeds N (from --seed, default 0) replaces the suite's seeds; --seed S alone shifts them to S, S+1, ...
        count = seeds or max(len(e.seeds) for e in chosen.entries)
        own_seeds = None if seed is None and seeds is None else tuple(range(seed or 0, (seed or 0) + count))
        grid = suite_grid(
            registry,
            chosen,
            own_seeds,
            rules=split_specs(rule) if rule else None,
            metrics=split_specs(metric) if metric else None,
        )
        extra_columns = {"suite": chosen.name, "suite_version": chosen.version}
    else:
        grid = expand_grid(
            registry,
            rules=rule or list(DEFAULTS["rule"]),
            goodness=goodness or list(DEFAULTS["goodness"]),
            negatives=negatives or list(DEFAULTS["negatives"]),
            datasets=dataset or list(DEFAULTS["dataset"]),
            metrics=metric or list(DEFAULTS["metric"]),
            seeds=range(seed or 0, (seed or 0) + (seeds or 1)),
            params=param or [],
            preset=preset,
        )
        grid.notes.extend(ignored_choices(grid, goodness, negatives))
    for note in grid.notes:
        err.log(literal(note))
    opts = RunOptions(
        out=out_path.resolve(),
        device=device,
        data_dir=data_dir,
        download=download,
        cache=ModelCache(enabled=cache),
        extra_columns=extra_columns,
        precision=precision,
        compile=compile_,
        stack_seeds=stack_seeds,
    )
    check_device(precision, opts.device)  # bf16 on a CPU: native bfloat16 matmuls, and verified rules only
    check_rules(precision, opts.device, (p.rule for p in grid.points))
    check_run_outputs(opts.out, opts.artifacts_dir, opts.cache.root if cache else None, len(grid.points))
    if not quiet:
        err.log(
            f"{len(grid.points)} run point(s) x {len(grid.metrics)} metric(s) on {opts.device}; "
            f"results -> {literal(opts.out)}"
        )
    # points of this grid that already have rows in --out: a rerun appends a newer run of them
    # keyed by (config hash, precision): a bf16 run of a point with float32 rows is no rerun
    earlier = set() if resume else set(completed_points(opts.out))
    pool = None
    if executor != "local":
        pool = make_executor(
            executor,
            workers=workers,
            scheduler=scheduler,
            cluster_config=cluster_config,
            slurm={k: v for k, v in slurm.items() if v is not None},
        )
    with RichReporter(quiet=quiet) as reporter:
        if pool is None:
            rows = Runner(registry, opts, reporter).run(grid, resume=resume)
        else:
            with pool:
                rows = Runner(registry, opts, reporter).run(grid, executor=pool, resume=resume)
    if not rows:
        err.print(
            "Nothing to run: every run point already has its rows (--resume)."
            if resume
            else "Nothing to run: the selection holds no run point."
        )
        return
    df = newest_runs(to_frame(rows))  # the rule every reader of results uses (one row set per unit)
    if as_json:
        print_json(df.astype(object).where(df.notna(), None).to_dict("records"))
    else:
        print_summary(df, registry)
    if not quiet:  # at the end too: the start's "results ->" line has scrolled away by now
        again = df.loc[[key in earlier for key in point_keys(df)], "run_id"].nunique()
        print_next_steps(err, opts.out, df["run_id"].nunique(), reporter.elapsed, again)
    failed = df.loc[df["status"] == "failed", "run_id"].nunique()
    if failed:
        err.print(
            f"[red]{failed} of {df['run_id'].nunique()} run point(s) had failures[/red] "
            f"(see the 'error' column in {literal(opts.out)})."
        )
        raise typer.Exit(1)
