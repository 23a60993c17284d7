"""Scale-out executors: a real LocalCluster (2 worker processes on 127.0.0.1) gives the rows of the
in-process run; failed and lost tasks are recorded while the others go on; Ctrl-C keeps finished
rows and leaves nothing on the cluster; --resume skips finished points; the SLURM path is checked
through the job script dask-jobqueue would submit (there is no SLURM here)."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

distributed = pytest.importorskip("distributed")
import dask  # noqa: E402

from ffbench import executors  # noqa: E402
from ffbench.cli import app  # noqa: E402
from ffbench.errors import FFBenchError  # noqa: E402
from ffbench.grid import expand_grid  # noqa: E402
from ffbench.registry import get_registry, load_registry  # noqa: E402
from ffbench.runner import PointTask, Runner, RunOptions, SilentReporter  # noqa: E402

TINY = "width=32,layers=2,epochs=1,batch_size=100"
RULE = f"ff[{TINY}]"
DATA = "fashion-mnist-mini[train_size=300,test_size=100]"
ROW_KEY = ["config_hash", "seed", "metric", "stat", "layer", "class"]
EXAMPLE_CONFIG = Path(__file__).parents[1] / "examples" / "slurm.yaml"


@pytest.fixture(scope="module")
def pool():
    """One LocalCluster of 2 worker processes for this module, always closed. A worker that dies
    fails its task at once (allowed-failures 0) instead of retrying it on the other worker."""
    with executors.DaskExecutor(workers=2) as executor:
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
            executor.connect()
        yield executor
    assert executor.client is None and executor.cluster is None


def grid(registry, rules=(RULE,), seeds=(0, 1), metrics=("accuracy", "sparsity")):
    return expand_grid(
        registry,
        rules=list(rules),
        goodness=["l2"],
        negatives=["wrong-label"],
        datasets=[DATA],
        metrics=list(metrics),
        seeds=list(seeds),
        preset="quick",
    )


def options(out: Path) -> RunOptions:
    # executors that spread points train every seed on its own; so does this reference
    return RunOptions(out=out, device=torch.device("cpu"), stack_seeds="off")


class Recorder(SilentReporter):
    def __init__(self):
        self.descriptions: list[str] = []

    def progress(self, done, total, description):
        self.descriptions.append(description)


def test_cluster_rows_equal_the_in_process_rows(pool, tmp_path):
    workers = pool.client.nthreads()
    assert len(workers) == 2 and all(a.startswith("tcp://127.0.0.1:") for a in workers)
    assert pool.client.scheduler.address.startswith("tcp://127.0.0.1:")
    # Ctrl-C in a terminal reaches the workers too; they leave it to the client
    assert set(pool.client.run(lambda: signal.getsignal(signal.SIGINT) == signal.SIG_IGN).values()) == {True}
    registry, threads = get_registry(), torch.get_num_threads()
    torch.set_num_threads(pool.torch_threads)  # as on the workers: the thread count moves the last bits
    try:
        Runner(registry, options(tmp_path / "here.parquet")).run(grid(registry))
    finally:
        torch.set_num_threads(threads)
    Runner(registry, options(tmp_path / "there.parquet")).run(grid(registry), executor=pool)
    here, there = (
        pd.read_parquet(tmp_path / f"{n}.parquet").sort_values(ROW_KEY, ignore_index=True) for n in ("here", "there")
    )
    assert (there["status"] == "ok").all() and there["run_id"].nunique() == 2
    assert len(here) == len(there) > 20
    same = ROW_KEY + ["value", "rule_id", "rule_dist", "dataset_hash", "device"]
    pd.testing.assert_frame_equal(here[same], there[same], check_exact=True)


def test_failed_and_lost_tasks_are_recorded_and_the_others_go_on(pool, tmp_path):
    registry = load_registry(extra=[("failing", "failing_plugin", "ffbench-tests", "0")])
    rules = [f"failing-ff[{TINY},fail_seed=1,failure=raise]", f"failing-ff[{TINY},fail_seed=1,failure=exit]"]
    reporter = Recorder()
    rows = Runner(registry, options(tmp_path / "r.parquet"), reporter).run(grid(registry, rules), executor=pool)
    df = pd.read_parquet(tmp_path / "r.parquet")
    assert len(rows) == len(df)
    assert (df.loc[df.seed == 0, "status"] == "ok").all() and df.loc[df.seed == 0, "run_id"].nunique() == 2
    raised = df[(df.seed == 1) & df.rule_id.str.contains("failure=raise")]
    lost = df[(df.seed == 1) & df.rule_id.str.contains("failure=exit")]
    for failed in (raised, lost):  # one failed row per metric, naming the rule's distribution
        assert sorted(failed["metric"]) == ["accuracy", "sparsity"] and (failed["status"] == "failed").all()
        assert (failed["rule_dist"] == "ffbench-tests").all()
    assert raised["error"].str.startswith("RuntimeError: deliberate failure for seed 1").all()
    assert lost["error"].str.startswith("KilledWorker: ").all()
    assert reporter.descriptions[-1].startswith("dask: 2 done, 0 running, 2 failed, 0 waiting")
    assert any(" 0 running" not in d for d in reporter.descriptions)  # tasks were seen running


class Interrupt(SilentReporter):
    """Ctrl-C once the first point has finished: in the Runner's loop, or inside the executor."""

    def __init__(self, where: str):
        self.where = where

    def point_finished(self, index, point, status, seconds):
        if self.where == "runner":
            raise KeyboardInterrupt

    def progress(self, done, total, description):
        if self.where == "executor" and done >= 1:
            raise KeyboardInterrupt


@pytest.mark.parametrize("where", ["runner", "executor"])
def test_ctrl_c_keeps_finished_rows_and_cancels_the_rest(pool, tmp_path, where):
    registry, out = get_registry(), tmp_path / "r.parquet"
    with pytest.raises(KeyboardInterrupt):
        with executors.make_executor("dask", scheduler=pool.client.scheduler.address) as remote:
            Runner(registry, options(out), Interrupt(where)).run(grid(registry, seeds=range(6)), executor=remote)
    df = pd.read_parquet(out)
    assert df["run_id"].nunique() == 1 and (df["status"] == "ok").all()
    deadline = time.monotonic() + 10
    while (left := pool.client.run_on_scheduler(ffbench_tasks)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert left == []


def ffbench_tasks(dask_scheduler) -> list[str]:
    return [str(key) for key in dask_scheduler.tasks if str(key).startswith("ffbench-point")]


def test_resume_on_the_cluster_skips_finished_points(pool, tmp_path):
    out = tmp_path / "r.parquet"
    base = ["run", "--rule", RULE, "--dataset", DATA, "--metric", "accuracy", "-q", "--out", str(out)]
    cluster = ["--seeds", "3", "--resume", "--executor", "dask", "--scheduler", pool.client.scheduler.address]
    assert CliRunner().invoke(app, base).exit_code == 0  # seed 0, in process
    first = pd.read_parquet(out)
    result = CliRunner().invoke(app, base + cluster)
    assert result.exit_code == 0, result.output
    df = pd.read_parquet(out)
    assert df.groupby("seed")["run_id"].nunique().to_dict() == {0: 1, 1: 1, 2: 1}
    assert df[df.seed == 0]["run_id"].tolist() == first["run_id"].tolist()  # not run again
    again = CliRunner().invoke(app, base + cluster)
    assert again.exit_code == 0 and "Nothing to run" in again.output
    assert len(pd.read_parquet(out)) == len(df)


def test_auto_device_is_what_the_workers_have(pool):
    remote = executors.DaskExecutor(scheduler=pool.client.scheduler.address)
    with remote:
        expected = "cuda" if all(pool.client.run(torch.cuda.is_available).values()) else "cpu"
        assert remote.device("auto").type == expected
        assert remote.device("cuda:1") == torch.device("cuda", 1)  # checked on the workers, not here
    slurm = executors.make_executor("slurm", slurm={"memory": "8GiB", "gpus": 1})
    assert slurm.device("auto") == torch.device("cuda") and slurm.device("cpu") == torch.device("cpu")
    with pytest.raises(FFBenchError, match="Unknown device 'gpu'"):
        slurm.device("gpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs workers without CUDA")
def test_a_worker_without_the_device_fails_the_point_saying_so(pool, tmp_path):
    registry = get_registry()
    g = grid(registry, seeds=[0])
    task = PointTask(0, g.points[0], g.metrics, RunOptions(out=tmp_path / "r.parquet", device=torch.device("cuda")))
    [(done, outcome)] = list(pool.run([task], registry, SilentReporter()))
    assert done is task and isinstance(outcome, RuntimeError)
    assert str(outcome).startswith("this run trains on cuda, but torch sees no CUDA device on worker host")


# -- SLURM --------------------------------------------------------------------------------------


def sbatch_lines(script: str) -> list[str]:
    return [line for line in script.splitlines() if line.startswith("#SBATCH")]


def test_slurm_job_script_from_the_example_config_with_overrides():
    pytest.importorskip("dask_jobqueue")
    executor = executors.make_executor(
        "slurm", cluster_config=EXAMPLE_CONFIG, slurm={"queue": "debug", "gpus": 2, "jobs": 8}
    )
    assert executor.settings["jobs"] == 8 and executor.torch_threads == 8
    script = executors.slurm_job_script(executor.settings)
    assert sbatch_lines(script) == [
        "#SBATCH -J ffbench",
        "#SBATCH -e slurm-logs/ffbench-%J.err",
        "#SBATCH -o slurm-logs/ffbench-%J.out",
        "#SBATCH -p debug",
        "#SBATCH -n 1",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --mem=32G",
        "#SBATCH -t 04:00:00",
        "#SBATCH --constraint=a100",
        "#SBATCH --gres=gpu:2",
    ]
    assert "module load cuda/12.4\nsource $HOME/venvs/ffbench/bin/activate\n" in script
    worker = script.strip().splitlines()[-1]
    assert "-m distributed.cli.dask_worker tcp://SCHEDULER-ADDRESS:8786" in worker
    assert "--nthreads 1" in worker and "--nworkers" not in worker and "--local-directory $TMPDIR" in worker


def test_slurm_cluster_takes_the_same_settings(tmp_path):
    """The settings start a real SLURMCluster (scheduler on 127.0.0.1, no job submitted) whose
    job_script() has the same #SBATCH lines; with 2 processes a job runs 2 one-thread workers."""
    dask_jobqueue = pytest.importorskip("dask_jobqueue")
    settings = executors.slurm_settings(
        {
            "queue": "short",
            "walltime": "00:20:00",
            "memory": "8GiB",
            "cpus": 4,
            "processes": 2,
            "account": "lab",
            "log_directory": str(tmp_path),
            "scheduler_options": {"host": "127.0.0.1", "dashboard_address": "127.0.0.1:0"},
        }
    )
    with dask_jobqueue.SLURMCluster(**executors.slurm_cluster_kwargs(settings)) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        script = cluster.job_script()
    assert sbatch_lines(script) == sbatch_lines(executors.slurm_job_script(settings))
    assert {
        "#SBATCH -p short",
        "#SBATCH -A lab",
        "#SBATCH --cpus-per-task=4",
        "#SBATCH --mem=8G",
        "#SBATCH -t 00:20:00",
    } <= set(sbatch_lines(script))
    assert "--nthreads 1" in script and "--nworkers 2" in script and "--gres" not in script


def test_cluster_configs_in_json_too(tmp_path):
    config = tmp_path / "slurm.json"
    config.write_text('{"queue": "cpu", "memory": "4GiB", "jobs": 3}')
    assert executors.make_executor("slurm", cluster_config=config).settings["jobs"] == 3
    config.write_text('["queue", "cpu"]')
    with pytest.raises(FFBenchError, match="must be a mapping"):
        executors.make_executor("slurm", cluster_config=config)


@pytest.mark.parametrize(
    "config, message",
    [
        ({"memory": "8GiB", "partition": "gpu"}, "Unknown SLURM setting.* partition. Valid settings: account, cpus,"),
        ({"memory": "8GiB", "walltime": 7200}, "walltime must be a string .quote it"),
        ({"memory": "8GiB", "jobs": 0}, "jobs must be a whole number >= 1, not 0"),
        ({"memory": "8GiB", "gpus": 1, "processes": 2}, "With gpus, use processes: 1"),
        ({"queue": "gpu"}, "SLURM jobs need a memory size: --slurm-memory"),
    ],
)
def test_bad_slurm_settings_are_named(config, message):
    with pytest.raises(FFBenchError, match=message):
        executors.make_executor("slurm", slurm=config)


def test_bad_executor_options(tmp_path, monkeypatch):
    with pytest.raises(FFBenchError, match="Unknown executor 'ray'. Valid executors: local, dask, slurm."):
        executors.make_executor("ray")
    with pytest.raises(FFBenchError, match="need --executor slurm"):
        executors.make_executor("dask", slurm={"queue": "gpu"})
    with pytest.raises(FFBenchError, match="Give one of them"):
        executors.make_executor("dask", workers=2, scheduler="tcp://127.0.0.1:8786")
    with pytest.raises(FFBenchError, match="not --workers/--scheduler"):
        executors.make_executor("slurm", workers=2, slurm={"memory": "8GiB"})
    with pytest.raises(FFBenchError, match="No cluster configuration file at"):
        executors.make_executor("slurm", cluster_config=tmp_path / "missing.yaml")
    assert isinstance(executors.make_executor("local"), executors.InProcessExecutor)
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if Dask were not installed
    with pytest.raises(FFBenchError, match=r"pip install 'ffbench\[dask\]'"):
        executors.make_executor("dask", workers=2)


def test_an_unreachable_scheduler_is_a_clear_error():
    with (
        dask.config.set({"distributed.comm.timeouts.connect": "1s"}),
        executors.DaskExecutor(scheduler="tcp://127.0.0.1:9") as remote,
    ):  # nothing listens on port 9
        with pytest.raises(FFBenchError, match="Cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
            remote.connect()
