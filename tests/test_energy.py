"""Energy from hardware counters (ffbench.energy) on a fake powercap tree and a fake pynvml:
which domains are summed, hand-computed deltas with wraparound, counters that cannot be read, the
NVML part, and the training record that carries the reading."""

from __future__ import annotations

import os
import sys
import threading
import time
import types
from pathlib import Path

import pytest
import torch

from ffbench import energy
from ffbench.energy import POWERCAP_ROOT_ENV, EnergyMeter, powercap_root
from ffbench.training_record import ENERGY_PREDATES, MeasureTraining, TrainingRecord

CPU = torch.device("cpu")
NOT_CUDA = "NVML: not on CUDA (device cpu)"
RAPL_ONLY = "rapl:package-0+package-1 (CPU packages only, all processes)"


def domain(root: Path, dirname: str, name: str, energy_uj: int, max_uj: int = 10**12) -> Path:
    path = root / dirname
    path.mkdir(parents=True)
    (path / "name").write_text(name + "\n")
    (path / "max_energy_range_uj").write_text(f"{max_uj}\n")
    set_uj(path, energy_uj)
    return path


def set_uj(path: Path, value: int) -> None:
    """Replace the counter at once, as sysfs does (a reader never sees a half-written file)."""
    tmp = path / "energy_uj.tmp"
    tmp.write_text(f"{value}\n")
    os.replace(tmp, path / "energy_uj")


@pytest.fixture
def tree(tmp_path, monkeypatch) -> dict[str, Path]:
    """Two packages, plus what a real /sys/class/powercap also holds and must not be added: the
    control-type directory, a package's sub-domain (listed at the top level as in sysfs) and the
    MMIO duplicate of package 0."""
    root = tmp_path / "powercap"
    (root / "intel-rapl").mkdir(parents=True)
    (root / "intel-rapl" / "enabled").write_text("1\n")
    paths = {
        "p0": domain(root, "intel-rapl:0", "package-0", 1_000_000),
        "p1": domain(root, "intel-rapl:1", "package-1", 2_000_000),
        "core": domain(root, "intel-rapl:0:0", "core", 500_000),
        "mmio": domain(root, "intel-rapl-mmio:0", "package-0", 1_000_000),
    }
    monkeypatch.setenv(POWERCAP_ROOT_ENV, str(root))
    return paths


def test_the_root_is_sys_class_powercap_unless_the_environment_names_another(monkeypatch, tmp_path):
    monkeypatch.delenv(POWERCAP_ROOT_ENV, raising=False)
    assert powercap_root() == Path("/sys/class/powercap")
    monkeypatch.setenv(POWERCAP_ROOT_ENV, str(tmp_path))
    assert powercap_root() == tmp_path


def test_packages_are_summed_and_sub_domains_and_mmio_are_not(tree):
    meter = EnergyMeter(CPU, poll_s=None)
    meter.start()
    set_uj(tree["p0"], 4_500_000)  # +3.5 J
    set_uj(tree["p1"], 2_250_000)  # +0.25 J
    set_uj(tree["core"], 100_500_000)  # +100 J, inside package 0: not added
    set_uj(tree["mmio"], 51_000_000)  # +50 J, package 0 again: not added
    reading = meter.stop()
    assert reading.joules == pytest.approx(3.75)
    assert reading.method == RAPL_ONLY


def test_one_wraparound_between_start_and_stop_adds_the_range(tree):
    set_uj(tree["p0"], 9_000_000)
    (tree["p0"] / "max_energy_range_uj").write_text("10000000\n")
    meter = EnergyMeter(CPU, poll_s=None)
    meter.start()
    set_uj(tree["p0"], 500_000)  # 500 000 - 9 000 000 + 10 000 000 = 1.5 J
    set_uj(tree["p1"], 3_000_000)  # + 1 J
    assert meter.stop().joules == pytest.approx(2.5)


def test_reads_in_between_follow_several_wraparounds(tree):
    """Range 10 J: 0 -> 8 -> (wrap) 6 -> (wrap) 4 is 8 + 8 + 8 = 24 J; start and stop alone would
    see 4 J."""
    (tree["p0"] / "max_energy_range_uj").write_text("10000000\n")
    set_uj(tree["p0"], 0)
    meter = EnergyMeter(CPU, poll_s=None)
    meter.start()
    for value in (8_000_000, 6_000_000):
        set_uj(tree["p0"], value)
        meter.sample()
    set_uj(tree["p0"], 4_000_000)
    assert meter.stop().joules == pytest.approx(24.0)


def test_the_background_thread_reads_the_counters_during_the_block(tree):
    (tree["p0"] / "max_energy_range_uj").write_text("10000000\n")
    set_uj(tree["p0"], 0)
    meter = EnergyMeter(CPU, poll_s=0.005)
    meter.start()
    for value in (8_000_000, 6_000_000):
        set_uj(tree["p0"], value)
        deadline = time.monotonic() + 10
        while meter.rapl.domains[0].last_uj != value and time.monotonic() < deadline:
            time.sleep(0.005)
        assert meter.rapl.domains[0].last_uj == value  # the thread has read it
    set_uj(tree["p0"], 4_000_000)
    assert meter.stop().joules == pytest.approx(24.0)
    assert meter._thread is None


def test_a_psys_domain_is_not_added_to_the_packages_it_contains(tree):
    psys = domain(tree["p0"].parent, "intel-rapl:2", "psys", 0)
    meter = EnergyMeter(CPU, poll_s=None)
    meter.start()
    set_uj(tree["p0"], 2_000_000)
    set_uj(psys, 90_000_000)
    reading = meter.stop()
    assert reading.joules == pytest.approx(1.0) and reading.method == RAPL_ONLY


def test_no_powercap_directory_is_not_measured_and_says_why(tmp_path, monkeypatch):
    absent = tmp_path / "absent"
    monkeypatch.setenv(POWERCAP_ROOT_ENV, str(absent))
    meter = EnergyMeter(CPU)
    meter.start()
    reading = meter.stop()
    assert reading.joules is None
    assert reading.method == (
        f"not measured: RAPL: no RAPL counters: {absent} does not exist (no powercap driver, or not Linux); " + NOT_CUDA
    )


def test_a_powercap_directory_without_packages_is_not_measured(tmp_path, monkeypatch):
    (tmp_path / "intel-rapl").mkdir()
    monkeypatch.setenv(POWERCAP_ROOT_ENV, str(tmp_path))
    meter = EnergyMeter(CPU)
    meter.start()
    reading = meter.stop()
    assert reading.joules is None
    assert (
        reading.method
        == f"not measured: RAPL: no RAPL counters: no package domain (intel-rapl:N) under {tmp_path}; " + NOT_CUDA
    )


def test_one_unreadable_package_means_no_rapl_reading_not_a_partial_sum(tree):
    """A directory where the file should be fails to read, as root too."""
    (tree["p1"] / "energy_uj").unlink()
    (tree["p1"] / "energy_uj").mkdir()
    meter = EnergyMeter(CPU)
    meter.start()
    set_uj(tree["p0"], 4_500_000)
    reading = meter.stop()
    assert reading.joules is None
    assert reading.method.startswith(f"not measured: RAPL: cannot read {tree['p1'] / 'energy_uj'}: IsADirectoryError")
    assert reading.method.endswith("; " + NOT_CUDA)


def test_a_root_only_counter_says_so(tree, monkeypatch):
    """energy_uj readable by root only (kernels since 2020), as an unprivileged user sees it."""
    read_text = Path.read_text

    def denied(self, *args, **kwargs):
        if self.name == "energy_uj":
            raise PermissionError(13, "Permission denied", str(self))
        return read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", denied)
    meter = EnergyMeter(CPU)
    meter.start()
    reading = meter.stop()
    assert reading.joules is None
    assert reading.method.startswith(
        f"not measured: RAPL: cannot read {tree['p0'] / 'energy_uj'} (Permission denied): "
        "since the 2020 PLATYPUS fix (CVE-2020-8694) energy_uj is readable by root only"
    )


def test_a_counter_that_disappears_during_the_block_gives_no_reading(tree):
    meter = EnergyMeter(CPU, poll_s=None)
    meter.start()
    (tree["p1"] / "energy_uj").unlink()
    reading = meter.stop()
    assert reading.joules is None
    assert reading.method.startswith(f"not measured: RAPL: cannot read {tree['p1'] / 'energy_uj'}: FileNotFoundError")


# -- NVML ----------------------------------------------------------------------------------------


class FakeNVMLError(Exception):
    pass


def fake_pynvml(monkeypatch, millijoules: list[int] | Exception) -> types.SimpleNamespace:
    """A pynvml whose energy counter returns ``millijoules`` in turn (or raises the exception)."""
    calls = types.SimpleNamespace(uuids=[], shutdown=0)

    def energy_mj(handle):
        assert handle == "handle-of-GPU-abc"
        if isinstance(millijoules, Exception):
            raise millijoules
        return millijoules.pop(0)

    def by_uuid(uuid):
        calls.uuids.append(uuid)
        return f"handle-of-{uuid}"

    def shutdown():
        calls.shutdown += 1

    module = types.ModuleType("pynvml")
    module.NVMLError = FakeNVMLError
    module.nvmlInit = lambda: None
    module.nvmlShutdown = shutdown
    module.nvmlDeviceGetHandleByUUID = by_uuid
    module.nvmlDeviceGetTotalEnergyConsumption = energy_mj
    monkeypatch.setitem(sys.modules, "pynvml", module)
    monkeypatch.setattr(energy, "cuda_uuid", lambda index: "GPU-abc" if index == 0 else None)
    return calls


GPU = torch.device("cuda", 0)


def test_rapl_and_nvml_are_summed_and_the_method_says_so(tree, monkeypatch):
    calls = fake_pynvml(monkeypatch, [1_000_000, 1_250_000])  # 250 J
    meter = EnergyMeter(GPU, poll_s=None)
    meter.start()
    set_uj(tree["p0"], 4_500_000)  # 3.5 J
    set_uj(tree["p1"], 2_250_000)  # 0.25 J
    reading = meter.stop()
    assert reading.joules == pytest.approx(253.75)
    assert reading.method == (
        "rapl:package-0+package-1 (CPU packages) + nvml:cuda:0 (whole GPU), summed; all processes"
    )
    assert calls.uuids == ["GPU-abc"] and calls.shutdown == 1


def test_nvml_alone_names_the_cpu_part_it_misses(tmp_path, monkeypatch):
    monkeypatch.setenv(POWERCAP_ROOT_ENV, str(tmp_path / "absent"))
    fake_pynvml(monkeypatch, [5_000, 7_500])
    meter = EnergyMeter(GPU)
    meter.start()
    reading = meter.stop()
    assert reading.joules == pytest.approx(2.5)
    assert reading.method == (
        "nvml:cuda:0 (whole GPU, all processes); CPU not measured: RAPL: no RAPL counters: "
        f"{tmp_path / 'absent'} does not exist (no powercap driver, or not Linux)"
    )


def test_an_nvml_error_leaves_rapl_alone_and_names_the_error(tree, monkeypatch):
    calls = fake_pynvml(monkeypatch, FakeNVMLError("Not Supported"))
    meter = EnergyMeter(GPU, poll_s=None)
    meter.start()
    set_uj(tree["p0"], 2_000_000)  # 1 J
    reading = meter.stop()
    assert reading.joules == pytest.approx(1.0)
    assert reading.method == (
        RAPL_ONLY + "; GPU not measured: NVML: NVML failed for cuda:0: FakeNVMLError: Not Supported"
    )
    assert calls.shutdown == 1


def test_on_cuda_without_pynvml_nor_rapl_nothing_is_measured(tmp_path, monkeypatch):
    monkeypatch.setenv(POWERCAP_ROOT_ENV, str(tmp_path / "absent"))
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import fails
    meter = EnergyMeter(GPU)
    meter.start()
    reading = meter.stop()
    assert reading.joules is None
    assert reading.method.endswith("; NVML: pynvml (package nvidia-ml-py) is not installed")


# -- the meter's life cycle ---------------------------------------------------------------------


def test_a_second_stop_returns_the_first_reading_without_reading_the_counters_again(tree, monkeypatch):
    calls = fake_pynvml(monkeypatch, [1_000_000, 1_250_000])  # 250 J; a third read would fail (empty list)
    meter = EnergyMeter(GPU, poll_s=None)
    meter.start()
    set_uj(tree["p0"], 4_500_000)  # 3.5 J
    first = meter.stop()
    assert first.joules == pytest.approx(253.5)
    assert calls.shutdown == 1 and meter.nvml is None and not meter.running
    set_uj(tree["p0"], 9_500_000)  # the counter goes on: +5 J that the block did not use
    again = meter.stop()
    assert again is first and again.joules == pytest.approx(253.5)
    assert calls.shutdown == 1  # NVML is shut down once


def test_stop_before_start_raises():
    with pytest.raises(RuntimeError, match=r"stop\(\) called before start\(\): no block was measured"):
        EnergyMeter(CPU).stop()


def test_start_while_measuring_raises_and_the_block_goes_on(tree):
    meter = EnergyMeter(CPU, poll_s=0.005)
    meter.start()
    poller = meter._thread
    with pytest.raises(RuntimeError, match="start\\(\\) called while a block is already being measured"):
        meter.start()
    assert meter._thread is poller and poller.is_alive()
    set_uj(tree["p0"], 2_000_000)  # 1 J since the first start, not since the failed second one
    assert meter.stop().joules == pytest.approx(1.0)
    assert not poller.is_alive() and meter._thread is None


def test_a_stopped_meter_starts_a_new_block(tree):
    meter = EnergyMeter(CPU, poll_s=None)
    meter.start()
    set_uj(tree["p0"], 2_000_000)  # 1 J
    assert meter.stop().joules == pytest.approx(1.0)
    meter.start()
    set_uj(tree["p0"], 4_000_000)  # 2 J in the second block
    assert meter.stop().joules == pytest.approx(2.0)


class ThreadThatCannotStart(threading.Thread):
    """As when the process has no thread left to give: Thread.start raises."""

    def start(self):
        raise RuntimeError("can't start new thread")


def no_new_threads(monkeypatch) -> None:
    """ffbench.energy alone cannot start a thread (the rest of the process can)."""
    patched = types.SimpleNamespace(Thread=ThreadThatCannotStart, Event=threading.Event, Lock=threading.Lock)
    monkeypatch.setattr(energy, "threading", patched)


def test_a_start_that_fails_shuts_nvml_down_and_leaves_the_meter_stopped(tree, monkeypatch):
    calls = fake_pynvml(monkeypatch, [1_000_000])
    no_new_threads(monkeypatch)
    meter = EnergyMeter(GPU, poll_s=0.005)
    with pytest.raises(RuntimeError, match="can't start new thread"):
        meter.start()
    assert calls.shutdown == 1 and meter.nvml is None and meter._thread is None and not meter.running
    with pytest.raises(RuntimeError, match="before start"):
        meter.stop()


# -- the training record ---------------------------------------------------------------------------


def test_measure_training_puts_the_reading_in_the_record_shared_by_stacked_seeds(tree):
    with MeasureTraining(CPU) as m:
        set_uj(tree["p0"], 4_500_000)  # the counters advance during the fit: 3.5 + 0.25 J
        set_uj(tree["p1"], 2_250_000)
    one, shared = m.record("cpu"), m.record("cpu", stacked_seeds=3)
    assert one.energy_joules == pytest.approx(3.75) and one.energy_method == RAPL_ONLY
    assert shared.energy_joules == pytest.approx(1.25) and shared.energy_method == RAPL_ONLY


def test_measure_training_without_counters_records_none_and_why(tmp_path, monkeypatch):
    monkeypatch.setenv(POWERCAP_ROOT_ENV, str(tmp_path / "absent"))
    with MeasureTraining(CPU) as m:
        pass
    rec = m.record("cpu")
    assert rec.energy_joules is None and rec.energy_method.startswith("not measured: RAPL: no RAPL counters")


def test_the_energy_round_trips_through_cache_meta_and_older_entries_say_they_predate_it():
    rec = TrainingRecord(1.0, None, "n", None, "m", "cpu", energy_joules=12.5, energy_method="rapl:package-0 (...)")
    back = TrainingRecord.from_meta({"training": rec.to_meta()})
    assert (back.energy_joules, back.energy_method, back.cached) == (12.5, "rapl:package-0 (...)", True)
    before = {k: v for k, v in rec.to_meta().items() if not k.startswith("energy")}
    old = TrainingRecord.from_meta({"training": before})
    assert old.energy_joules is None and old.energy_method == ENERGY_PREDATES
    legacy = TrainingRecord.from_meta({"train_seconds": 3.0})
    assert legacy.energy_joules is None and "predates training records" in legacy.energy_method


def measurement_threads() -> list[str]:
    names = ("ffbench-rapl-poller", "ffbench-rss-sampler")
    return [t.name for t in threading.enumerate() if t.name in names]


def test_an_exception_in_the_block_propagates_and_every_thread_is_stopped(tree):
    error = ValueError("bad batch")
    with pytest.raises(ValueError) as raised:
        with MeasureTraining(CPU) as m:
            poller, sampler = m.energy_meter._thread, m.memory._thread
            assert poller.is_alive() and sampler.is_alive()
            set_uj(tree["p0"], 4_500_000)  # 3.5 J before the failure
            raise error
    assert raised.value is error
    assert not poller.is_alive() and not sampler.is_alive() and measurement_threads() == []
    assert m.energy_meter._thread is None and m.memory._thread is None
    assert m.energy.joules == pytest.approx(3.5) and m.energy.method == RAPL_ONLY


def test_an_energy_meter_that_fails_to_start_leaves_no_memory_sampler_running(tree, monkeypatch):
    no_new_threads(monkeypatch)  # the meter's poller cannot start; the memory sampler can
    m = MeasureTraining(CPU)
    seen: list[list[str]] = []
    start = m.energy_meter.start

    def start_and_note_the_threads():
        seen.append(measurement_threads())
        start()

    monkeypatch.setattr(m.energy_meter, "start", start_and_note_the_threads)
    with pytest.raises(RuntimeError, match="can't start new thread"):
        with m:
            pytest.fail("the block must not run")
    assert seen == [["ffbench-rss-sampler"]]  # it was running when the meter failed
    assert measurement_threads() == [] and m.memory._thread is None


def fake_cuda(monkeypatch, error: RuntimeError) -> None:
    """torch.cuda as PeakMemory and MeasureTraining see it, whose synchronize fails after the first
    call (a kernel of the block failed: CUDA reports it at the next synchronisation)."""
    synchronized: list[int] = []

    def synchronize(device=None):
        synchronized.append(1)
        if len(synchronized) > 1:
            raise error

    monkeypatch.setattr(torch.cuda, "synchronize", synchronize)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: 0)
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda device=None: None)
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: 0)


def test_a_failing_cuda_synchronize_at_the_end_still_stops_the_meter_and_is_raised(tree, monkeypatch):
    calls = fake_pynvml(monkeypatch, [1_000_000, 1_250_000])  # 250 J
    error = RuntimeError("CUDA error: an illegal memory access was encountered")
    fake_cuda(monkeypatch, error)
    with pytest.raises(RuntimeError) as raised, pytest.warns(RuntimeWarning, match="besides the RuntimeError raised"):
        with MeasureTraining(GPU) as m:
            poller = m.energy_meter._thread
            assert poller.is_alive()
    assert raised.value is error
    assert not poller.is_alive() and measurement_threads() == []
    assert calls.shutdown == 1 and m.energy_meter.nvml is None
    assert m.energy.joules == pytest.approx(250.0) and m.seconds >= 0


def test_a_cleanup_failure_after_the_block_raised_is_a_warning_not_the_error(tree, monkeypatch):
    calls = fake_pynvml(monkeypatch, [1_000_000, 1_250_000])
    fake_cuda(monkeypatch, RuntimeError("CUDA error: an illegal memory access was encountered"))
    error = ValueError("bad batch")
    with (
        pytest.raises(ValueError) as raised,
        pytest.warns(RuntimeWarning, match=r"while ValueError \(bad batch\) propagated: RuntimeError: CUDA error"),
    ):
        with MeasureTraining(GPU) as m:
            poller = m.energy_meter._thread
            raise error
    assert raised.value is error
    assert not poller.is_alive() and calls.shutdown == 1 and m.energy_meter.nvml is None
