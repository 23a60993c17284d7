"""bfloat16 on a CPU: detected, admitted per rule, trained for real, kept apart from float32 on boards
and in the model cache (docs/precision.md)."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

import ffbench.precision as precision
from ffbench import results_store
from ffbench.cli import app
from ffbench.contracts import LearningRule
from ffbench.errors import FFBenchError
from ffbench_plugins.rules.bp import BPRule
from ffbench_plugins.rules.dfa import DFARule
from ffbench_plugins.rules.ff import FFRule

HAS_BF16 = precision.cpu_bf16_support().supported
needs_bf16 = pytest.mark.skipif(not HAS_BF16, reason="this CPU has no native bfloat16 matmuls")

TINY = [
    "--rule",
    "ff[width=64,layers=2,epochs=10,batch_size=50],bp[width=64,layers=2,epochs=5,batch_size=50,lr=0.001]",
    "--dataset",
    "fashion-mnist-mini[train_size=500,test_size=200]",
    "--metric",
    "accuracy,sparsity",
    "-q",
]


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture
def admitted(monkeypatch):
    """ff and bp admitted to bf16 on a CPU, whatever the equivalence data decided for them."""
    monkeypatch.setattr(FFRule, "bf16_cpu_verified", True)
    monkeypatch.setattr(BPRule, "bf16_cpu_verified", True)


def fake_cpu(monkeypatch, **caps):
    monkeypatch.setattr(precision, "_capabilities", lambda: caps)


# -- detection ----------------------------------------------------------------------------------


def test_detection_names_the_missing_features(monkeypatch):
    fake_cpu(monkeypatch, architecture="x86_64", avx512_f=True, avx2=True, avx512_bf16=False)
    support = precision.cpu_bf16_support()
    assert not support.supported and support.feature is None
    assert "amx_bf16 and avx512_bf16" in support.reason and "x86_64" in support.reason
    fake_cpu(monkeypatch, architecture="aarch64", neon=True)
    assert "bf16 and sve_bf16 (arm64)" in precision.cpu_bf16_support().reason
    fake_cpu(monkeypatch, architecture="riscv64")
    assert "riscv64" in precision.cpu_bf16_support().reason


def test_detection_accepts_either_feature(monkeypatch):
    monkeypatch.setattr(precision, "_onednn_bf16", lambda: True)
    fake_cpu(monkeypatch, architecture="x86_64", avx512_bf16=True)
    assert precision.cpu_bf16_support() == precision.Bf16Support(True, "", "avx512_bf16")
    fake_cpu(monkeypatch, architecture="x86_64", amx_bf16=True, avx512_bf16=True)
    assert precision.cpu_bf16_support().feature == "amx_bf16"
    monkeypatch.setattr(precision, "_onednn_bf16", lambda: False)
    support = precision.cpu_bf16_support()
    assert not support.supported and "oneDNN" in support.reason and "amx_bf16" in support.reason


def test_this_machine_matches_torch():
    caps = torch.cpu.get_capabilities()
    native = bool(caps.get("amx_bf16") or caps.get("avx512_bf16") or caps.get("bf16") or caps.get("sve_bf16"))
    assert HAS_BF16 == (native and torch.ops.mkldnn._is_mkldnn_bf16_supported())


# -- refusals, before anything trains -------------------------------------------------------------


def test_an_unsupported_cpu_is_refused_before_training(monkeypatch, tmp_path, admitted):
    fake_cpu(monkeypatch, architecture="x86_64", avx512_f=True)
    out = tmp_path / "r.parquet"
    result = invoke("run", *TINY, "--device", "cpu", "--precision", "bf16", "--out", out)
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "--precision bf16 refused" in text and "amx_bf16 and avx512_bf16" in text
    assert not out.exists()  # nothing trained, nothing written
    bench = invoke("bench", "--device", "cpu", "--precision", "bf16", "--samples", "64")
    assert bench.exit_code == 2 and "amx_bf16" in " ".join(bench.output.split())


def test_tf32_stays_a_cuda_mode():
    with pytest.raises(FFBenchError, match="tf32 is a CUDA mode"):
        precision.check_device("tf32", torch.device("cpu"))
    precision.check_device("fp32", torch.device("cpu"))  # always admitted


def test_an_unverified_rule_is_refused_with_the_reason(monkeypatch, tmp_path, admitted):
    monkeypatch.setattr(precision, "cpu_bf16_support", lambda: precision.Bf16Support(True, "", "amx_bf16"))
    monkeypatch.setattr(DFARule, "bf16_cpu_verified", False)
    out = tmp_path / "r.parquet"
    result = invoke(
        "run", "--rule", "dfa,bp", "--dataset", "fashion-mnist-mini[train_size=500,test_size=200]",
        "--device", "cpu", "--precision", "bf16", "--out", out, "-q",
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "rule 'dfa' is not admitted to --precision bf16 on a CPU" in text
    assert "not shown to agree within seed noise" in text and "docs/precision.md" in text
    assert "rule 'bp'" not in text  # bp is admitted here: only the unverified rule is named
    assert not out.exists()


def test_a_third_party_rule_is_told_how_to_declare():
    class Outside(LearningRule):
        name = "outside"
        version = "1"

        def fit(self, data, goodness, negatives, ctx):
            raise AssertionError("never trained")

    ok, reason = precision.rule_admits_bf16(Outside(), torch.device("cpu"))
    assert not ok and "bf16_cpu_verified = True" in reason and "scripts/bf16_equivalence.py" in reason
    assert precision.rule_admits_bf16(Outside(), torch.device("cuda")) == (True, "")  # CUDA: as before
    Outside.bf16_cpu_verified = True
    assert precision.rule_admits_bf16(Outside(), torch.device("cpu")) == (True, "")


# -- real training --------------------------------------------------------------------------------


@needs_bf16
def test_autocast_runs_bf16_matmuls_and_float32_losses():
    from ffbench.contracts import TrainContext, ff_logistic_loss

    ctx = TrainContext(torch.device("cpu"), 0, list(range(10)), 10, precision="bf16")
    x, w = torch.randn(4, 8), torch.randn(3, 8)
    with ctx.autocast():
        h = torch.nn.functional.linear(x, w).relu()
    assert h.dtype == torch.bfloat16
    g = torch.linalg.vector_norm(h.float(), dim=-1)  # what the rules score: float32
    assert ff_logistic_loss(g, g, 3.0).dtype == torch.float32


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """fp32, then bf16 (twice) of tiny ff and bp, with a model cache of their own."""
    if not HAS_BF16:
        pytest.skip("this CPU has no native bfloat16 matmuls")
    folder = tmp_path_factory.mktemp("bf16")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FFBENCH_CACHE", str(folder / "cache"))
        mp.setattr(FFRule, "bf16_cpu_verified", True)
        mp.setattr(BPRule, "bf16_cpu_verified", True)
        outs = {}
        for name, prec in (("fp32", "fp32"), ("bf16", "bf16"), ("bf16-again", "bf16")):
            outs[name] = folder / f"{name}.parquet"
            result = invoke("run", *TINY, "--device", "cpu", "--precision", prec, "--out", outs[name])
            assert result.exit_code == 0, result.output
    return {name: results_store.read(path) for name, path in outs.items()}, outs, folder


def test_bf16_trains_ff_and_bp_and_rows_say_so(runs):
    frames, _, _ = runs
    df = frames["bf16"]
    assert (df["status"] == "ok").all() and set(df["precision"]) == {"bf16"}
    assert {r.split("[")[0] for r in df["rule_id"]} == {"ff", "bp"}
    acc = df[(df["metric"] == "accuracy") & df["class"].isna()].set_index("rule_id")["value"]
    assert (acc > 0.25).all(), acc  # 10 classes: chance is 0.1; both learned (fp32: ff 0.34, bp 0.72)
    fp32 = frames["fp32"]
    assert set(fp32["precision"]) == {"fp32"}
    keys = ["rule", "metric", "stat", "layer", "class"]
    both = fp32.merge(df, on=keys, suffixes=("_32", "_16"))
    assert len(both) == len(df)
    assert (both["value_32"] != both["value_16"]).any()  # bf16 really changed the arithmetic


def test_the_cache_never_hands_an_fp32_model_to_a_bf16_run(runs):
    frames, _, _ = runs
    assert not frames["fp32"]["cached"].any()
    assert not frames["bf16"]["cached"].any()  # the fp32 models of the same configuration were cached
    assert frames["bf16-again"]["cached"].all()  # ... and the bf16 ones are found by a bf16 run
    same = ["rule", "metric", "stat", "layer", "class"]
    again = frames["bf16"].merge(frames["bf16-again"], on=same, suffixes=("", "_again"))
    assert (again["value"] == again["value_again"]).all()


def test_resume_never_takes_fp32_rows_for_a_bf16_run(runs):
    import shutil

    frames, outs, folder = runs
    out = folder / "resumed.parquet"
    shutil.copy(outs["fp32"], out)
    args = ["run", *TINY, "--device", "cpu", "--resume", "--out", out]
    result = invoke(*args, "--precision", "bf16")
    assert result.exit_code == 0, result.output
    assert "skipping" not in result.output
    df = results_store.read(out)
    assert sorted(df.groupby("precision")["run_id"].nunique().items()) == [("bf16", 2), ("fp32", 2)]
    result = invoke(*args, "--precision", "fp32")  # now every point is there in both precisions
    assert result.exit_code == 0 and len(results_store.read(out)) == len(df)


def test_bf16_and_fp32_rows_never_merge_on_a_board(runs):
    from ffbench.leaderboard.aggregate import aggregate

    _, outs, folder = runs
    boards = folder / "boards"
    result = invoke("leaderboard", "update", outs["fp32"], outs["bf16"], "--boards", boards, "--allow-dirty", "-q")
    assert result.exit_code == 0, result.output
    board = pd.read_parquet(boards / "fashion-mnist-mini.parquet")
    assert set(board["precision"]) == {"fp32", "bf16"}
    agg = aggregate(board)
    acc = agg[(agg["metric"] == "accuracy") & (agg["stat"] == "accuracy") & agg["class"].isna()]
    pairs = sorted((rule.split("[")[0], prec) for rule, prec in zip(acc["rule_id"], acc["precision"]))
    assert pairs == [("bp", "bf16"), ("bp", "fp32"), ("ff", "bf16"), ("ff", "fp32")]
    assert (acc["n"] == 1).all()  # one seed each: nothing of the other precision was pooled in


# -- ffbench bench ---------------------------------------------------------------------------------


@needs_bf16
def test_bench_reports_bf16_beside_fp32(tmp_path):
    import json

    result = invoke(
        "bench", "--rule", "bp", "--device", "cpu", "--precision", "bf16", "--samples", "256", "--width", "32",
        "--layers", "1", "--epochs", "1", "--batch-size", "64", "--repeats", "1", "--peak-size", "64", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert row["precision"] == "bf16" and row["rule"] == "bp"
    assert row["fp32_seconds"] > 0 and row["seconds"] > 0
    assert row["speedup_vs_fp32"] == pytest.approx(row["fp32_seconds"] / row["seconds"])
    assert row["fp32_baseline_seconds"] > 0 and row["baseline_seconds"] > 0  # the usual loop, in both
    assert row["peak_gflops"] > 0 and row["fp32_peak_gflops"] > 0
    flops = 2 * (2 * 256 * 784 * 32) + 3 * (2 * 256 * 32 * 10)  # by hand: 2mkn, layer 1 x2 (no input grad), head x3
    assert row["gflop_per_epoch"] == pytest.approx(flops / 1e9)
    assert row["ratio_to_peak"] == pytest.approx(row["achieved_gflops"] / row["peak_gflops"])
    assert row["fp32_ratio_to_peak"] == pytest.approx(row["fp32_achieved_gflops"] / row["fp32_peak_gflops"])


def test_the_flop_counter_agrees_with_an_analytic_count(tiny_data):
    from ffbench.bench import counted_flops
    from ffbench.contracts import TrainContext
    from ffbench.registry import get_registry

    rule = get_registry().build("rule", "bp[width=16,layers=2,epochs=1,batch_size=250]")
    ctx = TrainContext(torch.device("cpu"), 0, list(range(10)), 10)
    counted = counted_flops(lambda: rule.fit(tiny_data, None, None, ctx))
    assert counted == rule.training_flops(tiny_data, None, None)  # 2mnk per product, as the rules count


def test_bench_counts_the_flops_of_a_rule_that_declares_none():
    import json

    result = invoke(
        "bench", "--rule", "ff", "--goodness", "dimcompress[copies=2,readout_epochs=1]", "--negatives", "none",
        "--device", "cpu", "--samples", "64", "--width", "16", "--layers", "1", "--epochs", "1",
        "--batch-size", "32", "--repeats", "1", "--peak-size", "32", "--count-flops", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert "torch's FLOP counter" in row["flops_counted"]
    assert row["gflop_per_epoch"] > 0 and row["ratio_to_peak"] > 0


def test_the_thread_clock_times_one_thread_on_a_cpu(monkeypatch):
    import json

    from ffbench.bench import check_clock

    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    with pytest.raises(FFBenchError, match="--threads 1"):
        check_clock("thread", torch.device("cpu"))
    with pytest.raises(FFBenchError, match="Unknown clock 'cpu'"):
        check_clock("cpu", torch.device("cpu"))
    monkeypatch.undo()
    threads = torch.get_num_threads()
    try:
        result = invoke(
            "bench", "--rule", "bp", "--device", "cpu", "--samples", "128", "--width", "16", "--layers", "1",
            "--epochs", "1", "--batch-size", "64", "--repeats", "1", "--peak-size", "32", "--no-baseline",
            "--threads", "1", "--clock", "thread", "--json",
        )  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert row["clock"] == "thread" and row["threads"] == 1 and row["seconds"] > 0
