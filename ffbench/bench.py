"""Throughput of the training rules: samples/s, FLOPs, fraction of this machine's matmul peak, and
the speed-up over the same algorithm written the straightforward way (``ffbench bench``).

Everything is measured in one process, interleaved: each repeat measures the dense matmul peak,
then the rule's own ``fit``, then the straightforward baseline (and, with several seeds, the
stacked ``fit_seeds``); the fastest repeat of each is reported (the least disturbed by other
processes), and the highest peak.

FLOPs are *counted analytically* as the matmul FLOPs (2·m·k·n per product) that each
implementation actually performs — the fast path's own count (which the layer-1 fold and the
frozen-layer cache make smaller) and the baseline's own count (which includes recomputing frozen
layers). Elementwise work (activation, goodness, loss, optimizer) is not counted; it is why no
trainer reaches 100 % of the matmul peak.

Precision: ``bf16`` autocasts the rules' matmuls to bfloat16 (on CUDA, or a CPU with native bfloat16
matmuls: :mod:`ffbench.precision`) and measures the peak in bfloat16; with ``vs_fp32`` the same work
is also timed in float32 in the same repeats, beside its own float32 peak. A rule that declares no
FLOP count can be counted by torch's FLOP counter (``count``: one extra, untimed fit).

Definitions: an *epoch* is one pass over the training data by every layer (the greedy FF
schedule trains each layer for ``epochs`` epochs, so a greedy run of E epochs is E epochs);
``samples_per_s`` = samples x epochs / training seconds (setup such as label embedding and
negative drawing included).
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from ffbench.compat import require_compatible
from ffbench.contracts import (
    DatasetBundle,
    DataSplit,
    Evaluation,
    Goodness,
    LearningRule,
    NegativeGenerator,
    TrainContext,
)
from ffbench.errors import FFBenchError
from ffbench.provenance import device_label

# ---------------------------------------------------------------------------------------
# Data and the machine's peak
# ---------------------------------------------------------------------------------------


def synthetic_bundle(
    samples: int,
    shape: tuple[int, int, int] = (1, 28, 28),
    num_classes: int = 10,
    device: torch.device | str = "cpu",
    seed: int = 0,
) -> DatasetBundle:
    """Random standard-normal images with uniform labels: the shape of a dataset, for timing."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(samples, *shape, generator=g)
    y = torch.randint(0, num_classes, (samples,), generator=g)
    split = DataSplit(x.to(device), y.to(device))
    test = DataSplit(x[:256].to(device), y[:256].to(device))
    return DatasetBundle(
        "synthetic",
        split,
        test,
        [str(c) for c in range(num_classes)],
        shape,
        (0.0,) * shape[0],
        (1.0,) * shape[0],
        f"synthetic-{samples}-{seed}",
    )


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


#: How seconds are measured: ``wall`` (elapsed time, the default) or ``thread`` (CPU seconds of the
#: calling thread: on a CPU shared with other jobs, the time this work computed, not the time it
#: waited; with one torch thread every product runs on the calling thread)
CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "thread": time.thread_time}


def check_clock(clock: str, device: torch.device) -> Callable[[], float]:
    """The clock called ``clock``, or FFBenchError when it cannot time this device's work."""
    if clock not in CLOCKS:
        raise FFBenchError(f"Unknown clock '{clock}'. Valid: {', '.join(CLOCKS)}.")
    if clock == "thread" and (device.type != "cpu" or torch.get_num_threads() != 1):
        raise FFBenchError(
            "--clock thread counts the CPU time of the calling thread: it times a CPU run with one torch "
            f"thread (--threads 1), not {device} with {torch.get_num_threads()} thread(s)."
        )
    return CLOCKS[clock]


def matmul_gflops(
    device: torch.device,
    m: int,
    k: int,
    n: int,
    dtype: torch.dtype = torch.float32,
    repeats: int = 5,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """Best GFLOP/s of a dense [m, k] @ [k, n] product (after one warm-up)."""
    a = torch.randn(m, k, device=device, dtype=dtype)
    b = torch.randn(k, n, device=device, dtype=dtype)
    a @ b
    best = math.inf
    for _ in range(repeats):
        sync(device)
        t0 = clock()
        a @ b
        sync(device)
        best = min(best, clock() - t0)
    return 2 * m * k * n / max(best, 1e-9) / 1e9


def matmul_peak(
    device: torch.device,
    shapes: list[tuple[int, int, int]],
    dtype: torch.dtype,
    square: int = 2048,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """The machine's measured dense matmul peak: the best over a square ``square``^3 product and
    the given shapes (the benchmarked layers' own)."""
    return max(matmul_gflops(device, *s, dtype=dtype, clock=clock) for s in [(square, square, square), *shapes])


class PeakMemory:
    """Peak memory of a block: CUDA's allocator peak, or on CPU the peak resident set size above
    the level at entry, sampled every 5 ms from /proc/self/statm (None where that is missing)."""

    def __init__(self, device: torch.device):
        self.device, self.mb = device, None

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        elif os.path.exists("/proc/self/statm"):
            self._start = self._peak = _rss()
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self._peak = max(self._peak, _rss())

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            self.mb = torch.cuda.max_memory_allocated(self.device) / 2**20
        elif hasattr(self, "_thread"):
            self._stop.set()
            self._thread.join()
            self.mb = (max(self._peak, _rss()) - self._start) / 2**20


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# ---------------------------------------------------------------------------------------
# One benchmark: a rule + configuration
# ---------------------------------------------------------------------------------------


@dataclass
class BenchCase:
    """A rule (with its configuration) and the components it trains with."""

    rule: LearningRule
    goodness: Goodness | None
    negatives: NegativeGenerator | None
    #: the rule as the user named it (e.g. ``ff[schedule=simultaneous]``)
    label: str

    def dims(self, data: DatasetBundle) -> list[int] | None:
        """[input, hidden widths...] when the rule declares ``layers`` and ``width`` (auto: None)."""
        v = self.rule.values
        if "layers" not in v or "width" not in v or v["width"] is None:
            return None
        return [data.input_dim] + [v["width"]] * v["layers"]

    def flops(self, data: DatasetBundle) -> tuple[int | None, int | None]:
        """(fast path, baseline) matmul FLOPs of one training run, as the rule counts them (None:
        the rule does not count them)."""
        return (
            self.rule.training_flops(data, self.goodness, self.negatives),
            self.rule.baseline_flops(data, self.goodness, self.negatives),
        )

    @property
    def has_baseline(self) -> bool:
        return self.rule.has_baseline(self.goodness, self.negatives)


def _context(data: DatasetBundle, device: torch.device, seed: int, precision: str, compile_: bool) -> TrainContext:
    return TrainContext(
        device=device,
        seed=seed,
        train_classes=list(range(data.num_classes)),
        num_classes=data.num_classes,
        precision=precision,
        compile=compile_,
    )


def counted_flops(fn: Callable[[], Any]) -> int:
    """Matmul FLOPs of ``fn()`` as torch's FLOP counter sees them (every mm/bmm/addmm/baddbmm/conv,
    2·m·k·n per product, whoever calls it: the rule's layers and e.g. a goodness's own products)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def _timed(
    device: torch.device, fn: Callable[[], Any], clock: Callable[[], float] = time.perf_counter
) -> tuple[float, float | None]:
    """(seconds, peak memory in MiB) of fn()."""
    with PeakMemory(device) as mem:
        sync(device)
        t0 = clock()
        fn()
        sync(device)
        seconds = clock() - t0
    return seconds, mem.mb


def bench_case(
    case: BenchCase,
    data: DatasetBundle,
    device: torch.device,
    *,
    repeats: int = 3,
    seeds: int = 1,
    baseline: bool = True,
    precision: str = "fp32",
    compile_: bool = False,
    peak_size: int = 2048,
    vs_fp32: bool = True,
    count: bool = False,
    clock: str = "wall",
    log: Callable[[str], None] = lambda m: None,
) -> dict[str, Any]:
    """Time one case: matmul peak, fast ``fit``, the baseline, and (seeds > 1) ``fit_seeds``,
    interleaved over ``repeats``; returns one result row (see the module docstring).

    ``precision`` bf16 with ``vs_fp32``: the fast ``fit`` (and the baseline) are also timed in
    fp32 in the same repeats, each next to a matmul peak measured in its own precision, so the row
    holds both precisions' GFLOP/s and ratio to peak and the bf16 speed-up over fp32 (same work).
    ``count``: a rule that declares no FLOP count is counted by torch's FLOP counter on one extra,
    untimed ``fit``. ``clock``: see :data:`CLOCKS`."""
    timer = check_clock(clock, device)
    rule, n, epochs = case.rule, len(data.train), case.rule.values.get("epochs", 1)
    dims = case.dims(data)
    bs = rule.values.get("batch_size", n)
    baseline = baseline and case.has_baseline
    mm_dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    vs_fp32 = vs_fp32 and precision == "bf16"
    rows_per_step = 2 * bs if rule.uses_negatives else bs  # positives and negatives go through together
    peak_shapes = [(rows_per_step, a, b) for a, b in zip(dims[:-1], dims[1:])] if dims else []

    def fit(p: str = precision):
        return rule.fit(data, case.goodness, case.negatives, _context(data, device, 0, p, compile_))

    def base(p: str = precision):
        return rule.fit_baseline(data, case.goodness, case.negatives, _context(data, device, 0, p, compile_))

    def stacked():
        return rule.fit_seeds(
            data, case.goodness, case.negatives, [_context(data, device, s, precision, compile_) for s in range(seeds)]
        )

    runs = {"fast": fit}
    if baseline:
        runs["baseline"] = base
    if vs_fp32:  # the same work in fp32, in the same repeats
        runs["fast_fp32"] = lambda: fit("fp32")
        if baseline:
            runs["baseline_fp32"] = lambda: base("fp32")
    if seeds > 1 and rule.stacks_seeds:
        runs["stacked"] = stacked
    best: dict[str, tuple[float, float | None]] = {name: (math.inf, None) for name in runs}
    peaks = {mm_dtype: 0.0, torch.float32: 0.0}
    for r in range(repeats):
        for name, fn in runs.items():  # a peak measurement, in the run's precision, next to every timed run
            dtype = torch.float32 if name.endswith("_fp32") else mm_dtype
            peaks[dtype] = max(peaks[dtype], matmul_peak(device, peak_shapes, dtype, peak_size, timer))
            seconds, mem = _timed(device, fn, timer)
            best[name] = min(best[name], (seconds, mem), key=lambda t: t[0])
            log(f"repeat {r + 1}/{repeats}: {name} {seconds:.2f} s, matmul peak so far {peaks[dtype]:.1f} GFLOP/s")
    for dtype in {mm_dtype, torch.float32} if vs_fp32 else {mm_dtype}:
        peaks[dtype] = max(peaks[dtype], matmul_peak(device, peak_shapes, dtype, peak_size, timer))
    peak = peaks[mm_dtype]
    (fast_s, fast_mem), (base_s, _), (stack_s, stack_mem), (fp32_s, _), (base32_s, _) = (
        best.get(k, (math.inf, None)) for k in ("fast", "baseline", "stacked", "fast_fp32", "baseline_fp32")
    )
    fast_flops, base_flops = case.flops(data)
    flops_note = "matmul FLOPs (2mnk) each implementation performs; elementwise work not counted"
    if fast_flops is None and count:
        fast_flops = counted_flops(fit)
        flops_note = (
            f"{rule.name} declares no FLOP count for this configuration: matmul FLOPs (2mnk) counted by "
            "torch's FLOP counter on one extra, untimed fit (the goodness's own products included)"
        )
    elif fast_flops is None:
        flops_note = (
            f"not counted: {rule.name} declares no FLOP count for this configuration (LearningRule.training_flops)"
        )
    row: dict[str, Any] = {
        "rule": case.label,
        "rule_identity": rule.short_identity,
        "goodness": case.goodness.short_identity if case.goodness else None,
        "negatives": case.negatives.short_identity if case.negatives else None,
        "dataset_shape": list(data.shape),
        "dims": dims,
        "samples": n,
        "epochs": epochs,
        "batch_size": bs,
        "device": device_label(device),
        "threads": torch.get_num_threads(),
        "precision": precision,
        "compiled": compile_,
        "clock": clock,
        "repeats": repeats,
        "seconds": fast_s,
        "samples_per_s": n * epochs / fast_s,
        "gflop_per_epoch": None if fast_flops is None else fast_flops / epochs / 1e9,
        "achieved_gflops": None if fast_flops is None else fast_flops / fast_s / 1e9,
        "peak_gflops": peak,
        "ratio_to_peak": None if fast_flops is None else fast_flops / fast_s / 1e9 / peak,
        "peak_memory_mb": fast_mem,
        "baseline_seconds": None,
        "baseline_samples_per_s": None,
        "baseline_gflop_per_epoch": None,
        "baseline_achieved_gflops": None,
        "speedup": None,
        "seeds": seeds,
        "stacked_seconds": None,
        "stacked_cost_ratio": None,
        "stacked_peak_memory_mb": None,
        "flops_counted": flops_note,
        "baseline_available": case.has_baseline,
        "fp32_seconds": None,
        "fp32_achieved_gflops": None,
        "fp32_peak_gflops": None,
        "fp32_ratio_to_peak": None,
        "speedup_vs_fp32": None,
        "fp32_baseline_seconds": None,
        "fp32_speedup": None,
    }
    if vs_fp32:
        fp32_gflops = None if fast_flops is None else fast_flops / fp32_s / 1e9
        row.update(
            fp32_seconds=fp32_s,
            fp32_achieved_gflops=fp32_gflops,
            fp32_peak_gflops=peaks[torch.float32],
            fp32_ratio_to_peak=None if fp32_gflops is None else fp32_gflops / peaks[torch.float32],
            speedup_vs_fp32=fp32_s / fast_s,
        )
        if baseline:
            row.update(fp32_baseline_seconds=base32_s, fp32_speedup=base32_s / fp32_s)
    if baseline:
        row.update(
            baseline_seconds=base_s,
            baseline_samples_per_s=n * epochs / base_s,
            baseline_gflop_per_epoch=None if base_flops is None else base_flops / epochs / 1e9,
            baseline_achieved_gflops=None if base_flops is None else base_flops / base_s / 1e9,
            speedup=base_s / fast_s,
        )
    if seeds > 1 and rule.stacks_seeds:
        row.update(stacked_seconds=stack_s, stacked_cost_ratio=stack_s / fast_s, stacked_peak_memory_mb=stack_mem)
    return row


def build_case(
    registry, rule_spec: str, goodness_spec: str, negatives_spec: str, overrides: dict[str, Any]
) -> BenchCase:
    """A BenchCase from CLI specs. Any rule can be timed; FLOPs and the baseline come from the
    rule (``training_flops``, ``fit_baseline``) where it declares them. ``overrides`` apply to
    the parameters the rule has. A rule, goodness and negatives that cannot train together raise
    :class:`~ffbench.errors.IncompatibleError` (:func:`ffbench.compat.refusal` says why)."""
    rule = registry.build("rule", rule_spec)
    declared = {p.name for p in rule.params}
    rule = registry.build(
        "rule", rule_spec, overrides={k: v for k, v in overrides.items() if v is not None and k in declared}
    )
    goodness = registry.build("goodness", goodness_spec) if rule.uses_goodness else None
    negatives = registry.build("negatives", negatives_spec) if rule.uses_negatives else None
    require_compatible(rule, goodness, negatives)
    return BenchCase(rule, goodness, negatives, rule_spec)


# ---------------------------------------------------------------------------------------
# Fast path vs baseline: the same models?
# ---------------------------------------------------------------------------------------


def compare_quality(
    case: BenchCase,
    data: DatasetBundle,
    device: torch.device,
    seeds: int,
    metrics: list,
    log: Callable[[str], None] = lambda m: None,
) -> list[dict[str, Any]]:
    """Train ``seeds`` seeds with the fast path and with the baseline on real data and return one
    row per (path, seed): the first headline stat of each metric (overall, and per layer)."""
    if not case.has_baseline:
        raise FFBenchError(
            f"--quality compares a rule with its straightforward baseline; {case.label} has none "
            "here (LearningRule.has_baseline)."
        )
    rows = []
    for seed in range(seeds):
        for path in ("fast", "baseline"):
            ctx = _context(data, device, seed, "fp32", False)
            t0 = time.perf_counter()
            if path == "fast":
                model = case.rule.fit(data, case.goodness, case.negatives, ctx)
            else:
                model = case.rule.fit_baseline(data, case.goodness, case.negatives, ctx)
            seconds = time.perf_counter() - t0
            ev = Evaluation(model, data, device)
            row: dict[str, Any] = {
                "rule": case.label,
                "rule_identity": case.rule.short_identity,
                "path": path,
                "seed": seed,
                "train_seconds": seconds,
            }
            for metric in metrics:  # each metric's first headline stat, per layer
                stat = metric.headline_stats()[0]
                for r in metric.compute(ev).rows:
                    if r.stat == stat and r.cls is None:
                        row[stat if r.layer is None else f"{stat}_l{r.layer}"] = r.value
            log(
                f"{path} seed {seed}: "
                + ", ".join(f"{k} {v:.4f}" for k, v in row.items() if isinstance(v, float) and k != "train_seconds")
                + f" ({seconds:.1f} s)"
            )
            rows.append(row)
    return rows
