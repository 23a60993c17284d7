"""Training cost: seconds, analytic FLOPs, peak memory and, where the machine has energy counters,
the energy of the training that made the model (docs/science.md, "Metrics",
going further), as rows, so boards can set quality against cost.

The metric reads the :class:`~ffbench.training_record.TrainingRecord` the runner attaches to every
model it trains or loads from the cache (``Evaluation.training``; definitions there). Rows (whole
model: no layer, no class):

- ``train_seconds``: wall-clock seconds of the fit; seeds trained together share the time equally.
- ``train_flops``: the rule's own analytic count of one fit (matmul FLOPs, 2·m·k·n per product,
  elementwise work not counted). NaN when the rule does not count them: the row is kept (every
  run has the same stats, and a board shows an explicit gap); the reason is in the artifact
  (``cost.json``, ``flops_note``).
- ``gflop_per_second``: train_flops / train_seconds / 1e9, the achieved matmul throughput (NaN
  with train_flops).
- ``peak_memory_mib``: peak memory in use during the fit above the level at its start, in MiB
  (2^20 bytes); on CUDA the allocator's exact peak, on CPU the process's resident set (an
  estimate: see ``ffbench.training_record.PeakMemory``). NaN where it cannot be measured; how it
  was measured is in the artifact (``memory_method``). With stacked seeds: the joint fit's peak.
- ``stacked_seeds``: how many seeds were trained together (1: alone), needed to read the
  rows above.
- ``energy_joules``: joules used during the fit, read from hardware counters
  (``ffbench.energy``): the RAPL package counters (CPU packages, not DRAM) and, on CUDA, the
  GPU's NVML counter, summed when both exist; never estimated from time or TDP. The counters
  cover the whole CPU packages / whole GPU, all processes, so the number is meaningful on a quiet
  machine only. Seeds trained together share it equally, as they share the time. The row exists
  **only where energy was measured**: no NaN row where the machine has no readable counter (most
  machines: RAPL's ``energy_uj`` is root-only since 2020, and NVML needs ``nvidia-ml-py``). The
  artifact always says which counters were read and what they cover, or why nothing was
  (``energy_method``).

Every row of a model reused from the model cache carries the original training's numbers (stored
with the model), never a new measurement; the results' ``cached`` column is then True and the
artifact says when the training ran (``trained_at``).

Headline stats: ``train_seconds`` (the cost a user waits for, machine-dependent),
``train_flops`` (machine-independent, comparable across devices) and ``peak_memory_mib`` (whether
a configuration fits a device). ``gflop_per_second`` measures the implementation's efficiency, not
the rule's cost, so it is not a headline.

Descriptive (``higher_is_better = None``): lower cost is better taken alone, but a board must
not rank cost against quality (an untrained network would win), and seconds depend on the
machine and its load, so they are read next to the quality columns, not ranked.
"""

from __future__ import annotations

import math

import ffbench
from ffbench.contracts import Evaluation, Metric, MetricResult, MetricRow
from ffbench.errors import FFBenchError

MIB = 2**20


class Cost(Metric):
    name = "cost"
    version = "1"
    description = (
        "training seconds, analytic training FLOPs, peak memory and measured energy (where counters exist) of the fit"
    )
    higher_is_better = None
    headline = ("train_seconds", "train_flops", "peak_memory_mib")
    #: machine measurements: ``ffbench verify`` re-runs them without comparing them
    unverified_stats = ("train_seconds", "gflop_per_second", "peak_memory_mib", "stacked_seeds", "energy_joules")
    stat_help = {
        "train_seconds": "wall-clock seconds of the training (depends on the machine and its load); lower = cheaper",
        "train_flops": "analytic matmul FLOPs of one training (machine-independent); lower = cheaper",
        "gflop_per_second": "train_flops / train_seconds / 1e9, the implementation's throughput",
        "peak_memory_mib": "peak memory during training above its level at the start, MiB; lower = cheaper",
    }

    def compute(self, ev: Evaluation) -> MetricResult:
        record = getattr(ev, "training", None)
        if record is None:
            raise FFBenchError(
                "metric 'cost' reads the training facts that `ffbench run` attaches to each model "
                "(Evaluation.training), and this Evaluation has none (training=None): it was made outside "
                "the runner. Pass training=ffbench.training_record.TrainingRecord(...) to Evaluation(...)."
            )
        seconds = float(record.seconds)
        flops = math.nan if record.flops is None else float(record.flops)
        rate = flops / seconds / 1e9 if seconds > 0 else math.nan
        memory = math.nan if record.peak_memory_bytes is None else record.peak_memory_bytes / MIB
        rows = [
            MetricRow("train_seconds", seconds),
            MetricRow("train_flops", flops),
            MetricRow("gflop_per_second", rate),
            MetricRow("peak_memory_mib", memory),
            MetricRow("stacked_seeds", float(record.stacked_seeds)),
        ]
        energy = record.energy_joules
        if energy is not None:
            rows.append(MetricRow("energy_joules", float(energy)))
        return MetricResult(
            rows,
            artifacts={
                "flops_note": record.flops_note,
                "memory_method": record.memory_method,
                "peak_memory_bytes": record.peak_memory_bytes,
                "flops": record.flops,
                "device": record.device,
                "cached": record.cached,
                "trained_at": record.trained_at,
                "stacked_seeds": record.stacked_seeds,
                "energy_joules": energy,
                "energy_method": record.energy_method,
            },
        )


@ffbench.hookimpl
def ffbench_register_metrics(register):
    register(Cost)
