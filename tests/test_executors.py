"""Dask executors: a real LocalCluster (2 worker processes on 127.0.0.1) gives the same rows as the
in-process run; failures are recorded and the rest go on; --resume skips finished points; the
SLURM path is checked through the job script dask-jobqueue would submit."""

from pathlib import Path

import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

pytest.importorskip("distributed")

import ffbench.executors as executors  # noqa: E402
from ffbench.cli import app  # noqa: E402
from ffbench.errors import FFBenchError  # noqa: E402
from ffbench.grid import expand_grid  # noqa: E402
from ffbench.registry import get_registry  # noqa: E402
from ffbench.runner import Runner, RunOptions  # noqa: E402

RULE = "ff[width=32,layers=2,epochs=2,batch_size=100]"
DATA = "fashion-mnist-mini[train_size=300,test_size=100]"
KEY = ["seed", "metric", "stat", "layer", "class"]


def tiny_grid(metrics=("accuracy", "sparsity")):
    return expand_grid(get_registry(), rules=[RULE], goodness=["l2"], negatives=["wrong-label"], datasets=[DATA],
                       metrics=list(metrics), seeds=[0, 1], preset="quick")


def run(tmp_path: Path, name: str, executor=None, grid=None) -> pd.DataFrame:
    opts = RunOptions(out=tmp_path / f"{name}.parquet", device=torch.device("cpu"), stack_seeds="off")
    Runner(get_registry(), opts).run(grid or tiny_grid(), executor=executor)
    return pd.read_parquet(opts.out)


@pytest.fixture
def one_thread():
    """Workers use one thread each; so does the in-process reference, so the numbers match exactly."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_local_cluster_rows_equal_the_in_process_run(tmp_path, one_thread):
    local = run(tmp_path, "local")
    with executors.DaskExecutor(workers=2) as pool:
        assert len(pool.client.scheduler_info()["workers"]) == 2
        distributed = run(tmp_path, "dask", pool)
    assert (distributed["status"] == "ok").all()
    a = local.sort_values(KEY).reset_index(drop=True)
    b = distributed.sort_values(KEY).reset_index(drop=True)
    assert a["config_hash"].tolist() == b["config_hash"].tolist()
    pd.testing.assert_series_equal(a["value"], b["value"], check_exact=False, rtol=1e-6)


def test_a_failing_point_is_recorded_while_the_others_succeed(tmp_path):
    grid = expand_grid(get_registry(), rules=[RULE], goodness=["l2"], negatives=["wrong-label"], datasets=[DATA],
                       metrics=["accuracy", "unseen-category[holdout=99]"], seeds=[0], preset="quick")
    with executors.DaskExecutor(workers=2) as pool:
        df = run(tmp_path, "dask", pool, grid)
    assert df.loc[df.metric == "unseen-category", "status"].tolist() == ["failed"]
    assert "holdout" in df.loc[df.metric == "unseen-category", "error"].iloc[0]
    assert (df.loc[df.metric == "accuracy", "status"] == "ok").all()


def test_a_task_that_raises_or_is_lost_becomes_failed_rows(tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    real = executors._worker_task

    def sometimes_lost(task):
        if task.point.seed == 1:
            raise RuntimeError("worker lost")
        return real(task)

    monkeypatch.setattr(executors, "_worker_task", sometimes_lost)

    class InProcessCluster(executors.DaskExecutor):  # threads (inproc://, no network): the patch applies
        def start_cluster(self):
            return distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                            dashboard_address=None)

    with InProcessCluster() as pool:
        df = run(tmp_path, "dask", pool)
    lost = df[df.seed == 1]
    assert (lost["status"] == "failed").all() and lost["error"].str.contains("worker lost").all()
    assert set(lost["metric"]) == {"accuracy", "sparsity"}
    assert (df.loc[df.seed == 0, "status"] == "ok").all()


def test_resume_through_the_cli_on_a_cluster(tmp_path):
    out = str(tmp_path / "r.parquet")
    base = ["run", "--rule", RULE, "--dataset", DATA, "--metric", "accuracy", "-q", "--out", out]
    assert CliRunner().invoke(app, base).exit_code == 0
    result = CliRunner().invoke(app, base + ["--seeds", "3", "--resume", "--executor", "dask", "--workers", "2"])
    assert result.exit_code == 0, result.output
    df = pd.read_parquet(out)
    assert df.groupby("seed")["run_id"].nunique().to_dict() == {0: 1, 1: 1, 2: 1}


def test_slurm_job_script_carries_the_options():
    pytest.importorskip("dask_jobqueue")
    script = executors.slurm_job_script({"queue": "gpu", "walltime": "02:00:00", "memory": "16GB", "gpus": 2,
                                         "cores": 4, "jobs": 3})
    assert "#SBATCH -p gpu" in script
    assert "#SBATCH -t 02:00:00" in script
    assert "#SBATCH --gres=gpu:2" in script
    assert "#SBATCH --mem=" in script and "#SBATCH --cpus-per-task=4" in script
    assert "distributed.cli.dask_worker" in script or "dask worker" in script or "dask-worker" in script


def test_config_file_and_bad_options(tmp_path):
    cfg = tmp_path / "slurm.yaml"
    cfg.write_text("queue: short\nwalltime: '00:30:00'\njobs: 4\n")
    ex = executors.make_executor("slurm", cluster_config=cfg, slurm={"gpus": 1})
    assert ex.jobs == 4 and ex.kwargs["queue"] == "short" and "--gres=gpu:1" in ex.kwargs["job_extra_directives"]
    with pytest.raises(FFBenchError, match="Valid executors: local, dask, slurm"):
        executors.make_executor("ray")
    with pytest.raises(FFBenchError, match="Unknown SLURM option"):
        executors.make_executor("slurm", slurm={"partition": "x"})
    with pytest.raises(FFBenchError, match="No cluster configuration"):
        executors.make_executor("slurm", cluster_config=tmp_path / "missing.yaml")
