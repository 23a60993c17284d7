"""Test accuracy, overall and per class."""

from __future__ import annotations

import ffbench
from ffbench.contracts import Evaluation, Metric, MetricResult, MetricRow


class Accuracy(Metric):
    name = "accuracy"
    version = "1"
    description = "test accuracy, overall and per class"
    higher_is_better = True
    stat_help = {
        "accuracy": "share of test images classified correctly, 0 .. 1",
    }

    def compute(self, ev: Evaluation) -> MetricResult:
        correct, y = ev.correct.float(), ev.y
        rows = [MetricRow("accuracy", float(correct.mean()))]
        for c, name in enumerate(ev.classes):
            mask = y == c
            if mask.any():
                rows.append(MetricRow("accuracy", float(correct[mask].mean()), cls=name))
        return MetricResult(rows)


@ffbench.hookimpl
def ffbench_register_metrics(register):
    register(Accuracy)
