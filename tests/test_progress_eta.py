"""Time left per run point and per grid: the estimates on a hand-driven clock, the progress bars'
ETA column on a terminal, one plain line per finished point elsewhere, and a real run's stderr."""

import io
import re

import pandas as pd
from rich.console import Console
from typer.testing import CliRunner

from ffbench.cli import app
from ffbench.cli.progress import PLAIN_EVERY_S, Eta, RichReporter, clock_text

DATA = "fashion-mnist-mini[train_size=300,test_size=100]"


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class Point:
    def __init__(self, label):
        self.label = label


def test_clock_text():
    assert [clock_text(s) for s in (None, 0, 42.4, 725, 3723)] == ["?", "0:00", "0:42", "12:05", "1:02:03"]


def test_eta_from_the_share_of_training_done_then_from_finished_points():
    clock = Clock()
    eta = Eta(3, clock)
    eta.point_started()
    assert eta.point_left() is None and eta.grid_left() is None  # nothing reported yet
    clock.now = 4.0
    eta.progress(2, 10)  # 20 % in 4 s
    assert eta.point_left() == 16.0  # 4 * 0.8 / 0.2
    assert eta.grid_left() == 16.0 + 2 * 20.0  # the current point's rest, then 2 points of 20 s
    clock.now = 20.0
    eta.point_finished()
    assert eta.grid_left() == 40.0  # 2 points left at 20 s each
    clock.now = 21.0
    eta.point_started()
    clock.now = 26.0
    eta.progress(5, 10)
    assert eta.point_left() == 5.0
    assert eta.grid_left() == 5.0 + 20.0
    clock.now = 30.0
    eta.point_finished()
    clock.now = 31.0
    eta.point_started()  # a rule that reports no progress: the mean point time, less what elapsed
    clock.now = 36.0
    assert eta.point_left() is None and eta.grid_left() == 15.0 - 5.0
    clock.now = 60.0
    eta.point_finished()
    assert eta.grid_left() == 0.0


def test_eta_of_an_executor_that_reports_finished_points_only():
    clock = Clock()
    eta = Eta(4, clock)
    clock.now = 10.0
    eta.point_finished()
    assert eta.grid_left() == 30.0  # 3 points at the 10 s per point seen so far


def drive(reporter, clock):
    reporter.start(3)
    reporter.point_started(0, Point("ff on data (seed 0)"))
    clock.now = 4.0
    reporter.progress(2, 10, "layer 1/2")


def test_the_terminal_bars_show_an_eta_per_point_and_for_the_grid():
    clock = Clock()
    console = Console(file=io.StringIO(), force_terminal=True, width=120)
    reporter = RichReporter(console=console, clock=clock)
    assert not reporter.plain
    drive(reporter, clock)
    sink = Console(file=io.StringIO(), width=120, color_system=None)
    sink.print(reporter.bar.make_tasks_table(reporter.bar.tasks))
    lines = sink.file.getvalue().splitlines()
    assert "run points" in lines[0] and lines[0].rstrip().endswith("ETA 0:56")  # 16 + 2 x 20
    assert "ff on data (seed 0)" in lines[1] and lines[1].rstrip().endswith("ETA 0:16")


def test_without_a_terminal_one_plain_line_per_finished_point():
    clock = Clock()
    console = Console(file=io.StringIO(), force_terminal=False, width=80)
    reporter = RichReporter(console=console, clock=clock)
    assert reporter.plain
    drive(reporter, clock)
    assert console.file.getvalue() == ""  # no bars, and nothing yet
    clock.now = PLAIN_EVERY_S + 1  # a long training: one line at most every PLAIN_EVERY_S seconds
    reporter.progress(5, 10, "layer 1/2")
    reporter.progress(6, 10, "layer 2/2")
    clock.now = 62.0
    reporter.point_finished(0, Point("ff on data (seed 0)"), "ok", 62.0)
    for i, status in ((1, "ok"), (2, "failed")):
        reporter.point_started(i, Point(f"ff[epochs=5] on data (seed {i})"))
        clock.now += 10
        reporter.point_finished(i, Point(f"ff[epochs=5] on data (seed {i})"), status, 10.0)
    assert console.file.getvalue().splitlines() == [
        "  training ff on data (seed 0): layer 1/2, 5/10 done, point ETA 0:31, grid ETA 2:35",
        "[1/3] ok ff on data (seed 0) in 62.0 s; ETA 2:04 for 2 more point(s)",
        "[2/3] ok ff[epochs=5] on data (seed 1) in 10.0 s; ETA 0:36 for 1 more point(s)",
        "[3/3] failed ff[epochs=5] on data (seed 2) in 10.0 s; all 3 point(s) done in 1:22",
    ]


def test_quiet_prints_nothing():
    clock = Clock()
    console = Console(file=io.StringIO(), force_terminal=False)
    reporter = RichReporter(quiet=True, console=console, clock=clock)
    drive(reporter, clock)
    reporter.point_finished(0, Point("ff"), "ok", 4.0)
    reporter.log("a rule's log")
    assert console.file.getvalue() == ""


def test_a_run_without_a_terminal_prints_a_line_per_point_with_eta_and_where_the_results_are(tmp_path):
    out = tmp_path / "r.parquet"
    result = CliRunner(env={"COLUMNS": "100"}).invoke(
        app,
        [
            "run",
            "--rule",
            "ff[layers=2,width=32,epochs=2]",
            "--seeds",
            "2",
            "--metric",
            "accuracy,sparsity",
            "--dataset",
            DATA,
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    finished = [line for line in result.stderr.splitlines() if re.match(r"\[\d/2\] ", line)]
    assert len(finished) == 2, result.stderr
    label = r"ff\[.*\] / l2 / wrong-label on fashion-mnist-mini\[.*\]"
    assert re.fullmatch(rf"\[1/2\] ok {label} \(seed 0\) in \d+\.\d s; ETA \d+:\d\d for 1 more point\(s\)", finished[0])
    assert re.fullmatch(rf"\[2/2\] ok {label} \(seed 1\) in \d+\.\d s; all 2 point\(s\) done in \d+:\d\d", finished[1])
    tail = result.stderr.strip().splitlines()[-4:]  # the results path and how to read it, at the end
    assert tail[0].startswith(f"Results: {out} (2 run point(s) added in ")
    assert tail[1].split("#")[0].strip() == f"ffbench report {out}"
    assert tail[2].split("#")[0].strip() == f"ffbench results info {out}"
    assert tail[3] == f"  python -c 'import pandas as pd; print(pd.read_parquet(\"{out}\"))'"
    assert len(pd.read_parquet(out)["run_id"].unique()) == 2
