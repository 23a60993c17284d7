"""`ffbench bench`: FLOP counts by hand and against torch's own FLOP counter on real training
runs, and a tiny run of the command returning sane rows."""

import json

import pytest
import torch
import typer
from torch.utils.flop_counter import FlopCounterMode
from typer.testing import CliRunner

from ffbench.bench import build_case, synthetic_bundle
from ffbench.cli import friendly_errors
from ffbench.cli.bench import bench
from ffbench.contracts import TrainContext
from ffbench.registry import get_registry
from ffbench_plugins.rules.flops import baseline_ff_flops, bp_ff_flops, bp_flops, dfa_flops, ff_flops

KEYS = {
    "rule",
    "dataset_shape",
    "batch_size",
    "samples_per_s",
    "gflop_per_epoch",
    "achieved_gflops",
    "peak_gflops",
    "ratio_to_peak",
    "baseline_samples_per_s",
    "speedup",
    "device",
}


def test_flop_counts_by_hand():
    # mm(m, k, n) = 2mkn; dims 4 -> 3 -> 2, n = 10 samples, C = 2 classes
    # fast greedy, layer 1 folded: base fwd + wgrad on 10 rows (2 x 240), label codes 20x2 @ 2x3 (2 x 240);
    # layer 2 fwd + wgrad on 20 rows (2 x 240); frozen layer 1 once: one matmul over the 10 images (240)
    assert ff_flops([4, 3, 2], 10, epochs=1, classes=2) == 960 + 480 + 240
    assert ff_flops([4, 3, 2], 10, epochs=3, classes=2) == 3 * (960 + 480) + 240
    # negatives that are other images: layer 1 on 20 rows (2 x 480), frozen on 20 rows (480)
    assert ff_flops([4, 3, 2], 10, epochs=1, classes=2, folded=False) == 960 + 480 + 480
    # resampled, 4 -> 3 -> 2 -> 2: layer 3 gets fresh negatives through frozen layer 2 each epoch (mm(10,3,2))
    # (the frozen passes then take the positives only: layer 2 on 10 rows, mm(10,3,2) = 120)
    assert ff_flops([4, 3, 2, 2], 10, epochs=1, classes=2, resample=True) == (960 + 480 + 320) + (240 + 120) + 120
    # hard negatives (fixed): one label scoring of layer 1 over the images (240)
    assert ff_flops([4, 3, 2], 10, epochs=1, classes=2, scored=True) == 960 + 480 + 240 + 240
    # baseline: layer 1 on 20 rows (960); layer 2 (480) plus layer 1 recomputed every batch (480)
    assert baseline_ff_flops([4, 3, 2], 10, epochs=2, classes=2) == 2 * (960 + 480 + 480)
    # bp-ff: fwd + wgrad of layer 1 on 20 rows; fwd + wgrad + input grad of layer 2
    assert bp_ff_flops([4, 3, 2], 10, epochs=1, classes=2) == 960 + 3 * 240
    # bp: 10 rows, head 2 -> 5; input grads for layer 2 and the head
    assert bp_flops([4, 3, 2], 10, epochs=1, classes=5) == 2 * 240 + 3 * 120 + 3 * 200


@pytest.mark.parametrize(
    "rule, negatives",
    [
        ("ff", "wrong-label"),
        ("ff", "wrong-label[resample=true]"),
        ("ff", "hard"),
        ("ff[schedule=simultaneous]", "wrong-label[resample=true]"),
        ("bp-ff", "hard"),
        ("bp", "wrong-label"),
    ],
)
def test_flop_counts_match_what_the_trainers_do(rule, negatives):
    """The analytic counts equal torch's count of every matmul the fast path and the baseline run."""
    data = synthetic_bundle(300, (1, 6, 6), num_classes=4)
    case = build_case(get_registry(), rule, "l2", negatives, dict(width=8, layers=3, epochs=2, batch_size=64))
    fast, base = case.flops(data)
    trainers = {
        "fast": lambda ctx: case.rule.fit(data, case.goodness, case.negatives, ctx),
        "baseline": lambda ctx: case.rule.fit_baseline(data, case.goodness, case.negatives, ctx),
    }
    for path, expected in (("fast", fast), ("baseline", base)):
        with FlopCounterMode(display=False) as counter:
            trainers[path](TrainContext(torch.device("cpu"), 0, list(range(4)), 4))
        assert counter.get_total_flops() == expected, path


def test_fast_path_counts_fewer_flops_than_the_baseline():
    data = synthetic_bundle(64, (1, 28, 28))
    case = build_case(get_registry(), "ff", "l2", "wrong-label", dict(width=1000, layers=3, epochs=10, batch_size=1024))
    fast, base = case.flops(data)
    # per sample-epoch: fast 4*0.784M + 8*2M (+ label codes) ~ 19.3M; baseline 8*0.784M + 16M + recomputed
    # frozen layers (2*2*0.784M + 2*2*(0.784M + 1M)) ~ 32.5M; ratio 0.59 plus the one-off frozen passes
    assert 0.59 < fast / base < 0.62


def cli():
    app = typer.Typer()
    app.command()(friendly_errors(bench))
    return app


def test_bench_json_tiny():
    result = CliRunner().invoke(
        cli(),
        [
            "--rule",
            "ff,bp",
            "--samples",
            "512",
            "--width",
            "32",
            "--layers",
            "2",
            "--batch-size",
            "128",
            "--epochs",
            "1",
            "--device",
            "cpu",
            "--repeats",
            "1",
            "--seeds",
            "2",
            "--peak-size",
            "256",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["rule"] for r in rows] == ["ff", "bp"]
    for r in rows:
        assert KEYS <= set(r)
        assert r["dataset_shape"] == [1, 28, 28] and r["batch_size"] == 128 and r["device"].startswith("cpu")
        assert r["samples_per_s"] > 0 and r["peak_gflops"] > 0 and r["speedup"] > 0
        assert r["ratio_to_peak"] == pytest.approx(r["achieved_gflops"] / r["peak_gflops"])
        assert r["samples_per_s"] == pytest.approx(512 / r["seconds"])
        assert r["baseline_samples_per_s"] == pytest.approx(r["samples_per_s"] / r["speedup"])
    assert rows[0]["stacked_cost_ratio"] > 0 and rows[1]["stacked_cost_ratio"] is None  # bp does not stack
    # ff's fast path folds layer 1 and runs frozen layers once: fewer FLOPs per epoch than its baseline
    assert rows[0]["gflop_per_epoch"] < rows[0]["baseline_gflop_per_epoch"]


def test_bench_times_rules_that_declare_no_flops_and_says_so():
    """dimcompress (self-supervised goodness: ff declares no count) is timed and says so; a zoo
    rule (dfa) is timed with its own count. Neither has a baseline."""
    result = CliRunner().invoke(
        cli(),
        [
            "--rule",
            "ff,dfa",
            "--goodness",
            "dimcompress",
            "--negatives",
            "none",
            "--samples",
            "256",
            "--width",
            "32",
            "--layers",
            "2",
            "--batch-size",
            "128",
            "--epochs",
            "1",
            "--device",
            "cpu",
            "--repeats",
            "1",
            "--peak-size",
            "64",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    ff, dfa = json.loads(result.stdout)
    assert (ff["goodness"], dfa["goodness"]) == ("dimcompress", None)
    assert ff["gflop_per_epoch"] is None and ff["ratio_to_peak"] is None
    assert ff["flops_counted"].startswith("not counted")
    assert dfa["gflop_per_epoch"] == pytest.approx(dfa_flops([784, 32, 32], 256, 1, 10) / 1e9)
    assert dfa["ratio_to_peak"] > 0 and dfa["flops_counted"].startswith("matmul FLOPs")
    for r in (ff, dfa):
        assert r["samples_per_s"] > 0 and r["speedup"] is None and r["baseline_available"] is False


def test_bench_rejects_unknown_rules():
    result = CliRunner().invoke(cli(), ["--rule", "nope", "--samples", "64", "--device", "cpu"])
    assert result.exit_code == 2 and "nope" in result.output
    result = CliRunner().invoke(cli(), ["--goodness", "dimcompress", "--samples", "64", "--device", "cpu"])
    assert result.exit_code == 2 and "--negatives none" in result.output
