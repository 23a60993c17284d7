"""Progress of a run on stderr, with the time left per run point and for the whole grid.

On a terminal: rich progress bars (points done, the current training) with an ETA column. When
stderr is not a terminal (a log file, CI, ``nohup``): one plain line per finished run point with
its label, status, seconds and the grid's ETA, and, during a long training, a line at most every
:data:`PLAIN_EVERY_S` seconds, so a log never stays silent for minutes.

The estimates (:class:`Eta`) come from what the runner reports: a point's share of training done
is the ``done / total`` a rule passes to ``TrainContext.progress`` (its epochs or steps), the grid's
from the points finished so far.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Column
from rich.text import Text

from ffbench.cli.console import err
from ffbench.untrusted import literal

#: when stderr is not a terminal: at most one line per this many seconds while a point trains
PLAIN_EVERY_S = 30.0


def clock_text(seconds: float | None) -> str:
    """``0:42``, ``12:05``, ``1:02:03``; ``?`` when unknown."""
    if seconds is None:
        return "?"
    s = max(0, round(seconds))
    h, m = divmod(s, 3600)
    m, s = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Eta:
    """Time-left estimates of a run of ``total`` points run one after the other (or by an
    executor that reports finished points only).

    A point's: its elapsed time times (1 - f) / f, with f the share of its training done (the
    rule's ``done / total``); unknown before its first report. The grid's: the current point's
    time left plus the points not started times the seconds a point took so far (wall time of the
    finished points / their number; before any finished, the current point's projected total).
    ``clock`` is injectable for tests."""

    def __init__(self, total: int, clock: Callable[[], float] = time.monotonic):
        self.total, self.clock = total, clock
        self.t_start = clock()
        self.finished = 0
        self.t_point: float | None = None  # start of the point in progress, None between points
        self.fraction: float | None = None  # share of the current point's training done
        self.wall_finished = 0.0  # wall time from the start until the last point finished

    def point_started(self) -> None:
        self.t_point, self.fraction = self.clock(), None

    def progress(self, done: float, total: float) -> None:
        if self.t_point is not None and total and total > 0:
            self.fraction = min(max(done / total, 0.0), 1.0)

    def point_finished(self) -> None:
        self.finished += 1
        self.t_point, self.fraction = None, None
        self.wall_finished = self.clock() - self.t_start

    def elapsed(self) -> float:
        return self.clock() - self.t_start

    def point_left(self) -> float | None:
        if self.t_point is None or not self.fraction:
            return None
        elapsed = self.clock() - self.t_point
        return elapsed * (1 - self.fraction) / self.fraction

    def per_point(self) -> float | None:
        """Seconds a point takes, as measured so far."""
        if self.finished:
            return self.wall_finished / self.finished
        left = self.point_left()
        if left is None or self.t_point is None:
            return None
        return self.clock() - self.t_point + left

    def grid_left(self) -> float | None:
        if self.finished >= self.total:
            return 0.0
        per_point = self.per_point()
        if per_point is None:
            return None
        running = self.t_point is not None
        waiting = self.total - self.finished - (1 if running else 0)
        current = 0.0
        if running:
            left = self.point_left()
            current = left if left is not None else max(per_point - (self.clock() - self.t_point), 0.0)
        return current + waiting * per_point


class EtaColumn(ProgressColumn):
    """``ETA m:ss`` of the grid (task field ``grid=True``) or of the point in training."""

    def __init__(self, eta: Callable[[], Eta | None]):
        super().__init__(table_column=Column(no_wrap=True))
        self.eta = eta

    def render(self, task) -> Text:
        eta = self.eta()
        if eta is None or task.finished:
            return Text("")
        left = eta.grid_left() if task.fields.get("grid") else eta.point_left()
        return Text(f"ETA {clock_text(left)}", style="progress.remaining")


class RichReporter:
    """The runner's reporter for the CLI: progress bars on a terminal, plain lines otherwise;
    nothing with ``quiet``."""

    def __init__(
        self, quiet: bool = False, console: Console | None = None, clock: Callable[[], float] = time.monotonic
    ):
        self.quiet, self.console, self.clock = quiet, console or err, clock
        self.plain = not self.console.is_terminal
        self.eta: Eta | None = None
        self.bar = Progress(
            TextColumn("{task.description}", table_column=Column(no_wrap=True, overflow="ellipsis", max_width=48)),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            EtaColumn(lambda: self.eta),
            console=self.console,
            transient=False,
            disable=quiet or self.plain,
        )
        self.points = None
        self.training = None
        self.label = ""
        self.last_plain = 0.0

    def __enter__(self):
        self.bar.__enter__()
        return self

    def __exit__(self, *exc):
        self.bar.__exit__(*exc)

    @property
    def elapsed(self) -> float:
        """Seconds since the run's first point was announced (0 before)."""
        return self.eta.elapsed() if self.eta else 0.0

    def start(self, total_points: int) -> None:
        self.eta = Eta(total_points, self.clock)
        self.last_plain = self.clock()
        self.points = self.bar.add_task("run points", total=total_points, grid=True)

    def point_started(self, index: int, point) -> None:
        if self.eta:
            self.eta.point_started()
        if self.training is not None:
            self.bar.remove_task(self.training)
        self.label = point.label
        self.training = self.bar.add_task(f"  {literal(point.label)}", total=None)

    def progress(self, done: float, total: float, description: str) -> None:
        if self.training is None:  # an executor's cluster-wide count, not a training's
            return
        if self.eta:
            self.eta.progress(done, total)
        self.bar.update(self.training, completed=done, total=total)
        if self.plain and not self.quiet and self.eta and self.clock() - self.last_plain >= PLAIN_EVERY_S:
            self.last_plain = self.clock()
            self.line(
                f"  training {self.label}: {description}, {done:g}/{total:g} done, "
                f"point ETA {clock_text(self.eta.point_left())}, grid ETA {clock_text(self.eta.grid_left())}"
            )

    def log(self, message: str) -> None:
        if not self.quiet:
            self.console.log(message)

    def line(self, text: str) -> None:
        """One plain line, never wrapped or parsed as markup."""
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def point_finished(self, index: int, point, status: str, seconds: float) -> None:
        if self.eta:
            self.eta.point_finished()
        self.bar.advance(self.points)
        if self.quiet:
            return
        done, total = (self.eta.finished, self.eta.total) if self.eta else (index + 1, index + 1)
        if done < total:
            left = self.eta.grid_left() if self.eta else None
            tail = f"ETA {clock_text(left)} for {total - done} more point(s)"
        else:
            tail = f"all {total} point(s) done in {clock_text(self.elapsed)}"
        if self.plain:
            self.last_plain = self.clock()
            self.line(f"[{done}/{total}] {status} {point.label} in {seconds:.1f} s; {tail}")
        else:
            colour = "green" if status == "ok" else "red"
            self.log(f"[{colour}]{status}[/{colour}] {literal(point.label)} in {seconds:.1f} s; {tail}")
