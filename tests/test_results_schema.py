"""Results describe themselves: the headline flag a run records wins over the installed registry."""

from ffbench.leaderboard import board_rows
from ffbench.registry import load_registry
from ffbench.results import headline_flags, to_frame
from ffbench.summary import summary_table


def rows(headline):
    base = {
        "run_id": "r1",
        "status": "ok",
        "metric": "lifetime",
        "metric_id": "lifetime",
        "rule": "ff",
        "dataset": "d",
        "dataset_id": "d",
        "seed": 0,
        "config_hash": "c",
    }
    return to_frame(
        [
            {**base, "stat": "score", "layer": 1, "value": 0.25, "headline": headline},
            {**base, "stat": "extra", "layer": 1, "value": 0.75, "headline": False if headline else None},
        ]
    )


def test_recorded_headline_survives_an_uninstalled_plugin():
    bare = load_registry(use_entry_points=False)  # the plugin that made the rows is not installed
    df = rows(True)
    assert headline_flags(df, bare).tolist() == [True, False]
    assert "lifetime.score L1" in summary_table(df, bare).columns
    assert "lifetime.extra L1" not in summary_table(df, bare).columns
    assert board_rows(df, bare)["headline"].tolist() == [True, False]


def test_rows_of_an_older_ffbench_fall_back_to_the_stat_named_like_the_metric():
    df = rows(None)
    df.loc[0, "stat"] = "lifetime"
    assert headline_flags(df, load_registry(use_entry_points=False)).tolist() == [True, False]
