"""`ffbench bench` and `ffbench run` leftovers, through the real commands: torch's TF32 flags as
they were after a benchmark or a run (ffbench.precision.tf32_matmuls); `bench --quality` loads its
dataset from --data-dir, honouring --no-download; scale-out options an executor would ignore are
refused before anything runs; bp-ff and conv-ff say which rule trains the negatives they refuse;
the commands' defaults declared once."""

import importlib
import inspect
import itertools

import pytest
import torch
from typer.testing import CliRunner

from ffbench.cli import app
from ffbench.defaults import DEFAULTS
from ffbench.precision import tf32_matmuls

cli_bench = importlib.import_module("ffbench.cli.bench")  # the module: ffbench.cli's `bench` is the command

TINY_BENCH = [
    "bench",
    "--rule",
    "ff",
    "--samples",
    "64",
    "--width",
    "16",
    "--layers",
    "1",
    "--epochs",
    "1",
    "--batch-size",
    "32",
    "--repeats",
    "1",
    "--peak-size",
    "16",
    "--no-baseline",
    "--device",
    "cpu",
    "--json",
]


def invoke(*args, **env):
    return CliRunner(env={"COLUMNS": "400", **env}).invoke(app, list(args))


def words(text):
    """CLI output with rich's line wrapping undone."""
    return " ".join(text.split())


def flags():
    return torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32


@pytest.fixture
def torch_flags():
    """The test may change torch's process-wide flags: put back what it found."""
    saved = flags(), torch.get_float32_matmul_precision()
    yield
    torch.set_float32_matmul_precision(saved[1])
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved[0]


# -- TF32 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("matmul", "cudnn"), list(itertools.product([False, True], repeat=2)))
def test_tf32_matmuls_turns_the_flags_on_inside_and_back_after(torch_flags, matmul, cudnn):
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn
    before = flags(), torch.get_float32_matmul_precision()
    with tf32_matmuls(True):
        assert flags() == (True, True)
        assert torch.get_float32_matmul_precision() == "high"  # what allow_tf32 means to torch's matmuls
    assert (flags(), torch.get_float32_matmul_precision()) == before
    with pytest.raises(RuntimeError, match="inside"), tf32_matmuls(True):
        raise RuntimeError("inside")
    assert (flags(), torch.get_float32_matmul_precision()) == before  # also after an error
    with tf32_matmuls(False):
        assert flags() == (matmul, cudnn)  # not asked for: nothing touched


def test_tf32_matmuls_leaves_a_medium_matmul_precision_alone(torch_flags):
    torch.set_float32_matmul_precision("medium")  # allow_tf32 reads True; setting it again would make it "high"
    with tf32_matmuls(True):
        assert torch.backends.cuda.matmul.fp32_precision == "tf32"
    assert torch.backends.mkldnn.matmul.fp32_precision == "bf16"  # medium's bfloat16 CPU matmuls kept


def test_bench_tf32_sets_the_flags_for_the_benchmark_only(torch_flags, monkeypatch):
    # --precision tf32 is refused on a CPU before anything runs; the flags themselves are settable
    # and readable on any machine, so the check is lifted to run the timing here
    monkeypatch.setattr(cli_bench, "check_device", lambda precision, device: None)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = True
    seen = []
    real = cli_bench.bench_case

    def bench_case(*args, **kwargs):
        seen.append(flags())
        return real(*args, **kwargs)

    monkeypatch.setattr(cli_bench, "bench_case", bench_case)
    result = invoke(*TINY_BENCH, "--precision", "tf32")
    assert result.exit_code == 0, result.output
    assert seen == [(True, True)]  # TF32 while timing
    assert flags() == (False, True) and torch.get_float32_matmul_precision() == "highest"  # as before


@pytest.mark.skipif(not torch.cuda.is_available(), reason="the runner sets TF32 on CUDA only")
def test_run_tf32_on_cuda_leaves_the_flags_as_they_were(torch_flags, tmp_path):
    torch.backends.cuda.matmul.allow_tf32 = False
    before = flags()
    tiny = ["--rule", "ff[width=32,layers=2,epochs=1,batch_size=100]", "--metric", "accuracy", "--no-cache", "-q"]
    data = ["--dataset", "fashion-mnist-mini[train_size=500,test_size=200]"]
    result = invoke("run", *tiny, *data, "--device", "cuda", "--precision", "tf32", "-o", str(tmp_path / "r.parquet"))
    assert result.exit_code == 0, result.output
    assert flags() == before


# -- bench --quality: --data-dir and --no-download ------------------------------------------------


def test_bench_quality_reads_the_data_dir_and_does_not_download(tmp_path):
    empty, elsewhere = tmp_path / "empty", tmp_path / "elsewhere"
    empty.mkdir()
    elsewhere.mkdir()
    args = ["bench", "--quality", "1", "--quality-dataset", "mnist", "--device", "cpu", "--rule", "ff"]
    result = invoke(*args, "--data-dir", str(empty), "--no-download", FFBENCH_DATA=str(elsewhere))
    assert result.exit_code != 0
    text = words(result.output)
    assert "Dataset 'mnist' was not found" in text
    assert f"in the data directory {empty} (passed with --data-dir)" in text
    assert "Downloading was disabled." in text and str(elsewhere) not in text


def test_bench_timing_refuses_the_data_options_it_would_ignore(tmp_path):
    for given in (["--data-dir", str(tmp_path)], ["--no-download"]):
        result = invoke(*TINY_BENCH, *given)
        assert result.exit_code == 2
        assert "--data-dir and --no-download are read by --quality only" in words(result.output)


# -- run: scale-out options the executor would ignore -------------------------------------------


@pytest.mark.parametrize("executor", ["local", "dask"])
def test_run_refuses_a_cluster_config_its_executor_would_ignore(tmp_path, executor):
    config = tmp_path / "slurm.yaml"
    config.write_text("queue: gpu\nmemory: 8GiB\n")
    out = tmp_path / "r.parquet"
    result = invoke("run", "--executor", executor, "--cluster-config", str(config), "-o", str(out))
    assert result.exit_code == 2
    assert words(result.output) == (
        f"Error: --cluster-config is read by --executor slurm only; this run uses --executor {executor}, "
        "which would ignore it. Use --executor slurm, or drop it. Nothing was run."
    )
    assert not out.exists() and list(tmp_path.iterdir()) == [config]


def test_run_refuses_slurm_and_dask_options_without_their_executor(tmp_path):
    result = invoke("run", "--slurm-jobs", "2", "--slurm-queue", "gpu", "-o", str(tmp_path / "r.parquet"))
    assert result.exit_code == 2
    assert "--slurm-queue and --slurm-jobs are read by --executor slurm only" in words(result.output)
    assert "this run uses --executor local, which would ignore them" in words(result.output)
    result = invoke("run", "--workers", "2", "-o", str(tmp_path / "r.parquet"))
    assert result.exit_code == 2
    assert "--workers is read by --executor dask only; this run uses --executor local" in words(result.output)


# -- bp-ff / conv-ff: the rule that trains what they refuse ---------------------------------------


@pytest.mark.parametrize("rule", ["bp-ff", "conv-ff"])
def test_label_free_negatives_are_sent_to_label_free_ff(tmp_path, rule):
    out = tmp_path / "r.parquet"
    result = invoke("run", "--rule", rule, "--negatives", "ns-random-noise", "-o", str(out))
    assert result.exit_code == 2
    text = words(result.output)
    assert f"negatives 'ns-random-noise' carry no label (label_free), and rule '{rule}' does not train" in text
    assert text.endswith("or a rule that trains label-free; use ff[label=none] (label-free FF).")
    assert not out.exists()


@pytest.mark.parametrize("rule", ["bp-ff", "conv-ff"])
def test_model_aware_negatives_are_sent_to_ff(tmp_path, rule):
    result = invoke("run", "--rule", rule, "--negatives", "ns-fgsm", "-o", str(tmp_path / "r.parquet"))
    assert result.exit_code == 2
    assert words(result.output).endswith("or a rule that passes its model; use the ff rule, which passes its model.")


# -- defaults declared once ---------------------------------------------------------------------


def test_bench_defaults_are_runs_defaults():
    params = inspect.signature(cli_bench.bench).parameters
    assert params["goodness"].default == DEFAULTS["goodness"][0] == "l2"
    assert params["negatives"].default == DEFAULTS["negatives"][0] == "wrong-label"
    assert params["quality_dataset"].default == DEFAULTS["dataset"][0] == "fashion-mnist-mini"
    assert params["quality_metrics"].default == ",".join(DEFAULTS["metric"]) == "accuracy,sparsity"
    assert DEFAULTS["rule"] == ("ff",)
    for command in ("run", "bench"):
        result = invoke(command, "--help")
        assert result.exit_code == 0, result.output
        assert "[default: ff]" in words(result.output)  # --rule's default, written in its help
