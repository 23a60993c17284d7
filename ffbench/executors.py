"""Where a grid's run points are trained: in this process, on a Dask cluster, or on SLURM.

* ``local``: :class:`ffbench.runner.LocalExecutor`, one point after the other in this process.
* ``dask``: a ``distributed.LocalCluster`` of ``--workers`` processes bound to 127.0.0.1, or an
  existing cluster (``--scheduler ADDRESS``).
* ``slurm``: a dask-jobqueue ``SLURMCluster`` whose workers are SLURM jobs (options from a YAML or
  JSON file, ``--cluster-config``, overridden by ``--slurm-*``).

Each run point is one Dask task running :func:`run_point` on a worker. Results stream back as
tasks complete and only the client (:class:`ffbench.runner.Runner`) appends rows and writes
artifacts, so workers never touch the results file. Each worker keeps its own
:class:`ffbench.runner.RunContext` per run (created at the run's first task there), so a dataset
is loaded once per worker, not once per point. A task that raises, or whose worker is lost,
comes back as its exception and the Runner records it as failed; the others go on. Ctrl-C (or any
exception in the client) cancels the pending tasks and re-raises; finished rows are already saved.
Clusters the executor starts are started when there is work (so ``--resume`` with nothing left
submits no SLURM job) and closed on exit. Dask is optional: ``pip install 'ffbench[dask]'``.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import threading
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ffbench.errors import FFBenchError
from ffbench.provenance import resolve_device
from ffbench.registry import Registry
from ffbench.runner import LocalExecutor, PointResult, PointTask, Reporter, RunContext, execute_point

EXECUTORS = ("local", "dask", "slurm")
INSTALL_HINT = "pip install 'ffbench[dask]'"


def require(module: str, executor: str) -> Any:
    """Import an optional dependency, or say how to install it."""
    try:
        return __import__(module)
    except ImportError as exc:
        raise FFBenchError(
            f"--executor {executor} needs the optional Dask dependencies ({exc}). Install them with: {INSTALL_HINT}"
        ) from None


def make_executor(
    name: str,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    cluster_config: Path | None = None,
    slurm: dict[str, Any] | None = None,
) -> Any:
    """The executor called ``name`` (a context manager with ``run(tasks, registry, reporter)``).
    ``slurm`` holds the ``--slurm-*`` options that were given; they win over ``cluster_config``."""
    if name not in EXECUTORS:
        raise FFBenchError(f"Unknown executor '{name}'. Valid executors: {', '.join(EXECUTORS)}.")
    slurm_given = bool(cluster_config or slurm)
    if name != "slurm" and slurm_given:
        raise FFBenchError("--cluster-config and --slurm-* options need --executor slurm.")
    if name == "local":
        if workers or scheduler:
            raise FFBenchError("--workers and --scheduler need --executor dask.")
        return InProcessExecutor()
    if name == "dask":
        require("distributed", name)
        if workers and scheduler:
            raise FFBenchError(
                "--workers sizes a new local cluster; with --scheduler the existing cluster's "
                "workers are used. Give one of them."
            )
        return DaskExecutor(workers=workers, scheduler=scheduler)
    if workers or scheduler:
        raise FFBenchError(
            "--executor slurm starts its own scheduler and SLURM jobs: size it with "
            "--slurm-jobs (or jobs: in --cluster-config), not --workers/--scheduler."
        )
    require("dask_jobqueue", name)
    config = load_cluster_config(cluster_config) if cluster_config else {}
    return SlurmExecutor({**config, **(slurm or {})})


class InProcessExecutor(LocalExecutor):
    """:class:`LocalExecutor` usable in a ``with`` block like the cluster executors."""

    def __enter__(self) -> InProcessExecutor:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def device(self, name: str) -> torch.device:
        return resolve_device(name)


# -- the worker side ---------------------------------------------------------------------------


def worker_context(run_id: str) -> RunContext:
    """This Dask worker's :class:`RunContext` for run ``run_id``: made at the run's first task on
    the worker and kept on the worker for its later tasks; a task of another run replaces it (the
    earlier run's datasets are then freed), so runs sharing a cluster never share state."""
    from distributed import get_worker  # optional: the dask extra

    worker = get_worker()
    held = getattr(worker, "ffbench_run_context", None)
    if held is None or held[0] != run_id:
        held = (run_id, RunContext())
        worker.ffbench_run_context = held
    return held[1]


def run_point(
    task: PointTask,
    registry: Registry,
    topic: str | None = None,
    torch_threads: int | None = None,
    run_id: str | None = None,
) -> PointResult:
    """What a worker runs for one task: announce the start on ``topic`` (the client counts running
    tasks from these events), limit torch to the worker's share of the cores, check the device,
    then :func:`execute_point` with the client's registry (so plugins resolve, and rows name their
    distributions, exactly as on the client) and the worker's context for ``run_id`` (None: a
    fresh context for this task alone)."""
    if topic:
        from distributed import get_worker  # optional: the dask extra

        get_worker().log_event(topic, task.index)
    if torch_threads:
        torch.set_num_threads(torch_threads)
    if task.opts.device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"this run trains on {task.opts.device}, but torch sees no CUDA device on worker "
            f"host {socket.gethostname()}; run the workers on GPU nodes, or use --device cpu"
        )
    return execute_point(task, registry, context=worker_context(run_id) if run_id else RunContext())


# -- the client side ---------------------------------------------------------------------------


@dataclass
class ClusterProgress:
    """Task counts across the cluster: done (ok), running, failed, waiting."""

    total: int
    running: set[int] = field(default_factory=set)
    finished: set[int] = field(default_factory=set)
    ok: int = 0
    failed: int = 0
    workers: int | None = None

    def started(self, index: int) -> None:
        if index not in self.finished:  # a start event may arrive after the result
            self.running.add(index)

    def ended(self, index: int, ok: bool) -> None:
        self.running.discard(index)
        self.finished.add(index)
        self.ok += ok
        self.failed += not ok

    def describe(self, name: str) -> str:
        waiting = self.total - len(self.finished) - len(self.running)
        text = f"{name}: {self.ok} done, {len(self.running)} running, {self.failed} failed, {waiting} waiting"
        return text if self.workers is None else f"{text} ({self.workers} workers)"


def future_outcome(future: Any) -> PointResult | BaseException:
    """A finished future's PointResult, or the exception that stands for it (the task raised,
    its worker was lost: ``KilledWorker``, or Dask cancelled it)."""
    if future.status == "finished":
        return future.result()
    if future.status == "error":  # not future.result(): its re-raised traceback would keep the future alive
        return future.exception().with_traceback(future.traceback())
    return RuntimeError("Dask cancelled this task (the connection to the scheduler was lost, or the cluster shut down)")


def named_device(name: str) -> torch.device:
    """``--device name`` for workers elsewhere: checked for form only (they check availability)."""
    try:
        return torch.device(name)
    except RuntimeError:
        raise FFBenchError(f"Unknown device '{name}'. Valid: auto, cpu, cuda, cuda:N.") from None


class DaskExecutor:
    """Runs each task on a Dask worker: a new LocalCluster of ``workers`` processes (default: one
    per core) bound to 127.0.0.1 with one task at a time each, or the existing cluster at
    ``scheduler``. A context manager: it closes the client, and the cluster if it started it."""

    name = "dask"

    def __init__(self, workers: int | None = None, scheduler: str | None = None):
        self.workers = workers or os.cpu_count() or 1
        self.scheduler = scheduler
        #: torch threads per worker; left to the workers' own settings on an existing cluster
        self.torch_threads = None if scheduler else max(1, (os.cpu_count() or 1) // self.workers)
        self.cluster: Any = None
        self.client: Any = None
        #: key -> future of the tasks submitted and not yet finished
        self.in_flight: dict[str, Any] = {}

    def start_cluster(self) -> Any:
        """A LocalCluster whose worker processes ignore SIGINT: Ctrl-C in the terminal reaches the
        whole process group, and only the client should handle it (cancel, then close the workers)."""
        from distributed import LocalCluster  # optional: the dask extra

        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None  # inherited by the workers
        try:
            return LocalCluster(
                n_workers=self.workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address="127.0.0.1:0",
            )
        finally:
            if main:
                signal.signal(signal.SIGINT, previous)

    def connect(self) -> Any:
        """The client; starts the cluster (or connects to ``scheduler``) on first use."""
        if self.client is not None:
            return self.client
        from distributed import Client  # optional: the dask extra

        if self.scheduler:
            try:
                self.client = Client(self.scheduler)  # waits distributed.comm.timeouts.connect
            except (OSError, TimeoutError) as exc:
                raise FFBenchError(
                    f"Cannot reach the Dask scheduler at {self.scheduler} ({exc}). Start one "
                    "with `dask scheduler` and `dask worker ADDRESS`, or leave out --scheduler "
                    "for a local cluster."
                ) from None
        else:
            self.cluster = self.start_cluster()
            self.client = Client(self.cluster)
        return self.client

    def device(self, name: str) -> torch.device:
        """The torch device for ``--device name``, as the workers will see it: 'auto' is CUDA when
        the workers have it. Explicit names are taken as given; a worker without the device
        records its points as failed, saying so."""
        if self.scheduler is None:
            return resolve_device(name)  # a LocalCluster shares this machine
        if name != "auto":
            return named_device(name)
        has_cuda = self.connect().run(torch.cuda.is_available)
        return torch.device("cuda" if has_cuda and all(has_cuda.values()) else "cpu")

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            self.cancel()
        finally:
            if self.client is not None:
                self.client.close()
            if self.cluster is not None:
                self.cluster.close()
            self.client = self.cluster = None

    def cancel(self) -> None:
        """Cancel the tasks in flight (a running one finishes on its worker, unrecorded)."""
        if self.in_flight and self.client is not None:
            self.client.cancel(list(self.in_flight.values()))
        self.in_flight = {}

    def run(
        self, tasks: list[PointTask], registry: Registry, reporter: Reporter, context: RunContext | None = None
    ) -> Iterator[tuple[PointTask, PointResult | BaseException]]:
        """Yield ``(task, result or exception)`` as tasks complete. ``context`` (the client's) is
        not shipped: every worker keeps its own for this run (:func:`worker_context`). One task
        per worker thread is in flight, the rest wait here in grid order: a worker gets a point
        when it is free (also one that joins later, e.g. a SLURM job that starts late), and a lost
        worker takes down only the point it was running, which Dask retries elsewhere up to
        distributed.scheduler.allowed-failures times before it comes back as ``KilledWorker``."""
        if not tasks:
            return
        client = self.connect()
        run_id = uuid.uuid4().hex[:8]
        topic = f"ffbench-started-{run_id}"
        events: queue.SimpleQueue = queue.SimpleQueue()  # filled from the client's event-loop thread
        client.subscribe_topic(topic, lambda event: events.put(("started", event[1])))
        waiting, progress = deque(tasks), ClusterProgress(len(tasks))

        def submit_more() -> None:
            threads = client.nthreads()
            progress.workers = len(threads)
            while waiting and len(self.in_flight) < max(1, sum(threads.values())):
                task = waiting.popleft()
                future = client.submit(
                    run_point,
                    task,
                    registry,
                    topic,
                    self.torch_threads,
                    run_id,
                    pure=False,
                    key=f"ffbench-point-{task.index}-{run_id}",
                )
                self.in_flight[future.key] = future
                future.add_done_callback(lambda f: events.put(("finished", f)))

        by_key = {f"ffbench-point-{task.index}-{run_id}": task for task in tasks}
        try:
            submit_more()
            reporter.log(f"{self.name}: {len(tasks)} run point(s) for the cluster at {client.scheduler.address}")
            while len(progress.finished) < len(tasks):
                try:
                    kind, payload = events.get(timeout=2.0)
                except queue.Empty:  # quiet: look for workers that joined
                    submit_more()
                    reporter.progress(len(progress.finished), len(tasks), progress.describe(self.name))
                    continue
                if kind == "started":
                    progress.started(payload)
                    reporter.progress(len(progress.finished), len(tasks), progress.describe(self.name))
                    continue
                task, outcome = by_key[payload.key], future_outcome(payload)
                del self.in_flight[payload.key]  # releases the result on the cluster
                progress.ended(task.index, isinstance(outcome, PointResult) and outcome.status == "ok")
                submit_more()  # the freed worker trains the next point while the client saves rows
                yield task, outcome
                reporter.progress(len(progress.finished), len(tasks), progress.describe(self.name))
        finally:
            client.unsubscribe_topic(topic)
            self.cancel()


# -- SLURM ---------------------------------------------------------------------------------------

#: ffbench's own SLURM settings: whole numbers with their minimum, and strings.
SLURM_NUMBERS = {"jobs": 1, "cpus": 1, "gpus": 0, "processes": 1}
SLURM_STRINGS = ("queue", "account", "walltime", "memory")
#: dask-jobqueue SLURMCluster arguments passed through unchanged.
SLURM_PASSTHROUGH = (
    "interface",
    "local_directory",
    "log_directory",
    "job_script_prologue",
    "job_extra_directives",
    "job_directives_skip",
    "worker_extra_args",
    "python",
    "job_name",
    "death_timeout",
    "shebang",
    "scheduler_options",
)
SLURM_DEFAULTS = {"jobs": 1, "cpus": 1, "gpus": 0, "processes": 1, "job_name": "ffbench"}


def load_cluster_config(path: Path) -> dict[str, Any]:
    """The settings in a YAML (``.yaml``/``.yml``) or JSON file, a mapping."""
    if not path.is_file():
        raise FFBenchError(f"No cluster configuration file at {path}.")
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml  # comes with the dask extra (dask depends on pyyaml)

            config = yaml.safe_load(path.read_text())
        else:
            config = json.loads(path.read_text())
    except Exception as exc:  # the parser's message says where
        raise FFBenchError(f"Cannot read the cluster configuration {path}: {exc}") from None
    if not isinstance(config, dict):
        raise FFBenchError(
            f"The cluster configuration {path} must be a mapping of settings "
            f"(queue: ..., walltime: ...), not {type(config).__name__}."
        )
    return config


def slurm_settings(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` checked, with defaults filled in."""
    valid = sorted(set(SLURM_NUMBERS) | set(SLURM_STRINGS) | set(SLURM_PASSTHROUGH))
    unknown = sorted(set(config) - set(valid))
    if unknown:
        raise FFBenchError(f"Unknown SLURM setting(s) {', '.join(unknown)}. Valid settings: {', '.join(valid)}.")
    settings = {**SLURM_DEFAULTS, **{k: v for k, v in config.items() if v is not None}}
    for key, minimum in SLURM_NUMBERS.items():
        value = settings[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise FFBenchError(f"SLURM setting {key} must be a whole number >= {minimum}, not {value!r}.")
    for key in SLURM_STRINGS:
        if key in settings and not isinstance(settings[key], str):
            hint = " (quote it: YAML reads 02:00:00 as a number)" if key == "walltime" else ""
            raise FFBenchError(f"SLURM setting {key} must be a string{hint}, not {settings[key]!r}.")
    if "memory" not in settings:
        raise FFBenchError("SLURM jobs need a memory size: --slurm-memory 16GB, or memory: 16GB in --cluster-config.")
    if settings["gpus"] and settings["processes"] > 1:
        raise FFBenchError(
            "With gpus, use processes: 1 (every worker of a job would train on its first GPU); "
            "ask for more jobs instead."
        )
    return settings


def slurm_cluster_kwargs(settings: dict[str, Any]) -> dict[str, Any]:
    """SLURMCluster arguments: ``processes`` workers per job with one Dask thread each (one task at
    a time), ``cpus`` CPUs per job (``--cpus-per-task``), ``gpus`` as ``--gres=gpu:N``."""
    kwargs = {k: settings[k] for k in (*SLURM_STRINGS, *SLURM_PASSTHROUGH) if k in settings}
    kwargs.update(cores=settings["processes"], processes=settings["processes"], job_cpu=settings["cpus"])
    if settings["gpus"]:
        kwargs["job_extra_directives"] = [*kwargs.get("job_extra_directives", []), f"--gres=gpu:{settings['gpus']}"]
    return kwargs


def slurm_job_script(config: dict[str, Any], scheduler: str = "tcp://SCHEDULER-ADDRESS:8786") -> str:
    """The batch script each SLURM job runs for ``config`` (dask-jobqueue's ``job_script()``, as
    ``SLURMCluster(...).job_script()`` gives it, but without starting a scheduler or submitting)."""
    from dask_jobqueue import SLURMCluster  # optional: the dask extra

    kwargs = slurm_cluster_kwargs(slurm_settings(config))
    kwargs.pop("scheduler_options", None)  # the scheduler's own, not the job's
    return SLURMCluster.job_cls(scheduler, name="ffbench-worker", **kwargs).job_script()


class SlurmExecutor(DaskExecutor):
    """A DaskExecutor whose workers are SLURM jobs started (and cancelled on exit) by dask-jobqueue."""

    name = "slurm"

    def __init__(self, config: dict[str, Any]):
        super().__init__(workers=1)
        self.settings = slurm_settings(config)
        self.torch_threads = max(1, self.settings["cpus"] // self.settings["processes"])

    def start_cluster(self) -> Any:
        from dask_jobqueue import SLURMCluster  # optional: the dask extra

        cluster = SLURMCluster(**slurm_cluster_kwargs(self.settings))
        cluster.scale(jobs=self.settings["jobs"])
        return cluster

    def device(self, name: str) -> torch.device:
        """'auto' is CUDA when the jobs have GPUs (this login node may have none); explicit names
        are taken as given and checked on the workers."""
        if name == "auto":
            return torch.device("cuda" if self.settings["gpus"] else "cpu")
        return named_device(name)
