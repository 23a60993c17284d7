"""Overhead of the training measurement the runner wraps every fit in (``MeasureTraining``: a clock,
and on CPU an RSS-sampling thread every 20 ms plus ``malloc_trim``; on CUDA the allocator's peak
counters), and what the peak-memory figure reads over repeated fits in one process.

    python benchmarks/cost_overhead.py                      # ff 784 -> 2 x 256, 2000 images, 3 epochs
    python benchmarks/cost_overhead.py --rounds 7 --samples 4000 --device cuda

Each round trains the same configuration twice, in alternating order: once bare (clock only)
and once inside ``MeasureTraining``; it prints the median and fastest of each, their ratio, and
the peak memory measured in every round (the first fit of a process includes one-off library
allocations; later fits show the steady value). On a machine shared with other jobs the fit
times are noisy (compare the fastest), so it also prints the sampler's own CPU time per read,
which does not depend on the load.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from ffbench.bench import synthetic_bundle
from ffbench.contracts import TrainContext
from ffbench.registry import get_registry
from ffbench.training_record import SAMPLE_INTERVAL_S, MeasureTraining, rss_bytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rule", default="ff[width=256,layers=2,epochs=3,batch_size=256]")
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--interval", type=float, default=SAMPLE_INTERVAL_S, help="RSS sampling interval, s")
    args = parser.parse_args()
    device = torch.device(args.device)
    registry = get_registry()
    rule = registry.build("rule", args.rule)
    goodness = registry.build("goodness", "l2") if rule.uses_goodness else None
    negatives = registry.build("negatives", "wrong-label") if rule.uses_negatives else None
    data = synthetic_bundle(args.samples, device=device)

    def fit() -> None:
        ctx = TrainContext(device=device, seed=0, train_classes=list(range(10)), num_classes=10)
        rule.fit(data, goodness, negatives, ctx)

    def bare() -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        fit()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - t0

    times: dict[str, list[float]] = {"bare": [], "measured": []}
    peaks: list[float] = []
    for r in range(args.rounds):
        order = ("bare", "measured") if r % 2 == 0 else ("measured", "bare")
        for kind in order:
            if kind == "bare":
                times["bare"].append(bare())
            else:
                with MeasureTraining(device, args.interval) as m:
                    fit()
                times["measured"].append(m.seconds)
                peaks.append(m.memory.peak_bytes / 2**20 if m.memory.peak_bytes is not None else float("nan"))
    print(
        f"{args.rule} on {args.samples} synthetic images, {device}, {torch.get_num_threads()} threads, "
        f"{args.rounds} rounds, RSS sampled every {args.interval * 1000:g} ms"
    )
    for kind, values in times.items():
        print(f"  {kind:9s} median {statistics.median(values):.3f} s   fastest {min(values):.3f} s")
    print(
        f"  measured / bare: median {statistics.median(times['measured']) / statistics.median(times['bare']):.3f}"
        f"   fastest {min(times['measured']) / min(times['bare']):.3f}"
    )
    if device.type != "cuda":  # the sampler's own work, which a loaded machine's fit times hide
        n = 2000
        t0 = time.thread_time()
        for _ in range(n):
            rss_bytes()
        per_sample = (time.thread_time() - t0) / n
        print(
            f"  sampler: {per_sample * 1e6:.1f} us CPU per RSS read, every {args.interval * 1000:g} ms = "
            f"{per_sample / args.interval * 100:.3f} % of one core during a fit"
        )
    print(f"  peak memory per round ({m.memory.method}): " + ", ".join(f"{p:.1f}" for p in peaks) + " MiB")


if __name__ == "__main__":
    main()
