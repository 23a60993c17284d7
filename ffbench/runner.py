"""Running a grid: load data -> train (or reuse a cached model) -> compute metrics -> append rows.

Work is split into picklable :class:`PointTask` s executed by :func:`execute_point` (in this
process by :class:`LocalExecutor`, or on Dask workers by ffbench.executors); only the client
(:class:`Runner`) writes the results file and artifacts.

Every point's rows are appended to the results file as soon as the point finishes, so an
interrupted run keeps everything finished. A point that fails (training or one metric) is
recorded with status ``failed`` and its error; the run goes on. Datasets are loaded before any
training, so a missing dataset stops the run at once with its own clear message.
"""

from __future__ import annotations

import dataclasses
import json
import time
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import torch

from ffbench import results_store
from ffbench.atomic_write import atomic_path, write_text
from ffbench.cache import ModelCache
from ffbench.component import Component
from ffbench.contracts import (
    DatasetBundle,
    Evaluation,
    Metric,
    MetricResult,
    TrainContext,
    TrainedModel,
    TrainingVariant,
)
from ffbench.divergence import WatchedTrainContext, check_trained, check_weights
from ffbench.errors import FFBenchError
from ffbench.global_rng import legacy_global_seed
from ffbench.grid import Grid, RunPoint, canonical_hash, check_seed_range
from ffbench.precision import tf32_matmuls
from ffbench.provenance import code_hash, device_label, environment, training_closure
from ffbench.registry import Registry, get_registry
from ffbench.results import artifacts_folder
from ffbench.training_record import MeasureTraining, TrainingRecord, count_flops
from ffbench.untrusted import literal


class Reporter(Protocol):
    """What the runner tells its caller (the CLI draws rich progress bars from it). ``log``
    messages are rich markup: the runner escapes (:func:`ffbench.untrusted.literal`) every text it
    did not write itself (labels, specs, errors, a rule's log lines); ``point.label`` and
    ``description`` are plain text, to be escaped by whoever prints them."""

    def start(self, total_points: int) -> None: ...
    def point_started(self, index: int, point: RunPoint) -> None: ...
    def progress(self, done: float, total: float, description: str) -> None: ...
    def log(self, message: str) -> None: ...
    def point_finished(self, index: int, point: RunPoint, status: str, seconds: float) -> None: ...


class SilentReporter:
    def start(self, total_points):
        pass

    def point_started(self, index, point):
        pass

    def progress(self, done, total, description):
        pass

    def log(self, message):
        pass

    def point_finished(self, index, point, status, seconds):
        pass


@dataclass
class RunOptions:
    out: Path
    device: torch.device
    data_dir: Path | None = None
    download: bool = True
    cache: ModelCache = field(default_factory=lambda: ModelCache(enabled=False))
    #: Columns added to every row (e.g. the suite a point belongs to).
    extra_columns: dict[str, Any] = field(default_factory=dict)
    #: "fp32", "tf32" or "bf16" (the last two for CUDA); torch.compile of hot functions
    precision: str = "fp32"
    compile: bool = False
    #: train the seeds of one configuration together when the rule can (LearningRule.stacks_seeds):
    #: "auto" (on CUDA only: on CPU a stacked bmm measured slower than separate matmuls), "on", "off"
    stack_seeds: str = "auto"

    @property
    def stacking(self) -> bool:
        return self.stack_seeds == "on" or (self.stack_seeds == "auto" and self.device.type == "cuda")

    @property
    def artifacts_dir(self) -> Path:
        return artifacts_folder(self.out)


@dataclass
class PointTask:
    """One unit of work, picklable so that executors can ship it to another process."""

    index: int
    point: RunPoint
    metrics: list[Metric]
    opts: RunOptions
    #: seeds of the same configuration in this run, trained together if the rule stacks seeds
    sibling_seeds: tuple[int, ...] = ()


@dataclass
class Artifact:
    """A metric's artifacts for one run point; ``stem`` is relative to the results file's folder."""

    stem: str
    arrays: dict[str, np.ndarray]
    other: dict[str, Any]


@dataclass
class PointResult:
    task: PointTask
    rows: list[dict]
    artifacts: list[Artifact]
    seconds: float

    @property
    def status(self) -> str:
        return "failed" if any(r["status"] == "failed" for r in self.rows) else "ok"


def error_text(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" [{Path(frames[-1].filename).name}:{frames[-1].lineno}]" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def component_columns(registry: Registry, prefix: str, component: Component | None) -> dict[str, Any]:
    if component is None:
        return {
            prefix: None,
            f"{prefix}_id": None,
            f"{prefix}_version": None,
            f"{prefix}_dist": None,
            f"{prefix}_dist_version": None,
        }
    entry = registry.entry_of(component)
    return {
        prefix: component.short_identity,
        f"{prefix}_id": component.identity,
        f"{prefix}_version": component.version,
        f"{prefix}_dist": entry.dist,
        f"{prefix}_dist_version": entry.dist_version,
    }


@dataclass
class RunContext:
    """The in-memory state of one run in one process, owned by whoever runs the points: one per
    :meth:`Runner.run` (its points run in process), one per run on each Dask worker
    (ffbench.executors). Two runs never share one, so neither sees the other's datasets or
    models, and nothing is left behind in the process when a run ends.

    ``bundles``: loaded datasets, keyed by (dataset identity, data dir, device); each is loaded
    and moved to the device once per context. ``stacked``: models trained together with a
    sibling seed (LearningRule.stacks_seeds), keyed by their model-cache key, each waiting for
    its own point, which takes it out."""

    bundles: dict[tuple[str, str, str], DatasetBundle] = field(default_factory=dict)
    stacked: dict[str, tuple[TrainedModel, TrainingRecord]] = field(default_factory=dict)

    def load_bundle(self, dataset: Component, opts: RunOptions) -> DatasetBundle:
        """The dataset on ``opts.device``, loaded once per context."""
        key = (dataset.identity, str(opts.data_dir), str(opts.device))
        if key not in self.bundles:
            bundle = dataset.load(opts.data_dir, opts.download)  # type: ignore[attr-defined]
            bundle.train, bundle.test = bundle.train.to(opts.device), bundle.test.to(opts.device)
            self.bundles[key] = bundle
        return self.bundles[key]

    def keep_stacked(self, key: str, model: TrainedModel, record: TrainingRecord) -> None:
        """Hold a model trained with a sibling seed until its own point asks for it."""
        self.stacked[key] = (model, record)

    def take_stacked(self, key: str) -> tuple[TrainedModel, TrainingRecord] | None:
        """The held model (and its record) under ``key``, handed out once; None if none is held."""
        return self.stacked.pop(key, None)


def variant_key(variant: dict | None) -> str:
    return "standard" if not variant else canonical_hash(variant)


def completed_points(out: Path) -> dict[tuple[str, str], set[str]]:
    """(config hash, precision) -> metric ids with ok rows, from an existing results file (for
    --resume). Precision is not part of the config hash (a float32 row keeps the hash it always
    had) but a bf16 row is never a float32 result: rows without a precision are float32."""
    if not results_store.exists(out):
        return {}
    df = results_store.read(out)
    ok = df[df["status"] == "ok"]
    done: dict[tuple[str, str], set[str]] = {}
    for key, metric_id in zip(point_keys(ok), ok["metric_id"]):
        done.setdefault(key, set()).add(metric_id)
    return done


def point_keys(df: pd.DataFrame) -> list[tuple[str, str]]:
    """Each row's run point as (config hash, precision); rows without a precision are float32."""
    precisions = df["precision"].astype("string").fillna("fp32") if "precision" in df else ["fp32"] * len(df)
    return list(zip(df["config_hash"], precisions))


class LocalExecutor:
    """Runs tasks one after the other in this process (progress of each training is shown)."""

    def run(self, tasks: list[PointTask], registry: Registry, reporter: Reporter, context: RunContext | None = None):
        """Yield ``(task, result)`` in order; every task shares ``context`` (default: a new one)."""
        context = context if context is not None else RunContext()
        for task in tasks:
            reporter.point_started(task.index, task.point)
            yield task, execute_point(task, registry, reporter, context)


class Runner:
    def __init__(self, registry: Registry, opts: RunOptions, reporter: Reporter | None = None):
        self.registry, self.opts = registry, opts
        self.reporter: Reporter = reporter or SilentReporter()

    def tasks(self, grid: Grid, resume: bool = False) -> list[PointTask]:
        """The grid's tasks; with ``resume``, without the points whose metrics all have ok rows."""
        done = completed_points(self.opts.out) if resume else {}
        todo = []
        for i, point in enumerate(grid.points):
            if done and {m.identity for m in grid.metrics} <= done.get((point.config_hash, self.opts.precision), set()):
                self.reporter.log(literal(f"resume: skipping {point.label} (rows present)"))
                continue
            todo.append((i, point))
        seeds: dict[str, list[int]] = {}
        for _, point in todo:
            seeds.setdefault(seedless_hash(point), []).append(point.seed)
        return [PointTask(i, point, grid.metrics, self.opts, tuple(seeds[seedless_hash(point)])) for i, point in todo]

    def run(self, grid: Grid, executor: Any = None, resume: bool = False) -> list[dict]:
        """Run every point (datasets are loaded first, so a missing one fails before training);
        rows and artifacts are written here, by the client only, as each point finishes.
        Seeds are stacked in process only: an executor that spreads tasks gets unstacked ones.
        The run's state lives in a :class:`RunContext` made here and dropped when the run ends;
        an executor that runs points elsewhere keeps its own per worker."""
        context = RunContext()
        check_seeds(p.seed for p in grid.points)
        for point in grid.points:
            load_before_training(context, point, self.opts)
        tasks = self.tasks(grid, resume)
        if executor is not None and not isinstance(executor, LocalExecutor):
            tasks = [dataclasses.replace(t, sibling_seeds=()) for t in tasks]
        self.reporter.start(len(tasks))
        all_rows: list[dict] = []
        try:
            for task, outcome in (executor or LocalExecutor()).run(tasks, self.registry, self.reporter, context):
                result = outcome if isinstance(outcome, PointResult) else lost_task_result(task, outcome, self.registry)
                for artifact in result.artifacts:
                    save_artifact(self.opts.out.parent, artifact)
                results_store.append(self.opts.out, result.rows)  # one part per point: flat cost
                all_rows.extend(result.rows)
                self.reporter.point_finished(task.index, task.point, result.status, result.seconds)
        finally:  # a one-file store gets its points merged in, even when the run is interrupted
            if not results_store.is_folder_store(self.opts.out):
                results_store.compact(self.opts.out)
        return all_rows


def lost_task_result(task: PointTask, exc: BaseException, registry: Registry) -> PointResult:
    """Failed rows for a task that raised outside the point's own error handling (e.g. a lost worker)."""
    base = base_row(task, registry, None, uuid.uuid4().hex[:12])
    return PointResult(task, [failed_row(base, m, exc, registry) for m in task.metrics], [], 0.0)


def execute_point(
    task: PointTask,
    registry: Registry | None = None,
    reporter: Reporter | None = None,
    context: RunContext | None = None,
) -> PointResult:
    """Train (or reuse) the point's model(s) and compute its metrics, with the datasets and held
    sibling-seed models of ``context`` (default: a new, empty one: the point on its own). Never
    raises for a failing point: failures become rows with status 'failed'. Writes nothing but
    the model cache."""
    registry = registry or get_registry()
    reporter = reporter or SilentReporter()
    context = context if context is not None else RunContext()
    t_start = time.perf_counter()
    point, opts = task.point, task.opts
    run_id = uuid.uuid4().hex[:12]
    try:
        bundle = context.load_bundle(point.dataset, opts)
    except Exception as exc:
        base = base_row(task, registry, None, run_id)
        return PointResult(
            task, [failed_row(base, m, exc, registry) for m in task.metrics], [], time.perf_counter() - t_start
        )
    base = base_row(task, registry, bundle, run_id)
    groups: dict[str, tuple[dict | None, list[Metric]]] = {}
    rows: list[dict] = []
    for metric in task.metrics:
        try:
            declared = TrainingVariant.coerce(metric.training_variant(bundle), metric.name)
            variant = declared.as_dict() if declared else None
        except Exception as exc:
            rows.append(failed_row(base, metric, exc, registry))
            continue
        groups.setdefault(variant_key(variant), (variant, []))[1].append(metric)
    artifacts: list[Artifact] = []
    for variant, group in groups.values():
        try:
            model, record = train(point, bundle, variant, opts, reporter, context, task.sibling_seeds)
        except Exception as exc:  # a failed point is recorded, never cached, and the run goes on
            reporter.log(f"[red]training failed[/red] for {literal(point.label)}: {literal(error_text(exc))}")
            rows += [failed_row(base, m, exc, registry) for m in group]
            continue
        ev = Evaluation(model, bundle, opts.device, training=record)
        label_in_input = reads_label(model, bundle, opts.device)
        for metric in group:
            extra = {"train_seconds": record.seconds, "cached": record.cached, "label_in_input": label_in_input}
            t0 = time.perf_counter()
            try:
                result = metric.compute(ev)
            except Exception as exc:
                reporter.log(f"[red]metric {literal(metric.name)} failed[/red]: {literal(error_text(exc))}")
                rows.append(failed_row(base, metric, exc, registry, **extra))
                continue
            artifact = make_artifact(opts, run_id, metric, result)
            if artifact:
                artifacts.append(artifact)
            head = {
                **base,
                **component_columns(registry, "metric", metric),
                **extra,
                "higher_is_better": metric.higher_is_better,
                "status": "ok",
                "artifact": artifact.stem if artifact else None,
                "metric_seconds": time.perf_counter() - t0,
            }
            head["metric"] = metric.name
            headline = set(metric.headline_stats())  # recorded, so readers need not have the plugin
            rows += [
                {
                    **head,
                    "stat": r.stat,
                    "layer": r.layer,
                    "class": r.cls,
                    "class_b": r.cls_b,
                    "value": float(r.value),
                    "headline": r.stat in headline,
                }
                for r in result.rows
            ]
    return PointResult(task, rows, artifacts, time.perf_counter() - t_start)


def seedless_hash(point: RunPoint) -> str:
    config = dict(point.config)
    config.pop("seed")
    return canonical_hash(config)


def train_context(
    point: RunPoint,
    bundle: DatasetBundle,
    held_out: list[int],
    opts: RunOptions,
    reporter: Reporter,
    seed: int | None = None,
) -> TrainContext:
    return WatchedTrainContext(
        device=opts.device,
        seed=point.seed if seed is None else seed,
        train_classes=[c for c in range(bundle.num_classes) if c not in held_out],
        num_classes=bundle.num_classes,
        progress=reporter.progress,
        log=lambda message: reporter.log(literal(str(message))),  # a rule's text, printed as it is
        precision=opts.precision,
        compile=opts.compile,
    )


def component_classes(point: RunPoint) -> list[type]:
    return [type(c) for c in (point.rule, point.goodness, point.negatives, point.dataset) if c is not None]


def model_key(point: RunPoint, bundle: DatasetBundle, variant: dict | None, opts: RunOptions) -> str:
    return ModelCache.key(
        point.config,
        variant,
        bundle.content_hash,
        code_hash(*component_classes(point)),
        opts.device.type,
        precision=opts.precision,
        # on a CPU the thread count can change the numbers (reduction order): models of different counts never mix
        threads=torch.get_num_threads() if opts.device.type == "cpu" else None,
    )


def load_cached(point: RunPoint, bundle: DatasetBundle, variant: dict | None, opts: RunOptions, reporter: Reporter):
    """The cached model of ``point``, if any; only the classes of the modules its components train
    with (and torch.nn) may be rebuilt from the file (ffbench.cache)."""
    return opts.cache.load(
        model_key(point, bundle, variant, opts),
        training_closure(*component_classes(point)),
        warn=lambda message: reporter.log(literal(message)),
        check=check_weights,  # a cached model with non-finite or exploded weights is discarded, never reused
    )


def train(
    point: RunPoint,
    bundle: DatasetBundle,
    variant: dict | None,
    opts: RunOptions,
    reporter: Reporter,
    context: RunContext,
    sibling_seeds: tuple[int, ...] = (),
) -> tuple[TrainedModel, TrainingRecord]:
    """Return the model and its :class:`~ffbench.training_record.TrainingRecord` (time, FLOPs,
    peak memory; from the cache meta, marked ``cached``, when the model was reused). When the
    rule stacks seeds, this point's not-yet-trained sibling seeds are trained together with it;
    their models wait in ``context`` (and in the model cache) for their own tasks, with the time
    shared equally."""
    key = model_key(point, bundle, variant, opts)
    held = context.take_stacked(key)
    if held is not None:
        return held
    hit = load_cached(point, bundle, variant, opts, reporter)
    if hit is not None:
        reporter.log(literal(f"reusing cached model for {point.label}" + (f" {variant}" if variant else "")))
        return hit.model.to(opts.device), TrainingRecord.from_meta(hit.meta)
    held_out = list((variant or {}).get("holdout", []))
    data = bundle.without_classes(held_out) if held_out else bundle
    points = [point]
    if opts.stacking and point.rule.stacks_seeds and len(sibling_seeds) > 1:
        others = [dataclasses.replace(point, seed=s) for s in sibling_seeds if s != point.seed]
        points += [p for p in others if load_cached(p, bundle, variant, opts, reporter) is None]
    ctxs = [train_context(p, bundle, held_out, opts, reporter) for p in points]
    tf32 = tf32_matmuls(opts.precision == "tf32" and opts.device.type == "cuda")  # for the training only
    with tf32, legacy_global_seed(point.seed, opts.device), MeasureTraining(opts.device) as measured:
        if len(points) > 1:
            reporter.log(literal(f"training seeds {[p.seed for p in points]} of {point.rule.short_identity} together"))
            models = point.rule.fit_seeds(data, point.goodness, point.negatives, ctxs)
        else:
            models = [point.rule.fit(data, point.goodness, point.negatives, ctxs[0])]
    for model, ctx in zip(models, ctxs):  # rule-agnostic: losses it reported, weights, activations, accuracy
        check_trained(model, data, opts.device, ctx.losses)
    record = measured.record(device_label(opts.device), stacked_seeds=len(points)).with_flops(
        *count_flops(point.rule, data, point.goodness, point.negatives)
    )  # the seeds share one count
    for p, model in zip(points, models):
        k = model_key(p, bundle, variant, opts)
        opts.cache.save(
            k,
            model,
            {
                "train_seconds": record.seconds,
                "config": p.config,
                "variant": variant,
                "stacked_seeds": len(points),
                "training": record.to_meta(),
            },
        )
        if p is not point:
            context.keep_stacked(k, model, record)
    return models[0], record


def reads_label(model: TrainedModel, bundle: DatasetBundle, device: torch.device, samples: int = 32) -> bool | None:
    """Whether the model's representations read the label: as the model declares it
    (``TrainedModel.reads_label``), else whether they change when the labels of a few test samples
    are shifted by one class. None if that cannot be told."""
    declared = getattr(model, "reads_label", None)
    if isinstance(declared, bool):
        return declared
    try:
        x, y = bundle.test.x[:samples].to(device), bundle.test.y[:samples].to(device)
        with torch.no_grad():
            a = model.representations(x, y)
            b = model.representations(x, (y + 1) % bundle.num_classes)
        return any(not torch.equal(p, q) for p, q in zip(a, b))
    except Exception:
        return None


def check_finite_weights(model: TrainedModel) -> None:
    """A model with NaN, infinite or exploded weights diverged, whatever its rule reported: it
    fails the point (and is never cached). :func:`ffbench.divergence.check_weights`."""
    check_weights(model)


def load_before_training(context: RunContext, point: RunPoint, opts: RunOptions) -> None:
    """Load ``point``'s dataset before anything trains. A plugin's own failure that is not one of
    ffbench's clear errors (e.g. a damaged data file tripping an assertion inside a reader) still
    becomes one paragraph naming the dataset, not a traceback."""
    try:
        context.load_bundle(point.dataset, opts)
    except FFBenchError:
        raise
    except Exception as exc:
        raise FFBenchError(
            f"Dataset '{point.dataset.short_identity}' could not be loaded ({error_text(exc)}). If its files "
            "are damaged or not in the expected format, delete them (they are downloaded again where the "
            "network allows) or point --data-dir at a good copy. Nothing was trained."
        ) from None


def check_seeds(seeds) -> None:
    """Every seed within what every backend accepts, before anything trains (:data:`ffbench.grid.SEED_MAX`)."""
    check_seed_range(sorted(set(seeds)))


def base_row(task: PointTask, registry: Registry, bundle: DatasetBundle | None, run_id: str) -> dict:
    point = task.point
    row: dict[str, Any] = {
        "run_id": run_id,
        "config_hash": point.config_hash,
        "seed": point.seed,
        "preset": point.preset,
        "dataset_hash": bundle.content_hash if bundle else None,
        "device": device_label(task.opts.device),
        "precision": task.opts.precision,
        "threads": torch.get_num_threads(),
        "compiled": task.opts.compile,
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    for prefix, comp in point.components().items():
        row.update(component_columns(registry, prefix, comp))
    row.update(environment())
    row.update(task.opts.extra_columns)
    return row


def failed_row(base: dict, metric: Metric, exc: BaseException, registry: Registry, **extra: Any) -> dict:
    row = {
        **base,
        **component_columns(registry, "metric", metric),
        "status": "failed",
        "error": error_text(exc),
        "value": float("nan"),
        "higher_is_better": metric.higher_is_better,
    }
    row["metric"] = metric.name
    row.update(extra)
    return row


def make_artifact(opts: RunOptions, run_id: str, metric: Metric, result: MetricResult) -> Artifact | None:
    """Arrays go to ``<metric>.npz``, everything else to ``<metric>.json``."""
    if not result.artifacts:
        return None
    arrays = {
        k: np.asarray(v.cpu() if torch.is_tensor(v) else v)
        for k, v in result.artifacts.items()
        if torch.is_tensor(v) or isinstance(v, np.ndarray)
    }
    other = {k: v for k, v in result.artifacts.items() if k not in arrays}
    stem = (opts.artifacts_dir / run_id / metric.name).relative_to(opts.out.parent)
    return Artifact(str(stem), arrays, other)


def save_artifact(root: Path, artifact: Artifact) -> None:
    path = root / artifact.stem
    path.parent.mkdir(parents=True, exist_ok=True)
    if artifact.arrays:
        with atomic_path(path.with_name(path.name + ".npz")) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, **artifact.arrays)  # a file object: numpy appends no suffix
    if artifact.other:
        write_text(path.with_name(path.name + ".json"), json.dumps(artifact.other, indent=1, default=_jsonable))


def _jsonable(obj: Any) -> Any:
    if torch.is_tensor(obj):
        return obj.tolist()
    if isinstance(obj, (np.ndarray, np.generic)):
        return obj.tolist()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")
