"""Stopping a re-run that runs past what is left of the verifier's budget.

The runner records an :class:`Exception` raised inside a point as a failed row and goes on, so
the stop is :class:`OverBudget`, a :class:`BaseException`, which leaves the run (and the re-run's
temporary results) at once. It is raised at the first of:

- the next thing the run reports (:class:`DeadlineReporter`: a rule's progress or log line, a
  point starting or finishing), a safe point between two steps;
- on the main thread of a Unix process, a ``SIGALRM`` timer at the deadline, for a stretch that
  reports nothing (a metric's evaluation, a rule that never reports progress). The re-run writes
  only into its own temporary folder without the model cache, so stopping it there loses nothing
  but the re-run.

Either way the timer and the previous ``SIGALRM`` handler are restored on the way out.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from ffbench.runner import Reporter, SilentReporter


class OverBudget(BaseException):
    """A re-run stopped at its deadline (seconds allowed in ``args[0]``)."""


class DeadlineReporter:
    """``inner`` (the caller's reporter), raising :class:`OverBudget` once ``deadline`` (a
    :func:`time.monotonic` time) has passed."""

    def __init__(self, inner: Reporter | None, deadline: float, allowed: float):
        self.inner = inner or SilentReporter()
        self.deadline, self.allowed = deadline, allowed

    def check(self) -> None:
        if time.monotonic() > self.deadline:
            raise OverBudget(self.allowed)

    def start(self, total_points):
        self.check()
        self.inner.start(total_points)

    def point_started(self, index, point):
        self.check()
        self.inner.point_started(index, point)

    def progress(self, done, total, description):
        self.check()
        self.inner.progress(done, total, description)

    def log(self, message):
        self.check()
        self.inner.log(message)

    def point_finished(self, index, point, status, seconds):
        self.inner.point_finished(index, point, status, seconds)
        self.check()


def _raise_over_budget(allowed: float):
    def handler(signum, frame):
        raise OverBudget(allowed)

    return handler


@contextmanager
def deadline(seconds: float, reporter: Reporter | None = None) -> Iterator[DeadlineReporter]:
    """A reporter for a run that must stop within ``seconds`` (:class:`OverBudget` raised out of the
    ``with`` block past it), with the ``SIGALRM`` timer armed where it can be."""
    allowed = max(float(seconds), 0.0)
    watched = DeadlineReporter(reporter, time.monotonic() + allowed, allowed)
    timer = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not timer:
        yield watched
        return
    previous = signal.signal(signal.SIGALRM, _raise_over_budget(allowed))
    signal.setitimer(signal.ITIMER_REAL, max(allowed, 1e-3))
    try:
        yield watched
    finally:
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
        finally:
            signal.signal(signal.SIGALRM, previous)
