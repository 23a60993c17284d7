"""`ffbench bench`: trainer throughput vs this machine's matmul peak and vs the same algorithm
written the straightforward way; with --quality, the fast path's and the baseline's accuracy
and sparsity on real data."""

from __future__ import annotations

import statistics
from typing import Annotated, Any

import torch
import typer
from rich.table import Table

from ffbench.bench import bench_case, build_case, compare_quality, synthetic_bundle
from ffbench.cli.console import err, out, print_json
from ffbench.cli.examples import examples_epilog
from ffbench.cli.options import Clock, DataDirOpt, DeviceOpt, DownloadOpt, PrecisionOpt
from ffbench.defaults import DEFAULTS, default_of
from ffbench.errors import FFBenchError
from ffbench.grid import split_specs
from ffbench.precision import check_device, tf32_matmuls
from ffbench.registry import get_registry
from ffbench.untrusted import literal

EXAMPLES = examples_epilog(
    ("ff greedy, 8192 x 784 -> 3 x 1000, batch 1024, fixed negatives", "ffbench bench"),
    ("four rules, as JSON", 'ffbench bench --rule ff,"ff[schedule=simultaneous]",bp-ff,bp --json'),
    ("also 10 seeds trained together as one stacked model", "ffbench bench --seeds 10"),
    ("fast path vs baseline: accuracy and sparsity, 3 seeds each", "ffbench bench --quality 3"),
    ("TF32 matmuls on a GPU", "ffbench bench --device cuda --precision tf32 --samples 60000"),
    ("bf16 on a CPU with native bf16 matmuls, beside fp32", "ffbench bench --precision bf16 --rule ff,bp"),
    (
        "a rule that declares no FLOP count: FLOPs from torch's counter",
        "ffbench bench --goodness dimcompress --negatives none --count-flops",
    ),
)


def _shape(text: str) -> tuple[int, int, int]:
    try:
        c, h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise FFBenchError(f"--shape must be CxHxW, e.g. 1x28x28 or 3x32x32, not '{text}'.") from None
    return c, h, w


def bench(
    rule: Annotated[
        list[str] | None,
        typer.Option(
            "--rule",
            "-r",
            help="Rules to time, comma-separated or repeated: any installed rule. FLOPs and the baseline speed-up "
            "where the rule declares them (built-ins ff, bp-ff, bp do); other rules get time and samples/s. "
            f"[default: {default_of('rule')}]",
        ),
    ] = None,
    goodness: Annotated[
        str,
        typer.Option(
            "--goodness",
            "-g",
            help="Goodness function of rules that read one, e.g. l2, or dimcompress (self-supervised: timed, "
            "FLOPs not counted).",
        ),
    ] = DEFAULTS["goodness"][0],
    negatives: Annotated[
        str,
        typer.Option(
            "--negatives", "-n", help="Negatives of ff and bp-ff, e.g. wrong-label, 'wrong-label[resample=true]', hard."
        ),
    ] = DEFAULTS["negatives"][0],
    batch_size: Annotated[
        list[str] | None,
        typer.Option(
            "--batch-size", "-b", help="Batch size(s), comma-separated: one configuration each. [default: 1024]"
        ),
    ] = None,
    width: Annotated[int, typer.Option(help="Units per hidden layer.", min=1)] = 1000,
    layers: Annotated[int, typer.Option(help="Hidden layers.", min=1)] = 3,
    epochs: Annotated[int, typer.Option(help="Epochs (ff greedy: per layer).", min=1)] = 2,
    samples: Annotated[int, typer.Option(help="Synthetic training images (random, normalised).", min=1)] = 8192,
    shape: Annotated[str, typer.Option(help="Image shape CxHxW of the synthetic data.")] = "1x28x28",
    seeds: Annotated[
        int, typer.Option(help="Also time this many seeds trained together (rules that stack seeds).", min=1)
    ] = 1,
    peak_size: Annotated[
        int,
        typer.Option(
            help="Side of the square matmul of the peak measurement (the layers' own shapes are measured too).", min=1
        ),
    ] = 2048,
    repeats: Annotated[int, typer.Option(help="Interleaved repeats; the fastest of each is reported.", min=1)] = 3,
    baseline: Annotated[
        bool, typer.Option("--baseline/--no-baseline", help="Also time the straightforward baseline.")
    ] = True,
    device: DeviceOpt = "auto",
    threads: Annotated[int | None, typer.Option(help="torch CPU threads (default: torch's choice).", min=1)] = None,
    precision: PrecisionOpt = "fp32",
    vs_fp32: Annotated[
        bool,
        typer.Option(
            "--vs-fp32/--no-vs-fp32",
            help="With --precision bf16: also time the same work in fp32 (fit, baseline, peak) in the same "
            "repeats and report both and the speed-up.",
        ),
    ] = True,
    clock: Annotated[
        Clock,
        typer.Option(
            help="wall: elapsed seconds; thread: CPU seconds of the calling thread (with --threads 1 on a CPU "
            "shared with other jobs: the time the work computed, not the time it waited for a core)."
        ),
    ] = "wall",
    count_flops: Annotated[
        bool,
        typer.Option(
            "--count-flops",
            help="For a rule that declares no FLOP count (e.g. ff with --goodness dimcompress): count its matmul "
            "FLOPs with torch's FLOP counter on one extra, untimed fit, and report GFLOP/s and the ratio to peak.",
        ),
    ] = False,
    compile_: Annotated[bool, typer.Option("--compile", help="torch.compile the rules' hot functions.")] = False,
    quality: Annotated[
        int,
        typer.Option(
            help="Instead of timing: train this many seeds with the fast path and with the baseline on "
            "--quality-dataset and compare accuracy and sparsity.",
            min=0,
        ),
    ] = 0,
    quality_dataset: Annotated[str, typer.Option(help="Dataset of --quality.")] = DEFAULTS["dataset"][0],
    quality_metrics: Annotated[
        str, typer.Option(help="Metrics --quality compares (each one's first headline stat, per layer).")
    ] = default_of("metric"),
    data_dir: DataDirOpt = None,
    download: DownloadOpt = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list of result objects on stdout.")] = False,
) -> None:
    """Time the trainers on synthetic data: samples/s, analytically counted FLOPs per epoch, achieved
    GFLOP/s and its ratio to a dense matmul peak measured in the same run and precision, peak memory,
    and the speed-up over the same rule written the usual way, timed in the same run
    (benchmarks/README.md)."""
    check_device(precision, device)  # bf16 on a CPU: only with native bfloat16 matmuls (timing: any rule)
    if not quality and (data_dir is not None or not download):
        raise FFBenchError("--data-dir and --no-download are read by --quality only; the timing uses synthetic data.")
    if threads:
        torch.set_num_threads(threads)
    registry = get_registry()
    try:
        sizes = [int(b) for b in split_specs(batch_size or ["1024"])]
    except ValueError:
        raise FFBenchError(f"--batch-size takes whole numbers, not {batch_size}.") from None
    cases = [  # every case built (and refused) before anything is timed
        build_case(
            registry, spec, goodness, negatives, {"width": width, "layers": layers, "epochs": epochs, "batch_size": bs}
        )
        for spec in split_specs(rule or list(DEFAULTS["rule"]))
        for bs in sizes
    ]
    log = (lambda m: None) if as_json else err.log
    if quality:  # as `ffbench run` loads it: --data-dir, --download/--no-download
        data = registry.build("dataset", quality_dataset).load(data_dir, download)
        data.train, data.test = data.train.to(device), data.test.to(device)
        metrics = [registry.build("metric", m) for m in split_specs([quality_metrics])]
    else:
        data = synthetic_bundle(samples, _shape(shape), device=device)
        log(f"{samples} synthetic {shape} images on {device}, {torch.get_num_threads()} thread(s), {repeats} repeat(s)")
    rows: list[dict[str, Any]] = []
    with tf32_matmuls(precision == "tf32"):  # torch's TF32 flags as they were once the benchmark ends
        for case in cases:
            if quality:
                rows += compare_quality(case, data, device, quality, metrics, log=log)
            else:
                rows.append(
                    bench_case(
                        case,
                        data,
                        device,
                        repeats=repeats,
                        seeds=seeds,
                        baseline=baseline,
                        precision=precision,
                        compile_=compile_,
                        peak_size=peak_size,
                        vs_fp32=vs_fp32,
                        count=count_flops,
                        clock=clock,
                        log=log,
                    )
                )
    if as_json:
        print_json(rows)
    else:
        out.print(_quality_table(rows) if quality else _timing_table(rows))


#: the timing table's columns: header, row key, format ("x": a ratio printed as 1.23x)
TIMING_COLUMNS = (
    ("rule", "rule", ""),
    ("batch", "batch_size", ""),
    ("samples/s", "samples_per_s", ",.0f"),
    ("GFLOP/epoch", "gflop_per_epoch", ".1f"),
    ("precision", "precision", ""),
    ("GFLOP/s", "achieved_gflops", ".1f"),
    ("peak GFLOP/s", "peak_gflops", ".1f"),
    ("of peak", "ratio_to_peak", ".0%"),
    ("fp32 GFLOP/s", "fp32_achieved_gflops", ".1f"),
    ("fp32 peak", "fp32_peak_gflops", ".1f"),
    ("fp32 of peak", "fp32_ratio_to_peak", ".0%"),
    ("peak MB", "peak_memory_mb", ",.0f"),
    ("baseline samples/s", "baseline_samples_per_s", ",.0f"),
    ("baseline GFLOP/epoch", "baseline_gflop_per_epoch", ".1f"),
    ("speed-up", "speedup", "x"),
    ("seeds", "seeds", ""),
    ("stacked / 1 seed", "stacked_cost_ratio", "x"),
    ("vs fp32", "speedup_vs_fp32", "x"),
)
#: the columns shown only where bf16 was timed beside fp32 (the same work in the same repeats)
BESIDE_FP32 = {"precision", "fp32 GFLOP/s", "fp32 peak", "fp32 of peak", "vs fp32"}


def _cell(value: Any, spec: str) -> str:
    if value is None:
        return "-"
    return literal(f"{value:.2f}x" if spec == "x" else format(value, spec))


def _timing_table(rows: list[dict[str, Any]]) -> Table:
    clock = "; seconds: CPU time of the calling thread" if any(r.get("clock") == "thread" for r in rows) else ""
    table = Table(
        title=f"ffbench bench (FLOPs: matmul FLOPs each implementation performs; fastest of the repeats{clock})"
    )
    both = any(r.get("speedup_vs_fp32") is not None for r in rows)
    columns = [c for c in TIMING_COLUMNS if both or c[0] not in BESIDE_FP32]
    for header, _, _ in columns:
        table.add_column(header, justify="left" if header == "rule" else "right")
    for r in rows:
        table.add_row(*(_cell(r.get(key), spec) for _, key, spec in columns))
    return table


def _quality_table(rows: list[dict[str, Any]]) -> Table:
    fixed = {"rule", "rule_identity", "path", "seed", "train_seconds"}
    stats = [k for k in rows[0] if k not in fixed]
    table = Table(title="fast path vs baseline (mean ± sd over seeds)")
    for col in ["rule", "path", "seeds", *stats, "train s"]:
        table.add_column(col, justify="left" if col in ("rule", "path") else "right")
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["rule"], r["path"]), []).append(r)
    for (rule, path), group in groups.items():
        cells = []
        for stat in stats + ["train_seconds"]:
            values = [g[stat] for g in group]
            sd = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(
                f"{statistics.mean(values):.4f} ± {sd:.4f}"
                if stat != "train_seconds"
                else f"{statistics.mean(values):.1f}"
            )
        table.add_row(literal(rule), path, str(len(group)), *cells)
    return table
