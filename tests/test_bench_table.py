"""`ffbench bench`'s timing table, built from one column list: the fp32 columns only where bf16 was
timed beside fp32, every cell formatted from the row, text printed literally."""

from rich.console import Console

from ffbench.cli.bench import _timing_table

ROW = {
    "rule": "ff[schedule=simultaneous]",
    "batch_size": 128,
    "samples_per_s": 12345.6,
    "gflop_per_epoch": 1.5,
    "precision": "bf16",
    "achieved_gflops": 10.0,
    "peak_gflops": 40.0,
    "ratio_to_peak": 0.25,
    "peak_memory_mb": 1536.4,
    "baseline_samples_per_s": None,
    "baseline_gflop_per_epoch": None,
    "speedup": None,
    "seeds": 2,
    "stacked_cost_ratio": 1.5,
}
BESIDE_FP32 = {"fp32_achieved_gflops": 5.0, "fp32_peak_gflops": 20.0, "fp32_ratio_to_peak": 0.25, "speedup_vs_fp32": 2}


def cells(row: dict) -> dict[str, str]:
    table = _timing_table([row])
    return {column.header: next(iter(column.cells)) for column in table.columns}


def test_one_precision_shows_no_fp32_columns():
    assert cells(ROW) == {
        "rule": "ff\\[schedule=simultaneous]",
        "batch": "128",
        "samples/s": "12,346",
        "GFLOP/epoch": "1.5",
        "GFLOP/s": "10.0",
        "peak GFLOP/s": "40.0",
        "of peak": "25%",
        "peak MB": "1,536",
        "baseline samples/s": "-",
        "baseline GFLOP/epoch": "-",
        "speed-up": "-",
        "seeds": "2",
        "stacked / 1 seed": "1.50x",
    }


def test_bf16_beside_fp32_adds_the_fp32_columns_in_place():
    shown = cells({**ROW, **BESIDE_FP32})
    assert list(shown)[3:12] == [
        "GFLOP/epoch",
        "precision",
        "GFLOP/s",
        "peak GFLOP/s",
        "of peak",
        "fp32 GFLOP/s",
        "fp32 peak",
        "fp32 of peak",
        "peak MB",
    ]
    assert list(shown)[-1] == "vs fp32" and len(shown) == 18
    assert (shown["precision"], shown["fp32 GFLOP/s"], shown["fp32 of peak"], shown["vs fp32"]) == (
        "bf16",
        "5.0",
        "25%",
        "2.00x",
    )
    console = Console(width=400, record=True)
    console.print(_timing_table([{**ROW, **BESIDE_FP32}]))
    assert "ff[schedule=simultaneous]" in console.export_text()
