"""What training a model cost: the facts the runner records for every trained (or cache-loaded)
model and attaches to its :class:`~ffbench.contracts.Evaluation` (``ev.training``), for metrics
such as ``cost`` to read.

Definitions (one :class:`TrainingRecord` per model, i.e. per seed):

- ``seconds``: wall-clock seconds of the rule's ``fit`` (``fit_seeds`` when seeds are stacked),
  CUDA work included (the device is synchronised before the clock stops); data loading, the
  cache and metrics are not in it. Seeds trained together share the time equally:
  ``seconds`` = joint seconds / ``stacked_seeds``.
- ``flops``: the rule's own analytic count of one ``fit`` on the training data it was given
  (``LearningRule.training_flops``: matmul FLOPs, 2·m·k·n per product, elementwise work not
  counted); None when the rule does not count them, ``flops_note`` says why.
- ``peak_memory_bytes``: the peak of memory in use during the fit **above the level at its
  start** (the dataset, already on the device, and anything held before are excluded), measured
  as ``memory_method`` says (see :class:`PeakMemory`). For stacked seeds: the peak of the joint
  fit, *not* divided (memory is held at once, not summed over time).
- ``energy_joules``: energy used during the fit, read from the hardware's own counters around it
  (:class:`~ffbench.energy.EnergyMeter`): the RAPL package counters (CPU packages, not DRAM) and,
  on CUDA, the GPU's NVML counter, summed when both exist; ``energy_method`` says which were read
  and what they cover, or why nothing was measured (then ``energy_joules`` is None). Never
  estimated from time or TDP. The counters cover the whole CPU packages / the whole GPU, **all
  processes**: anything else running during the fit is in the number, so it is meaningful on a
  quiet machine only. Stacked seeds: divided equally, as ``seconds`` are
  (``energy_joules`` = joint joules / ``stacked_seeds``), because energy, like time, is spent
  over the joint fit and adds up over the seeds (the records of the seeds sum to the measured
  total), unlike memory, which is held at once. Cache entries written before energy was
  measured load with None and say so.
- ``cached``: True when the model came from the model cache: every number is then the original
  training's, stored with the model, not measured again; ``trained_at`` says when that was.
"""

from __future__ import annotations

import ctypes
import os
import resource
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime, timezone
from functools import partial
from typing import Any

import torch

from ffbench.energy import EnergyMeter

#: how often the CPU sampler reads the resident set size (seconds)
SAMPLE_INTERVAL_S = 0.02

CUDA_METHOD = "cuda-max-allocated"
RSS_METHOD = "rss-peak"
ENERGY_PREDATES = "not recorded: the cache entry predates energy measurement"


@dataclass(frozen=True)
class TrainingRecord:
    """The cost of training one model (definitions in the module docstring)."""

    seconds: float
    flops: int | None
    #: how ``flops`` was counted, or why it was not
    flops_note: str
    peak_memory_bytes: int | None
    #: ``cuda-max-allocated``, ``rss-peak``, or why memory was not measured
    memory_method: str
    #: where it was trained (``ffbench.provenance.device_label``)
    device: str
    #: number of seeds trained together in one ``fit_seeds`` (1: trained alone)
    stacked_seeds: int = 1
    cached: bool = False
    #: when the training finished (UTC, ISO 8601)
    trained_at: str = ""
    #: joules of the fit from hardware counters (per seed when stacked); None: not measured
    energy_joules: float | None = None
    #: which counters ``energy_joules`` sums and what they cover, or why it was not measured
    energy_method: str = "not measured"

    def to_meta(self) -> dict[str, Any]:
        """Plain values for the model cache's meta (``cached`` is not stored: it says where a
        record was read from)."""
        meta = asdict(self)
        meta.pop("cached")
        return meta

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> TrainingRecord:
        """The record of a cached model, ``cached=True``. A cache entry written before records
        existed keeps only its ``train_seconds``; the rest is None and says so."""
        stored = meta.get("training")
        if isinstance(stored, dict):
            names = {f.name for f in fields(cls)} - {"cached"}
            values = {k: v for k, v in stored.items() if k in names}
            values.setdefault("energy_method", ENERGY_PREDATES)
            return cls(**values, cached=True)
        missing = "not recorded: the cache entry predates training records"
        return cls(
            seconds=float(meta.get("train_seconds", float("nan"))),
            flops=None,
            flops_note=missing,
            peak_memory_bytes=None,
            memory_method=missing,
            device="",
            stacked_seeds=int(meta.get("stacked_seeds", 1)),
            cached=True,
            energy_method=missing,
        )

    def with_flops(self, flops: int | None, note: str) -> TrainingRecord:
        return replace(self, flops=flops, flops_note=note)


def count_flops(rule: Any, data: Any, goodness: Any, negatives: Any) -> tuple[int | None, str]:
    """(FLOPs, note) of one ``rule.fit`` on ``data``, from the rule's own ``training_flops``. A
    count that fails is reported as not counted, with the error, rather than failing the point."""
    try:
        flops = rule.training_flops(data, goodness, negatives)
    except Exception as exc:
        return None, f"not counted: {rule.name}.training_flops raised {type(exc).__name__}: {exc}"
    if flops is None:
        return None, (
            f"not counted: rule '{rule.name}' declares no FLOP count for this configuration "
            "(LearningRule.training_flops returned None)"
        )
    return int(flops), "analytic matmul FLOPs (2mkn per product) of one fit, as the rule counts them"


# ---------------------------------------------------------------------------------------
# Peak memory
# ---------------------------------------------------------------------------------------


class PeakMemory:
    """Peak memory in use during a block, above the level at its start.

    - CUDA (``cuda-max-allocated``): ``torch.cuda.max_memory_allocated`` after
      ``reset_peak_memory_stats``, minus ``memory_allocated`` at entry: bytes held by tensors
      through torch's caching allocator, exact. Not included: the allocator's cached but free
      blocks, the CUDA context, cuBLAS/cuDNN workspaces allocated outside torch's allocator.
    - CPU on Linux (``rss-peak``): the process's resident set size (RSS), read from
      /proc/self/statm every :data:`SAMPLE_INTERVAL_S` by a background thread, and the kernel's
      exact high-water mark (``getrusage`` ``ru_maxrss``) when the block raised it; peak minus the
      RSS at entry. Freed heap memory is first handed back to the OS (glibc ``malloc_trim``), so
      pages freed by earlier work are not reused unseen. Limits: RSS counts the whole process
      (other threads, the allocator's retained free memory, one-off library allocations such as
      the first matmul's thread pools and kernels in the first fit of a process), pages mapped
      but never touched are not counted, and a spike shorter than the sampling interval is only
      seen when it raises the process's lifetime high-water mark. Read it as an estimate of the
      working set, comparable between configurations run the same way, not to the byte.
    - Elsewhere: not measured (``peak_bytes`` None, ``method`` says why).
    """

    def __init__(self, device: torch.device, interval_s: float = SAMPLE_INTERVAL_S):
        self.device, self.interval_s = device, interval_s
        self.peak_bytes: int | None = None
        self.method = "not measured: no /proc/self/statm (RSS sampling needs Linux)"
        self._thread: threading.Thread | None = None

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self._start = torch.cuda.memory_allocated(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        elif os.path.exists("/proc/self/statm"):
            _trim_heap()
            self._start = self._peak = rss_bytes()
            self._maxrss_start = max_rss_bytes()
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._sample, name="ffbench-rss-sampler", daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._peak = max(self._peak, rss_bytes())

    def __exit__(self, *exc: Any) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak_bytes = max(0, torch.cuda.max_memory_allocated(self.device) - self._start)
            self.method = CUDA_METHOD
        elif self._thread is not None:
            thread, self._thread = self._thread, None
            self._stop.set()
            thread.join()
            peak = max(self._peak, rss_bytes())
            maxrss = max_rss_bytes()
            if maxrss > self._maxrss_start:  # the block set the process's high-water mark: exact
                peak = max(peak, maxrss)
            self.peak_bytes = max(0, peak - self._start)
            self.method = RSS_METHOD


def rss_bytes() -> int:
    """The process's resident set size now (Linux, /proc/self/statm)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def max_rss_bytes() -> int:
    """The process's lifetime peak RSS (``ru_maxrss``: KiB on Linux, bytes on macOS)."""
    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return value if sys.platform == "darwin" else value * 1024


def _trim_heap() -> None:
    """Return freed heap memory to the OS (glibc only; a no-op elsewhere)."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError, TypeError):
        pass


# ---------------------------------------------------------------------------------------
# Measuring a training
# ---------------------------------------------------------------------------------------


class MeasureTraining:
    """Times a fit and measures its peak memory and energy::

    with MeasureTraining(device) as m:
        models = rule.fit_seeds(...)
    record = m.record(device_label, stacked_seeds=len(models))

    Whatever happens, what was started is stopped: the energy meter (RAPL poller thread, NVML)
    and the memory sampler thread, when the block raises, when ``torch.cuda.synchronize`` fails
    at the end, or when the energy meter fails to start. An exception raised by the block
    propagates unchanged: a failure while cleaning up after it (often the same CUDA error again)
    is reported as a RuntimeWarning, never in its place. When the block succeeded, the first
    cleanup failure is raised once everything has been stopped.
    """

    def __init__(self, device: torch.device, interval_s: float = SAMPLE_INTERVAL_S):
        self.device = device
        self.memory = PeakMemory(device, interval_s)
        self.energy_meter = EnergyMeter(device)

    def __enter__(self) -> MeasureTraining:
        self.memory.__enter__()
        try:
            self.energy_meter.start()
        except BaseException as exc:
            _run_all([partial(self.memory.__exit__, type(exc), exc, exc.__traceback__)], exc)
            raise
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        def synchronize() -> None:
            try:
                if self.device.type == "cuda":
                    torch.cuda.synchronize(self.device)
            finally:
                self.seconds = time.perf_counter() - self._t0

        def stop_energy() -> None:
            self.energy = self.energy_meter.stop()

        _run_all([synchronize, stop_energy, partial(self.memory.__exit__, exc_type, exc, tb)], exc)

    def record(self, device: str, stacked_seeds: int = 1) -> TrainingRecord:
        """The record of one of the ``stacked_seeds`` models trained in the block (FLOPs not yet
        counted: :meth:`TrainingRecord.with_flops`)."""
        joules = self.energy.joules
        return TrainingRecord(
            seconds=self.seconds / stacked_seeds,
            flops=None,
            flops_note="not counted yet",
            peak_memory_bytes=self.memory.peak_bytes,
            memory_method=self.memory.method,
            device=device,
            stacked_seeds=stacked_seeds,
            trained_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            energy_joules=None if joules is None else joules / stacked_seeds,
            energy_method=self.energy.method,
        )


def _run_all(steps: list[Callable[[], Any]], pending: BaseException | None) -> None:
    """Run every cleanup step, even after one fails. ``pending``: the exception already
    propagating (the caller re-raises it), which a cleanup failure must not replace: each failure
    is then a RuntimeWarning. With nothing pending, the first failure is raised once all steps
    have run (any later one is a RuntimeWarning)."""
    errors: list[Exception] = []
    for step in steps:
        try:
            step()
        except Exception as err:
            errors.append(err)
    if pending is None:
        if not errors:
            return
        first, rest = errors[0], errors[1:]
        context = f"besides the {type(first).__name__} raised"
    else:
        first, rest = None, errors
        context = f"while {type(pending).__name__} ({pending}) propagated"
    for err in rest:
        warnings.warn(
            f"MeasureTraining: cleanup also failed {context}: {type(err).__name__}: {err}", RuntimeWarning, stacklevel=3
        )
    if first is not None:
        raise first
