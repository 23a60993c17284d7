"""Energy used by a block of work, read from the hardware's own energy counters, never estimated.

Two counters are read, where the machine exposes them:

- **RAPL** (Intel, and AMD Zen through the same Linux powercap interface): every top-level
  package domain ``<root>/intel-rapl:N`` whose ``name`` is ``package-N``, file ``energy_uj``
  (microjoules, increasing, wrapping to 0 after ``max_energy_range_uj``). ``<root>`` is
  :data:`POWERCAP_ROOT` (``/sys/class/powercap``) unless the environment variable
  ``FFBENCH_POWERCAP_ROOT`` names another. What it covers: the CPU packages (cores, caches,
  uncore, integrated graphics), **not** DRAM (the ``dram`` sub-domain of server parts is separate
  energy and is not added), disks, fans, the GPU or power-supply losses. Sub-domains
  (``intel-rapl:N:M``: core, uncore, dram) are not added; a top-level ``psys`` domain (the whole
  platform, which contains the packages) is skipped so nothing is counted twice; the duplicate
  ``intel-rapl-mmio:N`` interface is not read. The counters are read at the start, at the end, and
  every :data:`RAPL_POLL_S` seconds in between by a background thread, so a counter that wraps
  (about every 262 kJ on current parts, some 15 minutes at 300 W) is followed whatever the length
  of the block: one wrap between two reads adds ``max_energy_range_uj``. A counter that cannot be
  read (since the 2020 PLATYPUS fix, CVE-2020-8694, ``energy_uj`` is readable by root only) makes
  RAPL "not available", with the reason; a partial sum over the readable packages is never
  reported.
- **NVML** (NVIDIA), only when the block runs on a CUDA device and ``pynvml`` (package
  ``nvidia-ml-py``, an optional import, not a dependency) is importable:
  ``nvmlDeviceGetTotalEnergyConsumption`` (millijoules since the driver loaded; Volta and later)
  of the GPU torch calls ``cuda:N``, found by its UUID (NVML's indices ignore
  ``CUDA_VISIBLE_DEVICES``). Any NVML error makes it "not available", with the error.

Both counters measure **the whole CPU packages / the whole GPU, all processes**: whatever else
runs on the machine during the block is in the number, so it is meaningful on a quiet machine
only. When both are available the reading is their sum (CPU packages + GPU) and
:attr:`EnergyReading.method` says so; when only one is, it is reported alone and ``method`` names
the part that was not measured and why; when none is, ``joules`` is None. Nothing is ever derived
from time, TDP or utilisation.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import torch

#: where Linux exposes the powercap (RAPL) counters; ``FFBENCH_POWERCAP_ROOT`` overrides it
POWERCAP_ROOT = "/sys/class/powercap"
POWERCAP_ROOT_ENV = "FFBENCH_POWERCAP_ROOT"
#: how often (seconds) the RAPL counters are read during a block, to follow their wraparound
RAPL_POLL_S = 10.0

_PACKAGE_DIR = re.compile(r"intel-rapl:(\d+)")


@dataclass(frozen=True)
class EnergyReading:
    """Energy of one block: ``joules`` (None when nothing was measured) and ``method``, which
    counters were summed and what they cover, or why nothing was measured."""

    joules: float | None
    method: str


class Unavailable(Exception):
    """A counter that cannot be read here; the message says why."""


def powercap_root() -> Path:
    return Path(os.environ.get(POWERCAP_ROOT_ENV) or POWERCAP_ROOT)


def _read_int(path: Path) -> int:
    try:
        return int(path.read_text().strip())
    except PermissionError as exc:
        raise Unavailable(
            f"cannot read {path} ({exc.strerror}): since the 2020 PLATYPUS fix (CVE-2020-8694) "
            "energy_uj is readable by root only; run as root or make it readable"
        ) from exc
    except (OSError, ValueError) as exc:
        raise Unavailable(f"cannot read {path}: {type(exc).__name__}: {exc}") from exc


@dataclass
class _Domain:
    name: str
    energy_file: Path
    max_range_uj: int
    last_uj: int
    total_uj: int = 0


class RaplCounters:
    """The summed RAPL package counters from construction on (see the module docstring).
    Raises :class:`Unavailable` when any package cannot be read."""

    def __init__(self, root: Path):
        if not root.is_dir():
            raise Unavailable(f"no RAPL counters: {root} does not exist (no powercap driver, or not Linux)")
        tops = sorted((int(m.group(1)), p) for p in root.iterdir() if (m := _PACKAGE_DIR.fullmatch(p.name)))
        if not tops:
            raise Unavailable(f"no RAPL counters: no package domain (intel-rapl:N) under {root}")
        self.domains: list[_Domain] = []
        for _, path in tops:
            try:
                name = (path / "name").read_text().strip()
            except OSError:
                name = path.name
            if not name.startswith("package"):
                continue  # psys: the whole platform, packages included
            max_range = _read_int(path / "max_energy_range_uj")
            if max_range <= 0:
                raise Unavailable(f"{path / 'max_energy_range_uj'} is {max_range}: cannot follow a wraparound")
            now = _read_int(path / "energy_uj")
            self.domains.append(_Domain(name, path / "energy_uj", max_range, now))
        if not self.domains:
            raise Unavailable(f"no RAPL counters: no domain named package-N under {root}")

    @property
    def label(self) -> str:
        return "rapl:" + "+".join(d.name for d in self.domains)

    def sample(self) -> None:
        """Add each counter's advance since the last read (one wraparound at most in between)."""
        for d in self.domains:
            now = _read_int(d.energy_file)
            delta = now - d.last_uj
            if delta < 0:
                delta += d.max_range_uj
            d.total_uj += delta
            d.last_uj = now

    @property
    def joules(self) -> float:
        return sum(d.total_uj for d in self.domains) / 1e6


def cuda_uuid(index: int) -> str | None:
    """NVML's name (``GPU-...``) of torch's ``cuda:index``, or None when torch does not give it."""
    uuid = getattr(torch.cuda.get_device_properties(index), "uuid", None)
    if uuid is None:
        return None
    text = str(uuid)
    return text if text.startswith(("GPU-", "MIG-")) else "GPU-" + text


class NvmlCounter:
    """The total-energy counter of the GPU torch calls ``device``, from construction on. Raises
    :class:`Unavailable` when pynvml is missing or NVML fails."""

    def __init__(self, device: torch.device):
        try:
            import pynvml  # optional (nvidia-ml-py, not a dependency): only for a GPU's energy
        except ImportError as exc:
            raise Unavailable("pynvml (package nvidia-ml-py) is not installed") from exc
        self.nvml = pynvml
        index = device.index if device.index is not None else torch.cuda.current_device()
        self.label = f"nvml:cuda:{index}"
        try:
            pynvml.nvmlInit()
        except Exception as exc:
            raise Unavailable(f"NVML failed: nvmlInit: {type(exc).__name__}: {exc}") from exc
        try:
            uuid = cuda_uuid(index)
            if uuid is not None:
                self.handle = pynvml.nvmlDeviceGetHandleByUUID(uuid)
            elif pynvml.nvmlDeviceGetCount() == 1:
                self.handle = pynvml.nvmlDeviceGetHandleByIndex(0)
            else:
                raise Unavailable(f"cannot tell which NVML device is cuda:{index} (torch gives no device UUID)")
            self.start_mj = self._read()
        except Unavailable:
            self.close()
            raise
        except Exception as exc:
            self.close()
            raise Unavailable(f"NVML failed for cuda:{index}: {type(exc).__name__}: {exc}") from exc

    def _read(self) -> int:
        return int(self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle))

    def joules(self) -> float:
        """Joules since construction; raises :class:`Unavailable` on an NVML error."""
        try:
            return (self._read() - self.start_mj) / 1e3
        except Exception as exc:
            raise Unavailable(f"NVML failed at the end: {type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        try:
            self.nvml.nvmlShutdown()
        except Exception:
            pass


class EnergyMeter:
    """Measures the energy of a block on ``device`` (module docstring)::

    meter = EnergyMeter(device)
    meter.start()
    ...  # the work (synchronise CUDA before stopping)
    reading = meter.stop()

    ``poll_s``: how often the RAPL counters are read in between (None: at start and stop only).

    One block at a time: :meth:`start` while a block is being measured raises RuntimeError, and
    so does :meth:`stop` before any :meth:`start` (there is no reading to give). :meth:`stop` is
    idempotent: the first call stops the poller thread, reads the counters, shuts NVML down
    (``nvml`` is then None) and keeps the reading; later calls return that same reading without
    reading any counter again. A meter may be started again after it stopped (a new block, a new
    reading). A :meth:`start` that fails releases what it had started (poller thread, NVML)
    before its error propagates.
    """

    def __init__(self, device: torch.device, poll_s: float | None = RAPL_POLL_S):
        self.device, self.poll_s = device, poll_s
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rapl: RaplCounters | None = None
        self.nvml: NvmlCounter | None = None
        self.rapl_reason = self.nvml_reason = ""
        self._running = False
        self._reading: EnergyReading | None = None

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._running

    def start(self) -> None:
        if self._running:
            raise RuntimeError("EnergyMeter.start() called while a block is already being measured: call stop() first")
        self.rapl, self.nvml, self._reading = None, None, None
        self.rapl_reason = self.nvml_reason = ""
        try:
            try:
                self.rapl = RaplCounters(powercap_root())
            except Unavailable as exc:
                self.rapl_reason = f"RAPL: {exc}"
            if self.device.type == "cuda":
                try:
                    self.nvml = NvmlCounter(self.device)
                except Unavailable as exc:
                    self.nvml_reason = f"NVML: {exc}"
            else:
                self.nvml_reason = f"NVML: not on CUDA (device {self.device})"
            if self.rapl is not None and self.poll_s:
                self._stop = threading.Event()
                self._thread = threading.Thread(target=self._poll, name="ffbench-rapl-poller", daemon=True)
                self._thread.start()
        except BaseException:
            self._release()
            raise
        self._running = True

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_s):
            self.sample()

    def _stop_poller(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            if thread.is_alive():  # not alive: it ended, or never started (Thread.start failed)
                thread.join()

    def _release(self) -> None:
        """Stop the poller thread and shut NVML down (each at most once)."""
        try:
            self._stop_poller()
        finally:
            nvml, self.nvml = self.nvml, None
            if nvml is not None:
                nvml.close()

    def sample(self) -> None:
        """Read the RAPL counters now (the background thread does it every ``poll_s``)."""
        with self._lock:
            if self.rapl is None:
                return
            try:
                self.rapl.sample()
            except Unavailable as exc:
                self.rapl, self.rapl_reason = None, f"RAPL: {exc}"

    def stop(self) -> EnergyReading:
        """The reading of the block since :meth:`start`; the same reading again on later calls."""
        if self._reading is not None and not self._running:
            return self._reading
        if not self._running:
            raise RuntimeError("EnergyMeter.stop() called before start(): no block was measured")
        nvml = self.nvml
        gpu: float | None = None
        try:
            self._stop_poller()
            self.sample()
            if nvml is not None:
                try:
                    gpu = nvml.joules()
                except Unavailable as exc:
                    self.nvml_reason = f"NVML: {exc}"
        finally:
            self._running = False
            self._release()
        self._reading = self._combine(gpu, nvml)
        return self._reading

    def _combine(self, gpu: float | None, nvml: NvmlCounter | None) -> EnergyReading:
        rapl = self.rapl
        if rapl is not None and gpu is not None:
            return EnergyReading(
                rapl.joules + gpu,
                f"{rapl.label} (CPU packages) + {nvml.label} (whole GPU), summed; all processes",
            )
        if rapl is not None:
            method = f"{rapl.label} (CPU packages only, all processes)"
            if self.device.type == "cuda":
                method += f"; GPU not measured: {self.nvml_reason}"
            return EnergyReading(rapl.joules, method)
        if gpu is not None:
            return EnergyReading(gpu, f"{nvml.label} (whole GPU, all processes); CPU not measured: {self.rapl_reason}")
        return EnergyReading(None, f"not measured: {self.rapl_reason}; {self.nvml_reason}")
