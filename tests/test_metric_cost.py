"""The `cost` metric and the training record behind it: exact rows from a hand-made record, the
energy row (only where measured), the record's round trip through the model cache, the memory
probe, and `ffbench run` end to end (FLOPs from the rule itself, cached runs reporting the
original training, stacked seeds, a rule that counts no FLOPs)."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from ffbench.cli import app
from ffbench.contracts import Evaluation
from ffbench.errors import FFBenchError
from ffbench.registry import get_registry
from ffbench.testing import evaluation_from_activity
from ffbench.training_record import MeasureTraining, PeakMemory, TrainingRecord, count_flops
from ffbench_plugins.metrics.cost import Cost
from ffbench_plugins.rules.flops import random_readout_flops

MIB = 2**20


def record(**changes) -> TrainingRecord:
    values = dict(
        seconds=2.0,
        flops=3_000_000_000,
        flops_note="counted",
        peak_memory_bytes=3 * MIB,
        memory_method="rss-peak",
        device="cpu:x86_64",
        stacked_seeds=1,
        cached=False,
        trained_at="2025-01-01T00:00:00+00:00",
    )
    return TrainingRecord(**{**values, **changes})


def with_training(rec: TrainingRecord | None) -> Evaluation:
    ev = evaluation_from_activity([0, 1], [[[1.0, 0.0], [0.0, 1.0]]])
    return Evaluation(ev.model, ev.data, ev.device, training=rec)


def stats(result) -> dict[str, float]:
    assert all(r.layer is None and r.cls is None for r in result.rows)
    return {r.stat: r.value for r in result.rows}


# -- the metric on hand-made records -------------------------------------------------------------


def test_rows_from_a_hand_made_record():
    result = Cost().compute(with_training(record()))
    assert stats(result) == {
        "train_seconds": 2.0,
        "train_flops": 3e9,
        "gflop_per_second": 1.5,
        "peak_memory_mib": 3.0,
        "stacked_seeds": 1.0,
    }
    assert result.artifacts["flops_note"] == "counted" and result.artifacts["memory_method"] == "rss-peak"
    assert result.artifacts["peak_memory_bytes"] == 3 * MIB and result.artifacts["cached"] is False
    assert Cost.higher_is_better is None
    assert set(Cost.headline_stats()) == {"train_seconds", "train_flops", "peak_memory_mib"}


def test_flops_not_counted_and_memory_not_measured_are_nan_rows_with_the_reason_in_the_artifact():
    rec = record(
        flops=None,
        flops_note="not counted: rule 'random' declares no FLOP count",
        peak_memory_bytes=None,
        memory_method="not measured: no /proc/self/statm",
    )
    result = Cost().compute(with_training(rec))
    values = stats(result)
    assert values["train_seconds"] == 2.0 and values["stacked_seeds"] == 1.0
    assert all(math.isnan(values[s]) for s in ("train_flops", "gflop_per_second", "peak_memory_mib"))
    assert result.artifacts["flops_note"].startswith("not counted: rule 'random'")
    assert result.artifacts["memory_method"].startswith("not measured")


def test_measured_energy_is_a_row_and_its_method_is_in_the_artifact():
    method = "rapl:package-0+package-1 (CPU packages only, all processes)"
    result = Cost().compute(with_training(record(energy_joules=7.5, energy_method=method)))
    values = stats(result)
    assert values["energy_joules"] == 7.5
    assert {k: v for k, v in values.items() if k != "energy_joules"} == stats(Cost().compute(with_training(record())))
    assert result.artifacts["energy_joules"] == 7.5 and result.artifacts["energy_method"] == method


def test_energy_not_measured_gives_no_row_and_the_artifact_says_why():
    method = "not measured: RAPL: no RAPL counters: /sys/class/powercap does not exist; NVML: not on CUDA"
    result = Cost().compute(with_training(record(energy_joules=None, energy_method=method)))
    assert "energy_joules" not in stats(result)
    assert result.artifacts["energy_joules"] is None and result.artifacts["energy_method"] == method


def test_an_evaluation_without_training_facts_is_a_clear_error():
    with pytest.raises(FFBenchError, match=r"Evaluation.training.*training=None.*TrainingRecord"):
        Cost().compute(with_training(None))


# -- the record ---------------------------------------------------------------------------------


def test_the_record_round_trips_through_cache_meta_marked_cached():
    rec = record(stacked_seeds=3)
    back = TrainingRecord.from_meta({"train_seconds": 2.0, "training": rec.to_meta()})
    assert "cached" not in rec.to_meta()
    assert back == record(stacked_seeds=3, cached=True)


def test_a_cache_entry_from_before_records_keeps_its_seconds_and_says_what_is_missing():
    back = TrainingRecord.from_meta({"train_seconds": 4.5, "stacked_seeds": 2})
    assert (back.seconds, back.stacked_seeds, back.cached) == (4.5, 2, True)
    assert back.flops is None and back.peak_memory_bytes is None
    assert "predates training records" in back.flops_note and "predates" in back.memory_method


def test_stacked_seeds_share_the_time_equally():
    with MeasureTraining(torch.device("cpu")) as m:
        time.sleep(0.05)
    assert m.seconds >= 0.05
    one, shared = m.record("cpu", stacked_seeds=1), m.record("cpu", stacked_seeds=4)
    assert one.seconds == m.seconds and shared.seconds == m.seconds / 4 and shared.stacked_seeds == 4


def test_count_flops_reports_a_failing_count_instead_of_raising():
    class Broken:
        name = "broken"

        def training_flops(self, data, goodness, negatives):
            raise KeyError("width")

    assert count_flops(Broken(), None, None, None) == (
        None,
        "not counted: broken.training_flops raised KeyError: 'width'",
    )


# -- peak memory on CPU ------------------------------------------------------------------------


needs_proc = pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="RSS sampling needs Linux")


@needs_proc
def test_peak_memory_sees_a_buffer_held_to_the_end():
    with PeakMemory(torch.device("cpu")) as mem:
        held = torch.ones(64 * MIB // 4)  # 64 MiB, every page touched
    assert mem.method == "rss-peak"
    assert 63 * MIB <= mem.peak_bytes < 200 * MIB
    del held


@needs_proc
def test_peak_memory_sees_a_buffer_freed_before_the_end():
    with PeakMemory(torch.device("cpu"), interval_s=0.005) as mem:
        spike = torch.ones(128 * MIB // 4)
        time.sleep(0.3)  # many samples while it is held
        del spike
    assert 127 * MIB <= mem.peak_bytes < 300 * MIB


# -- end to end through `ffbench run` -------------------------------------------------------------

TINY_FF = "ff[width=32,layers=2,epochs=2,batch_size=50]"
DATA = "fashion-mnist-mini[train_size=300,test_size=100]"
#: ff_flops for dims [784, 32, 32], n = 300, 2 epochs, 10 classes, greedy, layer 1 folded, fixed negatives:
#: per epoch layer 1: 2·mm(300,784,32) + 2·mm(600,10,32) = 30 873 600, layer 2: 2·mm(600,32,32) = 2 457 600;
#: x 2 epochs = 66 662 400; plus layer 1's frozen outputs once, mm(300,784,32) = 15 052 800.
TINY_FF_FLOPS = 81_715_200


def run(out: Path, *args: str) -> pd.DataFrame:
    result = CliRunner().invoke(app, ["run", "--dataset", DATA, "-q", "--out", str(out), *args])
    assert result.exit_code == 0, result.output
    return pd.read_parquet(out)


def cost_rows(df: pd.DataFrame) -> pd.DataFrame:
    return df[df.metric == "cost"]


def artifact(out: Path, row: pd.Series) -> dict:
    return json.loads((out.parent / (row["artifact"] + ".json")).read_text())


def test_run_records_the_rules_own_flops_memory_and_reuses_them_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FFBENCH_POWERCAP_ROOT", str(tmp_path / "no-powercap"))  # no energy counters
    out = tmp_path / "r.parquet"
    df = run(out, "--rule", TINY_FF, "--metric", "accuracy,cost")
    cost = cost_rows(df).set_index("stat")
    assert (cost["status"] == "ok").all() and not cost["cached"].any()
    assert bool(cost["headline"]["train_seconds"]) and not bool(cost["headline"]["gflop_per_second"])
    row = cost.iloc[0]
    reg = get_registry()
    rule = reg.build("rule", row["rule_id"])
    bundle = reg.build("dataset", row["dataset_id"]).load()
    expected = rule.training_flops(
        bundle, reg.build("goodness", row["goodness_id"]), reg.build("negatives", row["negatives_id"])
    )
    assert cost.loc["train_flops", "value"] == expected == TINY_FF_FLOPS
    seconds = cost.loc["train_seconds", "value"]
    assert seconds > 0 and seconds == row["train_seconds"]  # the row column and the stat agree
    assert cost.loc["gflop_per_second", "value"] == pytest.approx(TINY_FF_FLOPS / seconds / 1e9)
    assert cost.loc["peak_memory_mib", "value"] > 0 and cost.loc["stacked_seeds", "value"] == 1
    first = artifact(out, row)
    assert first["cached"] is False and first["flops"] == TINY_FF_FLOPS and first["memory_method"] == "rss-peak"
    assert "energy_joules" not in cost.index and first["energy_joules"] is None
    assert first["energy_method"].startswith("not measured: RAPL: no RAPL counters")

    df = run(out, "--rule", TINY_FF, "--metric", "cost")  # same cache, no --resume: evaluated again
    again = cost_rows(df[df.run_id != row["run_id"]]).set_index("stat")
    assert again["cached"].all()
    for stat in ("train_seconds", "train_flops", "peak_memory_mib"):  # the original training's numbers
        assert again.loc[stat, "value"] == cost.loc[stat, "value"]
    second = artifact(out, again.iloc[0])
    assert second["cached"] is True and second["trained_at"] == first["trained_at"]
    assert second["energy_method"] == first["energy_method"]


def test_a_rule_without_a_flop_count_gives_nan_flops_and_says_why(tmp_path):
    """ff with a self-supervised goodness (dimcompress, no negatives) declares no FLOP count."""
    out = tmp_path / "r.parquet"
    df = run(
        out,
        "--rule",
        "ff[width=32,layers=1,epochs=1,batch_size=100]",
        "--goodness",
        "dimcompress",
        "--negatives",
        "none",
        "--metric",
        "cost",
    )
    cost = cost_rows(df).set_index("stat")
    assert (cost["status"] == "ok").all()
    assert math.isnan(cost.loc["train_flops", "value"]) and math.isnan(cost.loc["gflop_per_second", "value"])
    assert cost.loc["train_seconds", "value"] >= 0
    assert artifact(out, cost.iloc[0])["flops_note"].startswith("not counted: rule 'ff' declares no FLOP count")


def test_a_zoo_rule_reports_its_own_flop_count(tmp_path):
    """random: the frozen stack once (mm(300, 784, 32) = 15 052 800), then 20 epochs of the
    readout's forward and weight gradient (2 * mm(300, 32, 10) = 384 000 each): 22 732 800."""
    out = tmp_path / "r.parquet"
    cost = cost_rows(run(out, "--rule", "random[width=32,layers=1,epochs=20]", "--metric", "cost")).set_index("stat")
    assert cost.loc["train_flops", "value"] == random_readout_flops([784, 32], 300, 20, 10) == 22_732_800


def test_stacked_seeds_say_so_and_share_the_time(tmp_path):
    out = tmp_path / "r.parquet"
    df = run(out, "--rule", TINY_FF, "--metric", "cost", "--seeds", "2", "--stack-seeds", "on", "--no-cache")
    cost = cost_rows(df)
    by_seed = {seed: rows.set_index("stat")["value"] for seed, rows in cost.groupby("seed")}
    assert set(by_seed) == {0, 1}
    for values in by_seed.values():
        assert values["stacked_seeds"] == 2 and values["train_flops"] == TINY_FF_FLOPS  # per seed: one fit's count
    assert by_seed[0]["train_seconds"] == by_seed[1]["train_seconds"] > 0  # the joint time, halved
    assert by_seed[0]["peak_memory_mib"] == by_seed[1]["peak_memory_mib"]  # the joint fit's peak
