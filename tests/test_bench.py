"""The benchmark's FLOP counting (hand-computed) and a tiny run of `ffbench bench --json`."""

import json

from typer.testing import CliRunner

from ffbench.bench import baseline_ff_flops, bp_flops, ff_flops
from ffbench.cli import app

KEYS = {"rule", "dataset_shape", "batch_size", "samples_per_s", "gflop_per_epoch", "achieved_gflops", "peak_gflops",
        "ratio_to_peak", "baseline_samples_per_s", "speedup", "device"}


def test_flop_counts_by_hand():
    dims, n = [4, 3, 2], 10  # 2 FLOPs per multiply-add
    # fast greedy FF, fixed negatives, layer 1 folded: images once (2*10*4*3 = 240) + label codes over
    # 2n rows (2*20*2*3 = 240), forward + weight grad -> 960; layer 2 on 2n rows: 2 * (2*20*3*2) = 480;
    # layer 1's frozen outputs once, on the images only: 240
    assert ff_flops(dims, n, epochs=1, classes=2) == 960 + 480 + 240
    assert ff_flops(dims, n, epochs=3, classes=2) == 3 * (960 + 480) + 240
    # unfolded: layer 1 on 2n rows (2 * 480), frozen outputs of 2n rows (480)
    assert ff_flops(dims, n, epochs=1, classes=2, folded=False) == 960 + 480 + 480
    # baseline: separate pos/neg passes (same count) and layer 1 recomputed in every epoch of layer 2
    assert baseline_ff_flops(dims, n, epochs=1, classes=2) == 960 + (480 + 480)
    # bp: fwd + wgrad of every layer, input grads from layer 2 on; head 2 -> 2 classes
    assert bp_flops(dims, n, epochs=1, classes=2) == 2 * 240 + 3 * 120 + 3 * 80


def test_bench_json_tiny():
    result = CliRunner().invoke(app, ["bench", "--rule", "ff,bp", "--samples", "512", "--width", "32",
                                      "--layers", "2", "--batch-size", "128", "--epochs", "1", "--device", "cpu",
                                      "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["rule"].split("[")[0] for r in rows] == ["ff", "bp"]
    for r in rows:
        assert KEYS <= set(r)
        assert r["samples_per_s"] > 0 and r["peak_gflops"] > 0 and r["speedup"] > 0
        assert abs(r["ratio_to_peak"] - r["achieved_gflops"] / r["peak_gflops"]) < 1e-6
