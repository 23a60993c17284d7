"""The tables behind docs/science.md's quick-preset sweep and layer-1 conditions, on hand-made rows:
seed mean ± sample std, the newest value of a unit measured twice, the gap to the paper preset,
and the condition a row was measured under."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent


def script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rows(rule_id, preset, seed, accuracy, hoyer, started="2026-01-01", **extra):
    base = {"dataset": "fashion-mnist-mini", "rule_id": rule_id, "rule": rule_id.replace("[]", ""), "preset": preset}
    base |= {"seed": seed, "class": None, "class_b": None, "started_at": started, **extra}
    out = [{**base, "metric": "accuracy", "stat": "accuracy", "layer": pd.NA, "value": accuracy}]
    out += [{**base, "metric": "sparsity", "stat": "sparsity", "layer": i + 1, "value": h} for i, h in enumerate(hoyer)]
    return out


#: a rule id as a board holds it: every parameter; the table shows the swept ones (lr, epochs, batch size)
QUICK = "ff[batch_size=256,epochs=20,layers=3,lr=0.01,width=auto]"


def test_sweep_table_means_stds_and_gap_to_the_paper_preset(tmp_path):
    board = tmp_path / "board.parquet"
    data = rows("ff[batch_size=1024,epochs=100,lr=0.01,width=auto]", "paper", 0, 0.80, [0.70, 0.60])
    data += rows(QUICK, "quick", 0, 0.78, [0.72, 0.50])
    data += rows(QUICK, "quick", 1, 0.82, [0.74, 0.54])
    # seed 1 measured again later: the newer value wins
    data += rows(QUICK, "quick", 1, 0.90, [0.76, 0.58], started="2026-02-01")
    pd.DataFrame(data).astype({"layer": "Int64"}).to_parquet(board)
    table = script("quick_preset_sweep").table(str(board))
    lines = table.splitlines()
    assert lines[0] == "**fashion-mnist-mini** (evaluated on the validation split)"
    paper = "| ff[lr=0.01,epochs=100,batch_size=1024] | paper | 1 | 0.800 ± 0.000 | 0.700 ± 0.000 | 0.600 ± 0.000 |  |"
    assert lines[4] == paper
    # accuracy (0.78, 0.90): mean 0.84, std 0.0849; L1 (0.72, 0.76): 0.74, gap 0.04; L2 (0.50, 0.58): 0.54, gap 0.06
    quick = "| ff[lr=0.01,epochs=20,batch_size=256] | quick | 2 | 0.840 ± 0.085 | 0.740 ± 0.028 | 0.540 ± 0.057 |"
    assert lines[5] == quick + " 0.060 |"


def test_layer1_conditions_are_told_apart_by_dataset_and_negatives(tmp_path):
    conditions = script("layer1_conditions")
    assert conditions.condition("fashion-mnist-mini[norm=mnist,validation=2000]", "wrong-label[pairing=per-image]") == (
        "norm=mnist"
    )
    assert conditions.condition("fashion-mnist-mini[norm=own]", "wrong-label[pairing=pool]") == "pairing=pool"
    assert conditions.condition("fashion-mnist-mini[norm=own]", "wrong-label[pairing=per-image]") == "default"
    board = tmp_path / "board.parquet"
    data = []
    for seed, (acc, negatives) in enumerate([(0.80, "wrong-label[pairing=per-image]"), (0.82, "wrong-label")]):
        data += rows("ff[e=2]", "quick", seed, acc, [0.7, 0.6, 0.5], dataset_id="d[norm=own]", negatives_id=negatives)
    data += rows("ff[e=2]", "quick", 0, 0.75, [0.8, 0.6, 0.5], dataset_id="d[norm=mnist]", negatives_id="w")
    pd.DataFrame(data).astype({"layer": "Int64"}).to_parquet(board)
    lines = conditions.table(str(board)).splitlines()
    assert lines[2].startswith("| ff | default | 2 | 0.810 ± 0.014 | 0.700 ± 0.000 |")
    assert lines[3].startswith("| ff | norm=mnist | 1 | 0.750 ± 0.000 | 0.800 ± 0.000 |")
    assert len(lines) == 4  # no bp-ff rows, no pool rows: no empty lines


def test_layer1_changes_pair_seeds_only_where_the_data_are_the_same(tmp_path):
    conditions = script("layer1_conditions")
    board = tmp_path / "board.parquet"
    data = []
    default, mnist = "d[norm=own,validation=2000]", "d[norm=mnist,validation=2000]"
    for rule in ("ff", "bp-ff"):
        for seed, (h_default, h_pool) in enumerate([(0.70, 0.75), (0.72, 0.78), (0.74, 0.79)]):
            data += rows(
                f"{rule}[e=2]", "quick", seed, 0.8, [h_default, 0.6, 0.5], dataset_id=default, negatives_id="w"
            )
            data += rows(
                f"{rule}[e=2]",
                "quick",
                seed,
                0.8,
                [h_pool, 0.6, 0.5],
                dataset_id=default,
                negatives_id="wrong-label[pairing=pool]",
            )
        data += rows(f"{rule}[e=2]", "quick", 0, 0.8, [0.9, 0.6, 0.5], dataset_id=mnist, negatives_id="w")
    pd.DataFrame(data).astype({"layer": "Int64"}).to_parquet(board)
    lines = conditions.changes(str(board)).splitlines()
    # pool vs default: differences 0.05, 0.06, 0.05 on the same data -> paired; L2 unchanged
    assert lines[3].startswith("| ff | pairing=pool | +0.053, p = ")
    assert "(paired t)" in lines[3]
    assert lines[2] == "| ff | norm=mnist | +0.180, p = not tested | +0.000, p = not tested |"  # one seed
    assert lines[-1] == "FF - BP/FF at layer 1 (Hoyer, means): default +0.000, norm=mnist +0.000, pairing=pool +0.000."
