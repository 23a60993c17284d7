"""Where an ff fit spends its time in float32 and in bfloat16 (CPU, one thread, thread CPU time),
beside a plain MLP's training step under autocast: what `ffbench bench --precision bf16` sums up
in one number, taken apart.

    OMP_NUM_THREADS=1 python benchmarks/bf16_step.py            # bench's ff: 8192 x 784 -> 3 x 1000, batch 1024
    OMP_NUM_THREADS=1 python benchmarks/bf16_step.py --rounds 3 --width 2000

It prints, for each precision (fastest of ``--rounds``; the clock is the calling thread's CPU
time, fair on a machine shared with other jobs):

- a whole ``fit`` split into its training steps, the frozen-layer passes (float32 in either
  precision, docs/precision.md) and the rest (initialisation, fold, negatives);
- one training step of layer 1 (folded: one matmul over the B images) and of layer 2 (2B rows);
- the step of a plain MLP (784 -> layers x width -> 10, cross-entropy, fused Adam) at the same
  batch, under ``torch.autocast``: the speed-up the matmuls alone allow.
"""

from __future__ import annotations

import argparse
import time

import torch

import ffbench_plugins.rules.ff as ffm
from ffbench.bench import _context, build_case, synthetic_bundle
from ffbench.registry import get_registry
from ffbench_plugins.rules.ffnet import build_ffnet

PRECISIONS = ("fp32", "bf16")


def thread_seconds(fn) -> float:
    start = time.thread_time()
    fn()
    return time.thread_time() - start


def fit_phases(case, data, precision: str) -> dict[str, float]:
    """Thread seconds of one fit: total, training steps, frozen passes."""
    spent = {"steps": 0.0, "frozen": 0.0}
    patched = [(ffm.StackedFF, "_train_step", "steps"), (ffm.RowInput, "frozen", "frozen")]
    patched.append((ffm.FoldedInput, "frozen", "frozen"))
    originals = [(cls, name, getattr(cls, name)) for cls, name, _ in patched]

    def timed(fn, key):
        def run(*args, **kwargs):
            start = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[key] += time.thread_time() - start

        return run

    for (cls, name, key), (_, _, fn) in zip(patched, originals):
        setattr(cls, name, timed(fn, key))
    try:
        ctx = _context(data, torch.device("cpu"), 0, precision, False)
        total = thread_seconds(lambda: case.rule.fit(data, case.goodness, case.negatives, ctx))
    finally:
        for cls, name, fn in originals:
            setattr(cls, name, fn)
    return {"fit": total, **spent, "other": total - spent["steps"] - spent["frozen"]}


def step_times(case, data, precision: str, steps: int) -> dict[str, float]:
    """Milliseconds of one training step of layer 1 (folded) and layer 2 (rows), fastest of ``steps``."""
    ctx = _context(data, torch.device("cpu"), 0, precision, False)
    net = build_ffnet(case.rule.values, data, case.goodness, ctx.device, ctx.generator)
    trainer = ffm.StackedFF([net], case.rule.values, case.negatives, [ctx], data.train.flat(), data.train.y)
    first = trainer._first_input(trainer._draw_negatives(1))
    second = first.frozen(trainer.w[0], trainer.b[0])
    batches = trainer._batches()
    out = {}
    for layer, inp in ((0, first), (1, second)):
        trainer._train_step(layer, inp, batches[0])  # warm-up
        times = []
        for i in range(steps):
            start = time.thread_time()
            trainer._train_step(layer, inp, batches[i % len(batches)])
            times.append(time.thread_time() - start)
        out[f"layer {layer + 1} step"] = min(times) * 1e3
    return out


def mlp_step(batch: int, width: int, layers: int, precision: str, steps: int) -> float:
    """Milliseconds of one step of a plain MLP under autocast (or float32), fastest of ``steps``."""
    g = torch.Generator().manual_seed(0)
    dims = [784] + [width] * layers
    modules = []
    for a, b in zip(dims[:-1], dims[1:]):
        modules += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    net = torch.nn.Sequential(*modules, torch.nn.Linear(width, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, fused=True)
    x, y = torch.randn(batch, 784, generator=g), torch.randint(0, 10, (batch,), generator=g)

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            loss = torch.nn.functional.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()
    return min(thread_seconds(step) for _ in range(steps)) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=8192)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--width", type=int, default=1000)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2, help="whole fits per precision (fastest reported)")
    parser.add_argument("--steps", type=int, default=8, help="timed steps per layer and for the MLP")
    args = parser.parse_args()
    torch.set_num_threads(1)
    overrides = {"width": args.width, "layers": args.layers, "epochs": args.epochs, "batch_size": args.batch_size}
    case = build_case(get_registry(), "ff", "l2", "wrong-label", overrides)
    data = synthetic_bundle(args.samples)
    rows: dict[str, dict[str, float]] = {p: {} for p in PRECISIONS}
    for _ in range(args.rounds):  # interleaved, fastest of each
        for p in PRECISIONS:
            for key, value in fit_phases(case, data, p).items():
                rows[p][f"{key} s"] = min(value, rows[p].get(f"{key} s", float("inf")))
    for p in PRECISIONS:
        rows[p].update(step_times(case, data, p, args.steps))
        rows[p]["MLP step"] = mlp_step(args.batch_size, args.width, args.layers, p, args.steps)
    print(f"ff 784 -> {args.layers} x {args.width}, batch {args.batch_size}, {args.samples} samples, thread CPU time")
    print(f"{'':18s} {'fp32':>9s} {'bf16':>9s} {'fp32/bf16':>9s}")
    for key in rows["fp32"]:
        unit = "" if key.endswith(" s") else " ms"
        a, b = rows["fp32"][key], rows["bf16"][key]
        print(f"{key + unit:18s} {a:9.3f} {b:9.3f} {a / b:9.2f}")


if __name__ == "__main__":
    main()
