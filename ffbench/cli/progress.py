"""A rich progress display for the runner (stderr): points done, and the current training."""

from __future__ import annotations

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ffbench.cli.console import err


class RichReporter:
    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=False,
            disable=quiet,
        )
        self.points = None
        self.training = None

    def __enter__(self):
        self.bar.__enter__()
        return self

    def __exit__(self, *exc):
        self.bar.__exit__(*exc)

    def start(self, total_points: int) -> None:
        self.points = self.bar.add_task("run points", total=total_points)

    def point_started(self, index: int, point) -> None:
        if self.training is not None:
            self.bar.remove_task(self.training)
        self.training = self.bar.add_task(f"  {point.label}", total=None)

    def progress(self, done: float, total: float, description: str) -> None:
        if self.training is not None:
            self.bar.update(self.training, completed=done, total=total)

    def log(self, message: str) -> None:
        if not self.quiet:
            err.log(message)

    def point_finished(self, index: int, point, status: str, seconds: float) -> None:
        colour = "green" if status == "ok" else "red"
        self.log(f"[{colour}]{status}[/{colour}] {point.label} in {seconds:.1f} s")
        self.bar.advance(self.points)
