"""`ffbench bench`: trainer throughput vs this machine's matmul peak and vs a straightforward FF."""

from __future__ import annotations

from typing import Annotated, List, Optional

import torch
import typer
from rich.markup import escape
from rich.table import Table

from ffbench.cli.console import err, out, print_json
from ffbench.grid import split_specs
from ffbench.provenance import resolve_device


def bench(
    rule: Annotated[Optional[List[str]], typer.Option("--rule", "-r", help="Rules to time (ff, bp-ff, bp). [default: ff]")] = None,
    samples: Annotated[int, typer.Option(help="Synthetic MNIST-shaped training images.", min=1)] = 8192,
    width: Annotated[int, typer.Option(help="Units per hidden layer.", min=1)] = 1000,
    layers: Annotated[int, typer.Option(help="Hidden layers.", min=1)] = 3,
    batch_size: Annotated[int, typer.Option(help="Positives per batch.", min=1)] = 1024,
    epochs: Annotated[int, typer.Option(help="Epochs (per layer for ff).", min=1)] = 2,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    threads: Annotated[Optional[int], typer.Option(help="torch CPU threads (default: torch's choice).")] = None,
    baseline: Annotated[bool, typer.Option("--baseline/--no-baseline", help="Also time the straightforward FF baseline.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list of result objects.")] = False,
) -> None:
    """Time the trainers on synthetic 784 -> layers x width data (fixed negatives): samples/s,
    analytic FLOPs per epoch, achieved GFLOP/s and its ratio to a dense matmul peak measured in the
    same run, peak memory, and for ff the speed-up over FF written the usual way."""
    from ffbench.bench import bench_rule, matmul_peak

    if threads:
        torch.set_num_threads(threads)
    dev = resolve_device(device)
    peak = matmul_peak(dev)
    if not as_json:
        err.log(f"dense fp32 matmul peak on {dev}: {peak:.1f} GFLOP/s ({torch.get_num_threads()} threads)")
    results = [bench_rule(name, samples=samples, width=width, layers=layers, batch_size=batch_size,
                          epochs=epochs, device=dev, baseline=baseline, peak=peak)
               for name in split_specs(rule or ["ff"])]
    if as_json:
        print_json([r.as_dict() for r in results])
        return
    table = Table(title=f"ffbench bench: {samples} x 784 -> {layers} x {width}, batch {batch_size}, {epochs} epoch(s)")
    for col in ("rule", "samples/s", "GFLOP/epoch", "GFLOP/s", "of peak", "baseline samples/s", "speed-up",
                "peak MB"):
        table.add_column(col, justify="left" if col == "rule" else "right")
    for r in results:
        table.add_row(escape(r.rule), f"{r.samples_per_s:,.0f}", f"{r.gflop_per_epoch:.1f}", f"{r.achieved_gflops:.1f}",
                      f"{r.ratio_to_peak:.0%}",
                      "-" if r.baseline_samples_per_s is None else f"{r.baseline_samples_per_s:,.0f}",
                      "-" if r.speedup is None else f"{r.speedup:.2f}x", f"{r.peak_memory_mb:,.0f}")
    out.print(table)
