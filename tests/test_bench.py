"""The benchmark's FLOP counting (hand-computed) and a tiny run of `ffbench bench --json`."""

import json

from typer.testing import CliRunner

from ffbench.bench import bp_ff_flops, bp_flops, ff_baseline_flops, ff_fast_flops
from ffbench.cli import app

KEYS = {"rule", "dataset_shape", "batch_size", "samples_per_s", "gflop_per_epoch", "achieved_gflops", "peak_gflops",
        "ratio_to_peak", "baseline_samples_per_s", "speedup", "device"}


def test_flop_counts_by_hand():
    dims, n = [4, 3, 2], 10  # layer MACs per sample: 12 and 6
    # fast greedy: per epoch 2 (fwd+wgrad) x 2 FLOP x 2n rows x MACs = 8n x 18; frozen once: 2 x 2n x 12
    assert ff_fast_flops(n, dims, epochs=1) == 8 * n * 18 + 4 * n * 12
    assert ff_fast_flops(n, dims, epochs=3) == 3 * 8 * n * 18 + 4 * n * 12
    # baseline: same training, plus layer 1 recomputed for pos and neg in every epoch of layer 2
    assert ff_baseline_flops(n, dims, epochs=2) == 2 * (8 * n * 18 + 4 * n * 12)
    # bp-ff: fwd + wgrad over 2n rows for both layers, input grad for layer 2 only
    assert bp_ff_flops(n, dims, epochs=1) == 8 * n * 18 + 4 * n * 6
    # bp: n rows, head 2 -> 5 classes adds 10 MACs; input grads for layer 2 and the head
    assert bp_flops(n, dims, classes=5, epochs=1) == 4 * n * 28 + 2 * n * 16


def test_bench_json_tiny():
    result = CliRunner().invoke(app, ["bench", "--rule", "ff,bp", "--samples", "512", "--width", "32",
                                      "--layers", "2", "--batch-size", "128", "--epochs", "1", "--device", "cpu",
                                      "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["rule"].split("[")[0] for r in rows] == ["ff", "bp"]
    for r in rows:
        assert KEYS <= set(r)
        assert r["samples_per_s"] > 0 and r["peak_gflops"] > 0 and r["dataset_shape"] == [1, 28, 28]
        assert abs(r["ratio_to_peak"] - r["achieved_gflops"] / r["peak_gflops"]) < 1e-9
    assert rows[0]["speedup"] > 0 and rows[0]["baseline_samples_per_s"] > 0
    assert rows[1]["speedup"] is None  # the baseline is FF's
