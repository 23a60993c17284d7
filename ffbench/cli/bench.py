"""`ffbench bench`: trainer throughput vs this machine's matmul peak and vs the same algorithm
written the straightforward way; with --quality, the fast path's and the baseline's accuracy
and sparsity on real data."""

from __future__ import annotations

import statistics
from typing import Annotated, Any

import torch
import typer
from rich.table import Table

from ffbench.cli.console import err, out, print_json
from ffbench.errors import FFBenchError
from ffbench.grid import split_specs
from ffbench.provenance import resolve_device
from ffbench.untrusted import literal

EXAMPLES = """
Examples:

  ffbench bench                                    # ff greedy, 8192 x 784 -> 3 x 1000, batch 1024, fixed negatives

  ffbench bench --rule ff,"ff[schedule=simultaneous]",bp-ff,bp --json

  ffbench bench --seeds 10                         # also 10 seeds trained together as one stacked model

  ffbench bench --quality 3 --samples 0            # fast path vs baseline: accuracy and sparsity, 3 seeds each

  ffbench bench --device cuda --precision tf32 --samples 60000

  ffbench bench --precision bf16 --rule ff,bp     # bf16 on a CPU with native bf16 matmuls, beside fp32

  ffbench bench --goodness dimcompress --negatives none --count-flops   # FLOPs from torch's counter
"""


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
            "[default: ff]",
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
    ] = "l2",
    negatives: Annotated[
        str,
        typer.Option(
            "--negatives", "-n", help="Negatives of ff and bp-ff, e.g. wrong-label, 'wrong-label[resample=true]', hard."
        ),
    ] = "wrong-label",
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
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    threads: Annotated[int | None, typer.Option(help="torch CPU threads (default: torch's choice).", min=1)] = None,
    precision: Annotated[
        str,
        typer.Option(
            help="fp32; tf32 (CUDA); bf16 (CUDA, or a CPU with native bfloat16 matmuls). The peak is measured "
            "in the same precision."
        ),
    ] = "fp32",
    vs_fp32: Annotated[
        bool,
        typer.Option(
            "--vs-fp32/--no-vs-fp32",
            help="With --precision bf16: also time the same work in fp32 (fit, baseline, peak) in the same "
            "repeats and report both and the speed-up.",
        ),
    ] = True,
    clock: Annotated[
        str,
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
    quality_dataset: Annotated[str, typer.Option(help="Dataset of --quality.")] = "fashion-mnist-mini",
    quality_metrics: Annotated[
        str, typer.Option(help="Metrics --quality compares (each one's first headline stat, per layer).")
    ] = "accuracy,sparsity",
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list of result objects on stdout.")] = False,
) -> None:
    """Time the trainers on synthetic data: samples/s, analytically counted FLOPs per epoch, achieved
    GFLOP/s and its ratio to a dense matmul peak measured in the same run, peak memory, and the
    speed-up over the same rule written the usual way, timed in the same run (benchmarks/README.md)."""
    from ffbench.bench import bench_case, build_case, compare_quality, synthetic_bundle
    from ffbench.precision import check_device
    from ffbench.registry import get_registry

    dev = resolve_device(device)
    check_device(precision, dev)  # bf16 on a CPU: only with native bfloat16 matmuls (timing: any rule)
    if precision == "tf32":
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    if threads:
        torch.set_num_threads(threads)
    registry = get_registry()
    try:
        sizes = [int(b) for b in split_specs(batch_size or ["1024"])]
    except ValueError:
        raise FFBenchError(f"--batch-size takes whole numbers, not {batch_size}.") from None
    log = (lambda m: None) if as_json else err.log
    rows: list[dict[str, Any]] = []
    if quality:
        data = registry.build("dataset", quality_dataset).load()
        data.train, data.test = data.train.to(dev), data.test.to(dev)
        for spec in split_specs(rule or ["ff"]):
            for bs in sizes:
                case = build_case(
                    registry,
                    spec,
                    goodness,
                    negatives,
                    {"width": width, "layers": layers, "epochs": epochs, "batch_size": bs},
                )
                metrics = [registry.build("metric", m) for m in split_specs([quality_metrics])]
                rows += compare_quality(case, data, dev, quality, metrics, log=log)
        if as_json:
            print_json(rows)
        else:
            out.print(_quality_table(rows))
        return
    data = synthetic_bundle(samples, _shape(shape), device=dev)
    log(f"{samples} synthetic {shape} images on {dev}, {torch.get_num_threads()} thread(s), {repeats} repeat(s)")
    for spec in split_specs(rule or ["ff"]):
        for bs in sizes:
            case = build_case(
                registry,
                spec,
                goodness,
                negatives,
                {"width": width, "layers": layers, "epochs": epochs, "batch_size": bs},
            )
            rows.append(
                bench_case(
                    case,
                    data,
                    dev,
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
        out.print(_timing_table(rows))


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _timing_table(rows: list[dict[str, Any]]) -> Table:
    clock = "; seconds: CPU time of the calling thread" if any(r.get("clock") == "thread" for r in rows) else ""
    table = Table(
        title=f"ffbench bench (FLOPs: matmul FLOPs each implementation performs; fastest of the repeats{clock})"
    )
    cols = [
        "rule",
        "batch",
        "samples/s",
        "GFLOP/epoch",
        "GFLOP/s",
        "peak GFLOP/s",
        "of peak",
        "peak MB",
        "baseline samples/s",
        "baseline GFLOP/epoch",
        "speed-up",
        "seeds",
        "stacked / 1 seed",
    ]
    both = any(r.get("speedup_vs_fp32") is not None for r in rows)
    if both:  # bf16 beside fp32 (same work, same repeats)
        cols[4:7] = ["precision", "GFLOP/s", "peak GFLOP/s", "of peak", "fp32 GFLOP/s", "fp32 peak", "fp32 of peak"]
        cols += ["vs fp32"]
    for col in cols:
        table.add_column(col, justify="left" if col == "rule" else "right")
    for r in rows:
        if both:
            table.add_row(*_both_cells(r))
            continue
        table.add_row(
            literal(r["rule"]),
            str(r["batch_size"]),
            _fmt(r["samples_per_s"], ",.0f"),
            _fmt(r["gflop_per_epoch"], ".1f"),
            _fmt(r["achieved_gflops"], ".1f"),
            _fmt(r["peak_gflops"], ".1f"),
            _fmt(r["ratio_to_peak"], ".0%"),
            _fmt(r["peak_memory_mb"], ",.0f"),
            _fmt(r["baseline_samples_per_s"], ",.0f"),
            _fmt(r["baseline_gflop_per_epoch"], ".1f"),
            "-" if r["speedup"] is None else f"{r['speedup']:.2f}x",
            str(r["seeds"]),
            "-" if r["stacked_cost_ratio"] is None else f"{r['stacked_cost_ratio']:.2f}x",
        )
    return table


def _both_cells(r: dict[str, Any]) -> list[str]:
    """A row of the timing table with fp32 beside the run's precision."""
    return [
        literal(r["rule"]),
        str(r["batch_size"]),
        _fmt(r["samples_per_s"], ",.0f"),
        _fmt(r["gflop_per_epoch"], ".1f"),
        r["precision"],
        _fmt(r["achieved_gflops"], ".1f"),
        _fmt(r["peak_gflops"], ".1f"),
        _fmt(r["ratio_to_peak"], ".0%"),
        _fmt(r.get("fp32_achieved_gflops"), ".1f"),
        _fmt(r.get("fp32_peak_gflops"), ".1f"),
        _fmt(r.get("fp32_ratio_to_peak"), ".0%"),
        _fmt(r["peak_memory_mb"], ",.0f"),
        _fmt(r["baseline_samples_per_s"], ",.0f"),
        _fmt(r["baseline_gflop_per_epoch"], ".1f"),
        "-" if r["speedup"] is None else f"{r['speedup']:.2f}x",
        str(r["seeds"]),
        "-" if r["stacked_cost_ratio"] is None else f"{r['stacked_cost_ratio']:.2f}x",
        "-" if r.get("speedup_vs_fp32") is None else f"{r['speedup_vs_fp32']:.2f}x",
    ]


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
