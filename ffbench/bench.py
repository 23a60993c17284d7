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
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from ffbench.contracts import (
    DatasetBundle, DataSplit, Goodness, LearningRule, NegativeGenerator, TrainContext, TrainedModel,
)
from ffbench.errors import FFBenchError
from ffbench.provenance import device_label

#: rules the bench knows a FLOP count and a straightforward baseline for
BENCH_RULES = ("ff", "bp-ff", "bp")

# ---------------------------------------------------------------------------------------
# Data and the machine's peak
# ---------------------------------------------------------------------------------------


def synthetic_bundle(samples: int, shape: tuple[int, int, int] = (1, 28, 28), num_classes: int = 10,
                     device: torch.device | str = "cpu", seed: int = 0) -> DatasetBundle:
    """Random standard-normal images with uniform labels: the shape of a dataset, for timing."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(samples, *shape, generator=g)
    y = torch.randint(0, num_classes, (samples,), generator=g)
    split = DataSplit(x.to(device), y.to(device))
    test = DataSplit(x[:256].to(device), y[:256].to(device))
    return DatasetBundle("synthetic", split, test, [str(c) for c in range(num_classes)], shape,
                         (0.0,) * shape[0], (1.0,) * shape[0], f"synthetic-{samples}-{seed}")


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_gflops(device: torch.device, m: int, k: int, n: int, dtype: torch.dtype = torch.float32,
                  repeats: int = 5) -> float:
    """Best GFLOP/s of a dense [m, k] @ [k, n] product (after one warm-up)."""
    a = torch.randn(m, k, device=device, dtype=dtype)
    b = torch.randn(k, n, device=device, dtype=dtype)
    a @ b
    best = math.inf
    for _ in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        a @ b
        sync(device)
        best = min(best, time.perf_counter() - t0)
    return 2 * m * k * n / best / 1e9


def matmul_peak(device: torch.device, shapes: list[tuple[int, int, int]], dtype: torch.dtype,
                square: int = 2048) -> float:
    """The machine's measured dense matmul peak: the best over a square ``square``^3 product and
    the given shapes (the benchmarked layers' own)."""
    return max(matmul_gflops(device, *s, dtype=dtype) for s in [(square, square, square), *shapes])


class PeakMemory:
    """Peak memory of a block: CUDA's allocator peak, or on CPU the peak resident set size above
    the level at entry, sampled every 5 ms from /proc/self/statm (None where that is missing)."""

    def __init__(self, device: torch.device):
        self.device, self.mb = device, None

    def __enter__(self) -> "PeakMemory":
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
# FLOP counts (matmul FLOPs, 2·m·k·n, as each implementation performs them)
# ---------------------------------------------------------------------------------------


def mm(m: int, k: int, n: int) -> int:
    return 2 * m * k * n


def _label_scores_flops(dims: list[int], n: int, classes: int, upto: int) -> int:
    """FFNet.label_log_probs on n samples over layers 1..upto: layer 1 folded (one matmul over
    the images), later layers on every (sample, label) row."""
    return mm(n, dims[0], dims[1]) + sum(mm(classes * n, dims[k], dims[k + 1]) for k in range(1, upto))


def _draws(schedule: str, resample: bool, layers: int, epochs: int) -> list[int]:
    """The ``upto`` of every negative draw the FF trainers make (hard negatives score them)."""
    if schedule == "simultaneous":
        return [layers] * (epochs if resample else 1)
    if not resample:
        return [1]
    return [l + 1 for l in range(layers) for _ in range(epochs)]


def ff_flops(dims: list[int], n: int, epochs: int, classes: int, schedule: str = "greedy",
             folded: bool = True, resample: bool = False, scored: bool = False) -> int:
    """Matmul FLOPs of FFRule.fit (plugins/rules/ff.py). ``folded``: negatives are the positives'
    images, so layer 1 runs one matmul over the images plus a K = classes label-code matmul;
    ``scored``: hard negatives (label scores of the whole training set at every draw)."""
    layers = len(dims) - 1

    def train_epoch(l: int) -> int:  # forward + weight gradient over n positives and n negatives
        if l == 0 and folded:
            return 2 * mm(n, dims[0], dims[1]) + 2 * mm(2 * n, classes, dims[1])
        return 2 * mm(2 * n, dims[l], dims[l + 1])

    total = epochs * sum(train_epoch(l) for l in range(layers))
    if scored:
        total += sum(_label_scores_flops(dims, n, classes, u) for u in _draws(schedule, resample, layers, epochs))
    if schedule == "simultaneous":
        return total
    for l in range(layers - 1):  # each frozen layer's outputs, once (resampled: positives only)
        rows = n if resample else 2 * n
        total += mm(n, dims[0], dims[1]) if l == 0 and folded else mm(rows, dims[l], dims[l + 1])
    if resample:  # every epoch of layer l >= 2: fresh negatives through the frozen layers
        for l in range(1, layers):
            first = 0 if folded else mm(n, dims[0], dims[1])
            total += epochs * (first + sum(mm(n, dims[k], dims[k + 1]) for k in range(1, l)))
    return total


def baseline_ff_flops(dims: list[int], n: int, epochs: int, classes: int, schedule: str = "greedy",
                      resample: bool = False, scored: bool = False) -> int:
    """Matmul FLOPs of :func:`baseline_ff`: positives and negatives in separate passes (same
    count as one), and with the greedy schedule the frozen layers recomputed for every batch."""
    layers = len(dims) - 1
    total = 0
    for l in range(layers):
        frozen = sum(mm(2 * n, dims[k], dims[k + 1]) for k in range(l)) if schedule == "greedy" else 0
        total += epochs * (frozen + 2 * mm(2 * n, dims[l], dims[l + 1]))
    if scored:
        total += sum(_label_scores_flops(dims, n, classes, u) for u in _draws(schedule, resample, layers, epochs))
    return total


def bp_ff_flops(dims: list[int], n: int, epochs: int, classes: int, resample: bool = False,
                scored: bool = False) -> int:
    """Matmul FLOPs of BPFFRule.fit and of its baseline (the same products, batched or not):
    forward and weight gradient of every layer, input gradient of layers 2..L, on 2n rows."""
    layers = len(dims) - 1
    per_epoch = sum((2 if l == 0 else 3) * mm(2 * n, dims[l], dims[l + 1]) for l in range(layers))
    total = epochs * per_epoch
    if scored:
        total += _label_scores_flops(dims, n, classes, layers) * (epochs if resample else 1)
    return total


def bp_flops(dims: list[int], n: int, epochs: int, classes: int) -> int:
    """Matmul FLOPs of BPRule.fit and its baseline: the hidden stack plus the linear head."""
    shapes = list(zip(dims[:-1], dims[1:])) + [(dims[-1], classes)]
    return epochs * sum((2 if i == 0 else 3) * mm(n, a, b) for i, (a, b) in enumerate(shapes))


# ---------------------------------------------------------------------------------------
# The straightforward baselines ("the usual way")
# ---------------------------------------------------------------------------------------


def _loader(tensors: list[torch.Tensor], batch_size: int, seed: int) -> DataLoader:
    """A shuffling DataLoader over CPU tensors, as usually written."""
    return DataLoader(TensorDataset(*[t.cpu() for t in tensors]), batch_size=batch_size, shuffle=True,
                      generator=torch.Generator().manual_seed(seed))


def _usual_optimizer(values: dict, params) -> torch.optim.Optimizer:
    cls = torch.optim.AdamW if values["optimizer"] == "adamw" else torch.optim.Adam
    return cls(params, lr=values["lr"], weight_decay=values["weight_decay"])


def baseline_ff(rule: LearningRule, data: DatasetBundle, goodness: Goodness, negatives: NegativeGenerator,
                ctx: TrainContext) -> TrainedModel:
    """FF as usually written: a DataLoader, labels embedded per batch, positives and negatives
    through separate forward passes, the frozen layers re-run on every batch (greedy), one
    ``.item()`` per step for the running loss. Same network, loss and negatives as FFRule."""
    from ffbench_plugins.rules.ffnet import build_ffnet, draw_negative_samples

    v = rule.values
    net = build_ffnet(v, data, goodness, ctx.device, ctx.generator)
    x, y = data.train.flat(), data.train.y
    layers = net.num_layers
    stages = [[l] for l in range(layers)] if v["schedule"] == "greedy" else [list(range(layers))]
    opts = [_usual_optimizer(v, layer.parameters()) for layer in net.layers]
    x_neg, y_neg = draw_negative_samples(net, negatives, x, y, ctx, upto=1 if len(stages) > 1 else layers)
    for trained in stages:
        for epoch in range(v["epochs"]):
            if negatives.resamples and (epoch > 0 or trained[0] > 0):
                x_neg, y_neg = draw_negative_samples(net, negatives, x, y, ctx, upto=trained[-1] + 1)
            running = 0.0
            for xb, yb, xnb, ynb in _loader([x, y, x_neg, y_neg], v["batch_size"], ctx.seed + epoch):
                pos = net.embedding(xb.to(ctx.device), yb.to(ctx.device))
                neg = net.embedding(xnb.to(ctx.device), ynb.to(ctx.device))
                with torch.no_grad():
                    for k in range(trained[0]):
                        pos, neg = net.layer_forward(k, pos), net.layer_forward(k, neg)
                for l in trained:
                    h_pos, h_neg = net.layer_forward(l, pos), net.layer_forward(l, neg)
                    loss = goodness.layer_loss(h_pos, h_neg)
                    opts[l].zero_grad()
                    loss.backward()
                    opts[l].step()
                    running += loss.item()
                    pos, neg = h_pos.detach(), h_neg.detach()
    return net.eval()


def baseline_bp_ff(rule: LearningRule, data: DatasetBundle, goodness: Goodness, negatives: NegativeGenerator,
                   ctx: TrainContext) -> TrainedModel:
    """BP/FF as usually written: DataLoader, separate positive and negative passes, ``.item()``."""
    from ffbench_plugins.rules.ffnet import build_ffnet, draw_negative_samples

    v = rule.values
    net = build_ffnet(v, data, goodness, ctx.device, ctx.generator)
    x, y = data.train.flat(), data.train.y
    opt = _usual_optimizer(v, net.parameters())
    x_neg, y_neg = draw_negative_samples(net, negatives, x, y, ctx, upto=net.num_layers)
    for epoch in range(v["epochs"]):
        if negatives.resamples and epoch > 0:
            x_neg, y_neg = draw_negative_samples(net, negatives, x, y, ctx, upto=net.num_layers)
        running = 0.0
        for xb, yb, xnb, ynb in _loader([x, y, x_neg, y_neg], v["batch_size"], ctx.seed + epoch):
            hs_pos = net.forward_all(net.embedding(xb.to(ctx.device), yb.to(ctx.device)))
            hs_neg = net.forward_all(net.embedding(xnb.to(ctx.device), ynb.to(ctx.device)))
            g_pos = sum(goodness.score(h) for h in hs_pos)
            g_neg = sum(goodness.score(h) for h in hs_neg)
            loss = goodness.loss_from_scores(g_pos, g_neg, sum(h.shape[-1] for h in hs_pos))
            opt.zero_grad()
            loss.backward()
            opt.step()
            running += loss.item()
    return net.eval()


def baseline_bp(rule: LearningRule, data: DatasetBundle, goodness, negatives, ctx: TrainContext) -> TrainedModel:
    """BP as usually written: DataLoader, cross-entropy, ``.item()`` per step."""
    from ffbench_plugins.rules.bp import BPNet
    from ffbench_plugins.rules.ffnet import default_width

    v = rule.values
    width = v["width"] or default_width(data)
    net = BPNet([data.input_dim] + [width] * v["layers"], data.num_classes).to(ctx.device)
    opt = _usual_optimizer(v, net.parameters())
    for epoch in range(v["epochs"]):
        running = 0.0
        for xb, yb in _loader([data.train.flat(), data.train.y], v["batch_size"], ctx.seed + epoch):
            loss = F.cross_entropy(net(xb.to(ctx.device)), yb.to(ctx.device))
            opt.zero_grad()
            loss.backward()
            opt.step()
            running += loss.item()
    return net.eval()


BASELINES: dict[str, Callable[..., TrainedModel]] = {"ff": baseline_ff, "bp-ff": baseline_bp_ff, "bp": baseline_bp}


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

    def dims(self, data: DatasetBundle) -> list[int]:
        from ffbench_plugins.rules.ffnet import default_width

        width = self.rule.values["width"] or default_width(data)
        return [data.input_dim] + [width] * self.rule.values["layers"]

    def flops(self, data: DatasetBundle) -> tuple[int, int]:
        """(fast path, baseline) matmul FLOPs of one training run."""
        dims, n, v, c = self.dims(data), len(data.train), self.rule.values, data.num_classes
        if self.rule.name == "bp":
            f = bp_flops(dims, n, v["epochs"], c)
            return f, f
        resample, scored = self.negatives.resamples, self.negatives.needs_scores
        if self.rule.name == "bp-ff":
            f = bp_ff_flops(dims, n, v["epochs"], c, resample, scored)
            return f, f
        folded = _generator_keeps_images(self.negatives, data)
        fast = ff_flops(dims, n, v["epochs"], c, v["schedule"], folded, resample, scored)
        return fast, baseline_ff_flops(dims, n, v["epochs"], c, v["schedule"], resample, scored)


def _generator_keeps_images(negatives: NegativeGenerator, data: DatasetBundle) -> bool:
    """Whether the negatives are the positives' images (FFRule then folds layer 1)."""
    x, y = data.train.x[:64], data.train.y[:64]
    g = torch.Generator(device=x.device).manual_seed(0)
    scores = torch.zeros(len(y), data.num_classes, device=x.device) if negatives.needs_scores else None
    x_neg, _ = negatives.generate(x, y, allowed=torch.arange(data.num_classes, device=x.device),
                                  generator=g, scores=scores)
    return x_neg is x or torch.equal(x_neg, x)


def _context(data: DatasetBundle, device: torch.device, seed: int, precision: str, compile_: bool) -> TrainContext:
    return TrainContext(device=device, seed=seed, train_classes=list(range(data.num_classes)),
                        num_classes=data.num_classes, precision=precision, compile=compile_)


def _timed(device: torch.device, fn: Callable[[], Any]) -> tuple[float, float | None]:
    """(seconds, peak memory in MiB) of fn()."""
    with PeakMemory(device) as mem:
        sync(device)
        t0 = time.perf_counter()
        fn()
        sync(device)
        seconds = time.perf_counter() - t0
    return seconds, mem.mb


def bench_case(case: BenchCase, data: DatasetBundle, device: torch.device, *, repeats: int = 3, seeds: int = 1,
               baseline: bool = True, precision: str = "fp32", compile_: bool = False, peak_size: int = 2048,
               log: Callable[[str], None] = lambda m: None) -> dict[str, Any]:
    """Time one case: matmul peak, fast ``fit``, the baseline, and (seeds > 1) ``fit_seeds``,
    interleaved over ``repeats``; returns one result row (see the module docstring)."""
    rule, n, epochs = case.rule, len(data.train), case.rule.values["epochs"]
    dims = case.dims(data)
    bs = rule.values["batch_size"]
    mm_dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    peak_shapes = [(2 * bs if rule.name != "bp" else bs, a, b) for a, b in zip(dims[:-1], dims[1:])]
    fit = lambda: rule.fit(data, case.goodness, case.negatives, _context(data, device, 0, precision, compile_))
    base = lambda: BASELINES[rule.name](rule, data, case.goodness, case.negatives,
                                        _context(data, device, 0, precision, compile_))
    stacked = lambda: rule.fit_seeds(data, case.goodness, case.negatives,
                                     [_context(data, device, s, precision, compile_) for s in range(seeds)])
    runs = {"fast": fit}
    if baseline:
        runs["baseline"] = base
    if seeds > 1 and rule.stacks_seeds:
        runs["stacked"] = stacked
    best: dict[str, tuple[float, float | None]] = {name: (math.inf, None) for name in runs}
    peak = 0.0
    for r in range(repeats):
        for name, fn in runs.items():  # a peak measurement next to every timed run
            peak = max(peak, matmul_peak(device, peak_shapes, mm_dtype, peak_size))
            seconds, mem = _timed(device, fn)
            best[name] = min(best[name], (seconds, mem), key=lambda t: t[0])
            log(f"repeat {r + 1}/{repeats}: {name} {seconds:.2f} s, matmul peak so far {peak:.1f} GFLOP/s")
    peak = max(peak, matmul_peak(device, peak_shapes, mm_dtype, peak_size))
    (fast_s, fast_mem), (base_s, _), (stack_s, stack_mem) = (best.get(k, (math.inf, None))
                                                             for k in ("fast", "baseline", "stacked"))
    fast_flops, base_flops = case.flops(data)
    row: dict[str, Any] = {
        "rule": case.label, "rule_identity": rule.short_identity,
        "goodness": case.goodness.short_identity if case.goodness else None,
        "negatives": case.negatives.short_identity if case.negatives else None,
        "dataset_shape": list(data.shape),
        "dims": dims, "samples": n, "epochs": epochs, "batch_size": bs,
        "device": device_label(device), "threads": torch.get_num_threads(),
        "precision": precision, "compiled": compile_, "repeats": repeats,
        "seconds": fast_s, "samples_per_s": n * epochs / fast_s,
        "gflop_per_epoch": fast_flops / epochs / 1e9, "achieved_gflops": fast_flops / fast_s / 1e9,
        "peak_gflops": peak, "ratio_to_peak": fast_flops / fast_s / 1e9 / peak,
        "peak_memory_mb": fast_mem,
        "baseline_seconds": None, "baseline_samples_per_s": None, "baseline_gflop_per_epoch": None,
        "baseline_achieved_gflops": None, "speedup": None,
        "seeds": seeds, "stacked_seconds": None, "stacked_cost_ratio": None, "stacked_peak_memory_mb": None,
        "flops_counted": "matmul FLOPs (2mnk) each implementation performs; elementwise work not counted",
    }
    if baseline:
        row.update(baseline_seconds=base_s, baseline_samples_per_s=n * epochs / base_s,
                   baseline_gflop_per_epoch=base_flops / epochs / 1e9,
                   baseline_achieved_gflops=base_flops / base_s / 1e9, speedup=base_s / fast_s)
    if seeds > 1 and rule.stacks_seeds:
        row.update(stacked_seconds=stack_s, stacked_cost_ratio=stack_s / fast_s, stacked_peak_memory_mb=stack_mem)
    return row


def build_case(registry, rule_spec: str, goodness_spec: str, negatives_spec: str,
               overrides: dict[str, Any]) -> BenchCase:
    """A BenchCase from CLI specs; only rules with a FLOP count and a baseline (BENCH_RULES)."""
    rule = registry.build("rule", rule_spec, overrides={k: v for k, v in overrides.items() if v is not None})
    if rule.name not in BENCH_RULES:
        raise FFBenchError(f"ffbench bench has no FLOP count or baseline for rule '{rule.name}'. "
                           f"Valid rules: {', '.join(BENCH_RULES)}.")
    if not rule.uses_goodness:
        return BenchCase(rule, None, None, rule_spec)
    goodness = registry.build("goodness", goodness_spec)
    negatives = registry.build("negatives", negatives_spec)
    if not goodness.needs_negatives or not negatives.produces_negatives:
        raise FFBenchError(f"ffbench bench times goodness functions trained with negatives; "
                           f"'{goodness.name}' with '{negatives.name}' is not one (use e.g. l2 with wrong-label).")
    return BenchCase(rule, goodness, negatives, rule_spec)


# ---------------------------------------------------------------------------------------
# Fast path vs baseline: the same models?
# ---------------------------------------------------------------------------------------


def compare_quality(case: BenchCase, data: DatasetBundle, device: torch.device, seeds: int,
                    log: Callable[[str], None] = lambda m: None) -> list[dict[str, Any]]:
    """Train ``seeds`` seeds with the fast path and with the baseline on real data and return one
    row per (path, seed): test accuracy and per-layer Hoyer sparsity (correct samples)."""
    from ffbench.contracts import Evaluation
    from ffbench_plugins.metrics.accuracy import Accuracy
    from ffbench_plugins.metrics.sparsity import HoyerSparsity

    rows = []
    for seed in range(seeds):
        for path in ("fast", "baseline"):
            ctx = _context(data, device, seed, "fp32", False)
            t0 = time.perf_counter()
            if path == "fast":
                model = case.rule.fit(data, case.goodness, case.negatives, ctx)
            else:
                model = BASELINES[case.rule.name](case.rule, data, case.goodness, case.negatives, ctx)
            seconds = time.perf_counter() - t0
            ev = Evaluation(model, data, device)
            row: dict[str, Any] = {"rule": case.label, "rule_identity": case.rule.short_identity,
                                   "path": path, "seed": seed,
                                   "train_seconds": seconds}
            row["accuracy"] = next(r.value for r in Accuracy().compute(ev).rows if r.cls is None)
            for r in HoyerSparsity().compute(ev).rows:
                if r.stat == "sparsity" and r.cls is None:
                    row[f"sparsity_l{r.layer}"] = r.value
            log(f"{path} seed {seed}: accuracy {row['accuracy']:.4f} ({seconds:.1f} s)")
            rows.append(row)
    return rows
