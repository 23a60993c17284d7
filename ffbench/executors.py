"""Executors that run a grid's tasks on Dask: a LocalCluster, an existing scheduler, or SLURM.

Each run point is one Dask task (:func:`ffbench.runner.execute_point`); results stream back as
they complete and the client (:class:`ffbench.runner.Runner`) alone appends rows and writes
artifacts. A task that raises or whose worker is lost comes back as the exception and is
recorded as failed; the others go on. Ctrl-C cancels what is pending and keeps finished rows.
Dask and dask-jobqueue are optional: ``pip install ffbench[dask]``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator

from ffbench.errors import FFBenchError
from ffbench.runner import PointTask, Reporter, execute_point

EXECUTORS = ("local", "dask", "slurm")
SLURM_KEYS = {"queue", "walltime", "memory", "gpus", "jobs", "cores", "processes", "account", "job_extra_directives",
              "job_script_prologue", "local_directory", "log_directory", "python", "interface"}


def _import_distributed():
    try:
        import distributed
    except ImportError:
        raise FFBenchError("--executor dask/slurm needs Dask: pip install 'ffbench[dask]'.") from None
    return distributed


def _worker_task(task: PointTask):
    """What a worker runs: one point, with torch limited to the worker's share of the cores."""
    import torch

    threads = int(os.environ.get("FFBENCH_WORKER_THREADS", "0"))
    if threads > 0:
        torch.set_num_threads(threads)
    return execute_point(task)


class DaskExecutor:
    """Run tasks on a Dask cluster: a new LocalCluster bound to 127.0.0.1 (``workers`` processes,
    one thread each), or an existing scheduler at ``scheduler``. Use as a context manager."""

    def __init__(self, workers: int | None = None, scheduler: str | None = None):
        self.workers, self.scheduler = workers, scheduler
        self.cluster: Any = None
        self.client: Any = None

    # -- lifecycle -----------------------------------------------------------------------
    def start_cluster(self) -> Any:
        distributed = _import_distributed()
        n = self.workers or os.cpu_count() or 1
        threads = max(1, (os.cpu_count() or 1) // n)
        return distributed.LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=None, env={"FFBENCH_WORKER_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)},
        )

    def __enter__(self) -> "DaskExecutor":
        distributed = _import_distributed()
        if self.scheduler:
            try:
                self.client = distributed.Client(self.scheduler, timeout="20s")
            except OSError as exc:
                raise FFBenchError(f"Could not reach the Dask scheduler at {self.scheduler} ({exc}).") from None
        else:
            self.cluster = self.start_cluster()
            self.client = distributed.Client(self.cluster)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    # -- running ---------------------------------------------------------------------------
    def run(self, tasks: list[PointTask], registry: Any, reporter: Reporter) -> Iterator[tuple[PointTask, Any]]:
        distributed = _import_distributed()
        futures = {self.client.submit(_worker_task, t, pure=False, key=f"ffbench-point-{t.index}-{id(t)}"): t
                   for t in tasks}
        done = failed = 0
        try:
            for future in distributed.as_completed(list(futures)):
                task = futures[future]
                try:
                    outcome = future.result()
                except Exception as exc:  # raised in the task, or its worker was lost
                    outcome = exc
                done += 1
                failed += (not hasattr(outcome, "rows")) or outcome.status == "failed"
                running = sum(f.status == "pending" for f in futures) if futures else 0
                reporter.progress(done, len(tasks), "dask")
                reporter.log(f"dask: {done}/{len(tasks)} done, {running} pending or running, {failed} failed")
                yield task, outcome
        except BaseException:
            self.client.cancel(list(futures))
            raise


def load_cluster_config(path: Path | None) -> dict[str, Any]:
    """SLURMCluster options from a YAML or JSON file (keys as in dask-jobqueue)."""
    if path is None:
        return {}
    if not path.exists():
        raise FFBenchError(f"No cluster configuration file at {path}.")
    text = path.read_text()
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            config = yaml.safe_load(text) or {}
        else:
            config = json.loads(text)
    except Exception as exc:
        raise FFBenchError(f"Could not read the cluster configuration {path}: {exc}") from None
    if not isinstance(config, dict):
        raise FFBenchError(f"The cluster configuration {path} must be a mapping of SLURMCluster options.")
    return config


def slurm_cluster_kwargs(config: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """(SLURMCluster keyword arguments, number of jobs) from ffbench's keys: queue, walltime, memory,
    gpus (-> --gres=gpu:N), jobs, plus any other SLURMCluster argument passed through."""
    unknown = set(config) - SLURM_KEYS
    if unknown:
        raise FFBenchError(f"Unknown SLURM option(s) {', '.join(sorted(unknown))}. "
                           f"Valid: {', '.join(sorted(SLURM_KEYS))}.")
    kwargs = {k: v for k, v in config.items() if k not in ("gpus", "jobs")}
    kwargs.setdefault("cores", 1)
    kwargs.setdefault("memory", "8GB")
    kwargs.setdefault("processes", 1)
    if config.get("gpus"):
        extra = list(kwargs.get("job_extra_directives", []))
        kwargs["job_extra_directives"] = extra + [f"--gres=gpu:{int(config['gpus'])}"]
    return kwargs, int(config.get("jobs", 1))


def slurm_job_script(config: dict[str, Any]) -> str:
    """The sbatch script dask-jobqueue would submit for ``config`` (nothing is submitted)."""
    try:
        from dask_jobqueue import SLURMCluster
    except ImportError:
        raise FFBenchError("--executor slurm needs dask-jobqueue: pip install 'ffbench[dask]'.") from None
    kwargs, _ = slurm_cluster_kwargs(config)
    cluster = SLURMCluster(**kwargs, scheduler_options={"host": "127.0.0.1", "dashboard_address": None})
    try:
        return cluster.job_script()
    finally:
        cluster.close()


class SlurmExecutor(DaskExecutor):
    """A DaskExecutor whose workers are SLURM jobs started by dask-jobqueue."""

    def __init__(self, config: dict[str, Any]):
        super().__init__()
        self.kwargs, self.jobs = slurm_cluster_kwargs(config)

    def start_cluster(self) -> Any:
        try:
            from dask_jobqueue import SLURMCluster
        except ImportError:
            raise FFBenchError("--executor slurm needs dask-jobqueue: pip install 'ffbench[dask]'.") from None
        cluster = SLURMCluster(**self.kwargs)
        cluster.scale(jobs=self.jobs)
        return cluster


def make_executor(kind: str, *, workers: int | None = None, scheduler: str | None = None,
                  cluster_config: Path | None = None, slurm: dict[str, Any] | None = None):
    if kind not in EXECUTORS:
        raise FFBenchError(f"Unknown executor '{kind}'. Valid executors: {', '.join(EXECUTORS)}.")
    if kind == "dask":
        if cluster_config or slurm:
            raise FFBenchError("--cluster-config and --slurm-* options need --executor slurm.")
        return DaskExecutor(workers=workers, scheduler=scheduler)
    if kind == "slurm":
        if scheduler or workers:
            raise FFBenchError("--executor slurm starts its own workers; use --slurm-jobs, not --workers/--scheduler.")
        config = load_cluster_config(cluster_config)
        config.update(slurm or {})
        return SlurmExecutor(config)
    from ffbench.runner import LocalExecutor

    return LocalExecutor()
