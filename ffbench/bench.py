"""Throughput benchmark: how close the trainers run to this machine's matmul peak, and how much
faster the FF trainer is than a straightforward implementation, measured in the same run.

FLOPs are counted analytically (2 per multiply-add) for the work each implementation actually
does: matmuls of the forward passes, weight gradients, and input gradients where they flow;
elementwise work (normalisation, ReLU, loss, Adam) is not counted. The fast FF greedy trainer
(plugins/rules/ff.py) passes positives and negatives through one matmul and computes each frozen
layer's outputs once; the baseline below is FF written the usual way: a per-batch loop, separate
positive and negative passes, the frozen layers recomputed for every batch, a ``.item()`` per step.
"""

from __future__ import annotations

import resource
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ffbench.contracts import DatasetBundle, DataSplit, TrainContext
from ffbench.provenance import device_label

RULES = ("ff", "bp-ff", "bp")


@dataclass
class BenchResult:
    rule: str
    dataset_shape: list[int]
    layers: list[int]
    samples: int
    epochs: int
    batch_size: int
    seconds: float
    samples_per_s: float
    gflop_per_epoch: float
    achieved_gflops: float
    peak_gflops: float
    ratio_to_peak: float
    baseline_samples_per_s: float | None
    baseline_gflops: float | None
    speedup: float | None
    peak_memory_mb: float
    device: str

    def as_dict(self) -> dict:
        return asdict(self)


def synthetic_bundle(samples: int, shape: tuple[int, int, int], classes: int, device: torch.device,
                     seed: int = 0) -> DatasetBundle:
    """Random normalised images with random labels (throughput does not depend on the content)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(samples, *shape, generator=g)
    y = torch.randint(0, classes, (samples,), generator=g)
    split = DataSplit(x.to(device), y.to(device))
    return DatasetBundle("synthetic", split, DataSplit(x[:256].to(device), y[:256].to(device)),
                         [str(c) for c in range(classes)], shape, (0.0,), (1.0,), "synthetic")


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(device: torch.device, size: int = 2048, repeats: int = 5) -> float:
    """Best GFLOP/s of a dense fp32 (size x size) @ (size x size) matmul."""
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    a @ b
    sync(device)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        sync(device)
        best = min(best, time.perf_counter() - t0)
    return 2 * size**3 / best / 1e9


def pairs(dims: list[int]) -> list[int]:
    """Multiply-adds per sample of each layer: d_in * d_out."""
    return [dims[i] * dims[i + 1] for i in range(len(dims) - 1)]


def ff_fast_flops(n: int, dims: list[int], epochs: int) -> float:
    """Greedy FF, fixed negatives: per layer and epoch, forward + weight gradient over 2n rows
    (positives and negatives); once per layer transition, the frozen forward of 2n rows."""
    per = pairs(dims)
    train = sum(2 * 2 * (2 * n) * p for p in per) * epochs  # forward + weight grad
    frozen = sum(2 * (2 * n) * p for p in per[:-1])  # each frozen layer once, for the next layer
    return train + frozen


def ff_baseline_flops(n: int, dims: list[int], epochs: int) -> float:
    """The same training plus, for layer l, layers 1..l-1 recomputed on positives and negatives
    for every batch of every epoch."""
    per = pairs(dims)
    recompute = sum(2 * (2 * n) * sum(per[:l]) for l in range(len(per))) * epochs
    return sum(2 * 2 * (2 * n) * p for p in per) * epochs + recompute


def bp_ff_flops(n: int, dims: list[int], epochs: int) -> float:
    """End to end over 2n rows: forward, weight gradients, input gradients of layers 2..L."""
    per = pairs(dims)
    return (2 * 2 * (2 * n) * sum(per) + 2 * (2 * n) * sum(per[1:])) * epochs


def bp_flops(n: int, dims: list[int], classes: int, epochs: int) -> float:
    per = pairs(dims) + [dims[-1] * classes]
    return (2 * 2 * n * sum(per) + 2 * n * sum(per[1:])) * epochs


def baseline_ff_greedy(data: DatasetBundle, dims: list[int], epochs: int, batch_size: int, lr: float,
                       threshold: float, seed: int) -> list[nn.Linear]:
    """FF written the usual way (fixed negatives drawn once, like the fast path)."""
    torch.manual_seed(seed)
    device = data.train.x.device
    x, y = data.train.flat(), data.train.y
    classes = data.num_classes
    value = float(x.max())
    y_neg = (y + torch.randint(1, classes, y.shape, device=device)) % classes
    layers = [nn.Linear(dims[i], dims[i + 1]).to(device) for i in range(len(dims) - 1)]

    def embed(xb, labels):
        out = xb.clone()
        out[:, :classes] = 0.0
        out[torch.arange(len(xb), device=device), labels] = value
        return out

    def forward(layer, h):
        return F.relu(layer(h / (h.norm(dim=1, keepdim=True) + 1e-8)))

    for l, layer in enumerate(layers):
        opt = torch.optim.Adam(layer.parameters(), lr=lr)
        for _ in range(epochs):
            perm = torch.randperm(len(y), device=device)
            for start in range(0, len(y), batch_size):
                idx = perm[start : start + batch_size]
                h_pos, h_neg = embed(x[idx], y[idx]), embed(x[idx], y_neg[idx])
                with torch.no_grad():
                    for frozen in layers[:l]:
                        h_pos, h_neg = forward(frozen, h_pos), forward(frozen, h_neg)
                g_pos = forward(layer, h_pos).norm(dim=1)
                g_neg = forward(layer, h_neg).norm(dim=1)
                loss = torch.cat([F.softplus(threshold - g_pos), F.softplus(g_neg - threshold)]).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                loss.item()  # the usual per-step logging sync
    return layers


def _peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # process peak RSS (KiB on Linux)


def bench_rule(rule_name: str, *, samples: int = 8192, width: int = 1000, layers: int = 3, batch_size: int = 1024,
               epochs: int = 2, device: torch.device = torch.device("cpu"), baseline: bool = True,
               peak: float | None = None) -> BenchResult:
    """Time ``rule_name`` on MNIST-shaped synthetic data (784 -> layers x width) with fixed
    negatives; for ff also time the straightforward baseline."""
    from ffbench.registry import get_registry

    if rule_name not in RULES:
        from ffbench.errors import FFBenchError

        raise FFBenchError(f"Unknown rule '{rule_name}' for bench. Valid: {', '.join(RULES)}.")
    shape, classes = (1, 28, 28), 10
    data = synthetic_bundle(samples, shape, classes, device)
    dims = [28 * 28] + [width] * layers
    registry = get_registry()
    rule = registry.build("rule", rule_name, overrides={"width": width, "layers": layers, "batch_size": batch_size,
                                                        "epochs": epochs})
    goodness = registry.build("goodness", "l2") if rule.uses_goodness else None
    negatives = registry.build("negatives", "wrong-label") if rule.uses_negatives else None
    peak = peak if peak is not None else matmul_peak(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    ctx = TrainContext(device=device, seed=0, train_classes=list(range(classes)), num_classes=classes)
    sync(device)
    t0 = time.perf_counter()
    rule.fit(data, goodness, negatives, ctx)
    sync(device)
    seconds = time.perf_counter() - t0
    flops = {"ff": lambda: ff_fast_flops(samples, dims, epochs), "bp-ff": lambda: bp_ff_flops(samples, dims, epochs),
             "bp": lambda: bp_flops(samples, dims, classes, epochs)}[rule_name]()
    # samples/s: training samples (positives) processed per second per layer-epoch (greedy FF
    # trains each layer for all epochs; end-to-end rules count one pass for all layers)
    passes = epochs * (layers if rule_name == "ff" else 1)
    result = BenchResult(
        rule=rule.short_identity, dataset_shape=list(shape), layers=dims, samples=samples, epochs=epochs,
        batch_size=batch_size, seconds=seconds, samples_per_s=samples * passes / seconds,
        gflop_per_epoch=flops / epochs / 1e9, achieved_gflops=flops / seconds / 1e9, peak_gflops=peak,
        ratio_to_peak=flops / seconds / 1e9 / peak, baseline_samples_per_s=None, baseline_gflops=None,
        speedup=None, peak_memory_mb=_peak_memory_mb(device), device=device_label(device),
    )
    if baseline and rule_name == "ff":
        sync(device)
        t0 = time.perf_counter()
        baseline_ff_greedy(data, dims, epochs, batch_size, rule.values["lr"], 3.0, seed=0)
        sync(device)
        base_seconds = time.perf_counter() - t0
        result.baseline_samples_per_s = samples * passes / base_seconds
        result.baseline_gflops = ff_baseline_flops(samples, dims, epochs) / base_seconds / 1e9
        result.speedup = base_seconds / seconds
    return result
