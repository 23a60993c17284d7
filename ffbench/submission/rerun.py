"""Re-running one seed of a submitted configuration with the machinery of ``ffbench run``.

The configuration is rebuilt from its ids (every parameter is inside them, so the preset changes
nothing) and must rebuild to exactly those ids; it is then run by :class:`ffbench.runner.Runner`,
the code path of ``ffbench run``, into a temporary results file, without the model cache (a cached
model would be the submitter's own) and with seeds trained one at a time, at the thread count asked for.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import torch

from ffbench import results_store
from ffbench.compat import refusal
from ffbench.errors import FFBenchError
from ffbench.grid import Grid, RunPoint, build_components
from ffbench.registry import Registry
from ffbench.runner import Reporter, Runner, RunOptions


class RebuildError(FFBenchError):
    """A submitted configuration that this installation cannot rebuild exactly."""


def _one(registry: Registry, kind: str, spec: str, preset: str):
    built = build_components(registry, kind, [spec], [], preset)
    if len(built) != 1:
        raise RebuildError(f"{kind} {spec} builds {len(built)} components")
    return built[0]


def rebuild(registry: Registry, identity: dict, metric_ids: list[str], seed: int) -> Grid:
    """The one-point grid of a configuration at ``seed``; :class:`RebuildError` if a component is
    unknown here or rebuilds to another id than the submitted one."""
    preset = str(identity["preset"])
    try:
        rule = _one(registry, "rule", identity["rule_id"], preset)
        goodness = _one(registry, "goodness", identity["goodness_id"], preset) if identity["goodness_id"] else None
        negatives = _one(registry, "negatives", identity["negatives_id"], preset) if identity["negatives_id"] else None
        dataset = _one(registry, "dataset", identity["dataset_id"], preset)
        metrics = [_one(registry, "metric", m, preset) for m in metric_ids]
    except FFBenchError as exc:
        raise RebuildError(f"the configuration does not rebuild here: {exc}") from None
    for kind, component in (("rule", rule), ("goodness", goodness), ("negatives", negatives), ("dataset", dataset)):
        submitted = identity[f"{kind}_id"]
        if component is not None and component.identity != submitted:
            raise RebuildError(f"{kind} {submitted} rebuilds here as {component.identity} (another definition)")
    for spec, metric in zip(metric_ids, metrics):
        if metric.identity != spec:
            raise RebuildError(f"metric {spec} rebuilds here as {metric.identity} (another definition)")
    if rule.uses_goodness != (goodness is not None) or rule.uses_negatives != (negatives is not None):
        raise RebuildError(
            f"rule {rule.short_identity} reads goodness/negatives differently here from the submitted rows"
        )
    reason = refusal(rule, goodness, negatives)
    if reason is not None:
        raise RebuildError(f"rule {rule.short_identity} refuses this goodness and negatives here: {reason}")
    return Grid(points=[RunPoint(rule, goodness, negatives, dataset, seed, preset)], metrics=metrics)


@contextmanager
def torch_threads(threads: int | None):
    """torch's intra-op thread count set to ``threads`` (unchanged if None), restored afterwards."""
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def rerun(
    registry: Registry,
    grid: Grid,
    *,
    device: torch.device,
    precision: str,
    compiled: bool,
    threads: int | None,
    data_dir: Path | None = None,
    download: bool = True,
    reporter: Reporter | None = None,
    log: Callable[[str], None] = lambda message: None,
) -> pd.DataFrame:
    """The rows a fresh run of ``grid`` writes (read back from its temporary results file)."""
    with tempfile.TemporaryDirectory(prefix="ffbench-verify-") as tmp, torch_threads(threads):
        opts = RunOptions(
            out=Path(tmp) / "rerun.parquet",
            device=device,
            data_dir=data_dir,
            download=download,
            precision=precision,
            compile=compiled,
            stack_seeds="off",
        )
        log(f"re-running {grid.points[0].label} on {device} with {torch.get_num_threads()} thread(s)")
        Runner(registry, opts, reporter).run(grid)
        return results_store.read(opts.out)
