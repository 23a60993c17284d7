"""Running a grid: load data -> train (or reuse a cached model) -> compute metrics -> append rows.

Every point's rows are appended to the results file as soon as the point finishes, so an
interrupted run keeps everything finished. A point that fails (training or one metric) is
recorded with status ``failed`` and its error; the run goes on. Datasets are loaded before any
training, so a missing dataset stops the run at once with its own clear message.
"""

from __future__ import annotations

import json
import time
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from ffbench.cache import ModelCache
from ffbench.component import Component
from ffbench.contracts import DatasetBundle, Evaluation, Metric, MetricResult, TrainContext, TrainedModel
from ffbench.grid import Grid, RunPoint, canonical_hash
from ffbench.provenance import code_hash, device_label, environment
from ffbench.registry import Registry
from ffbench.results import append_results


class Reporter(Protocol):
    """What the runner tells its caller (the CLI draws rich progress bars from it)."""

    def start(self, total_points: int) -> None: ...
    def point_started(self, index: int, point: RunPoint) -> None: ...
    def progress(self, done: float, total: float, description: str) -> None: ...
    def log(self, message: str) -> None: ...
    def point_finished(self, index: int, point: RunPoint, status: str, seconds: float) -> None: ...


class SilentReporter:
    def start(self, total_points): pass
    def point_started(self, index, point): pass
    def progress(self, done, total, description): pass
    def log(self, message): pass
    def point_finished(self, index, point, status, seconds): pass


@dataclass
class RunOptions:
    out: Path
    device: torch.device
    data_dir: Path | None = None
    download: bool = True
    cache: ModelCache = field(default_factory=lambda: ModelCache(enabled=False))

    @property
    def artifacts_dir(self) -> Path:
        return self.out.with_name(self.out.name + ".artifacts")


def error_text(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" [{Path(frames[-1].filename).name}:{frames[-1].lineno}]" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def component_columns(registry: Registry, prefix: str, component: Component | None) -> dict[str, Any]:
    if component is None:
        return {prefix: None, f"{prefix}_id": None, f"{prefix}_version": None, f"{prefix}_dist": None,
                f"{prefix}_dist_version": None}
    entry = registry.entry_of(component)
    return {prefix: component.short_identity, f"{prefix}_id": component.identity,
            f"{prefix}_version": component.version, f"{prefix}_dist": entry.dist,
            f"{prefix}_dist_version": entry.dist_version}


def load_datasets(grid: Grid, opts: RunOptions) -> dict[str, DatasetBundle]:
    bundles: dict[str, DatasetBundle] = {}
    for point in grid.points:
        key = point.dataset.identity
        if key not in bundles:
            bundle = point.dataset.load(opts.data_dir, opts.download)
            bundle.train, bundle.test = bundle.train.to(opts.device), bundle.test.to(opts.device)
            bundles[key] = bundle
    return bundles


def variant_key(variant: dict | None) -> str:
    return "standard" if not variant else canonical_hash(variant)


class Runner:
    def __init__(self, registry: Registry, opts: RunOptions, reporter: Reporter | None = None):
        self.registry, self.opts = registry, opts
        self.reporter: Reporter = reporter or SilentReporter()
        self.env = environment()
        self.device_name = device_label(opts.device)

    # -- public -------------------------------------------------------------------------
    def run(self, grid: Grid) -> list[dict]:
        bundles = load_datasets(grid, self.opts)
        self.reporter.start(len(grid.points))
        all_rows: list[dict] = []
        for i, point in enumerate(grid.points):
            self.reporter.point_started(i, point)
            t0 = time.perf_counter()
            rows = self.run_point(point, grid.metrics, bundles[point.dataset.identity])
            append_results(self.opts.out, rows)
            all_rows.extend(rows)
            status = "failed" if any(r["status"] == "failed" for r in rows) else "ok"
            self.reporter.point_finished(i, point, status, time.perf_counter() - t0)
        return all_rows

    def run_point(self, point: RunPoint, metrics: list[Metric], bundle: DatasetBundle) -> list[dict]:
        run_id = uuid.uuid4().hex[:12]
        base = self._base_row(point, bundle, run_id)
        groups: dict[str, tuple[dict | None, list[Metric]]] = {}
        for metric in metrics:
            variant = metric.training_variant(bundle)
            groups.setdefault(variant_key(variant), (variant, []))[1].append(metric)
        rows: list[dict] = []
        for variant, group in groups.values():
            try:
                model, train_seconds, cached = self.train(point, bundle, variant)
            except Exception as exc:  # a failed point is recorded, never cached, and the run goes on
                self.reporter.log(f"[red]training failed[/red] for {point.label}: {error_text(exc)}")
                rows += [self._failed_row(base, m, exc) for m in group]
                continue
            ev = Evaluation(model, bundle, self.opts.device)
            for metric in group:
                rows += self.compute_metric(base, metric, ev, run_id, train_seconds, cached)
        return rows

    def train(self, point: RunPoint, bundle: DatasetBundle, variant: dict | None) -> tuple[TrainedModel, float, bool]:
        """Return (model, training seconds, whether it came from the cache)."""
        comps = [c for c in (point.rule, point.goodness, point.negatives, point.dataset) if c is not None]
        key = ModelCache.key(point.config, variant, bundle.content_hash,
                             code_hash(*(type(c) for c in comps)), self.opts.device.type)
        hit = self.opts.cache.load(key)
        if hit is not None:
            self.reporter.log(f"reusing cached model for {point.label}" + (f" {variant}" if variant else ""))
            return hit.model.to(self.opts.device), float(hit.meta.get("train_seconds", float("nan"))), True
        held_out = list((variant or {}).get("holdout", []))
        data = bundle.without_classes(held_out) if held_out else bundle
        ctx = TrainContext(
            device=self.opts.device, seed=point.seed,
            train_classes=[c for c in range(bundle.num_classes) if c not in held_out],
            num_classes=bundle.num_classes, progress=self.reporter.progress, log=self.reporter.log,
        )
        t0 = time.perf_counter()
        model = point.rule.fit(data, point.goodness, point.negatives, ctx)
        if self.opts.device.type == "cuda":
            torch.cuda.synchronize(self.opts.device)
        seconds = time.perf_counter() - t0
        self.opts.cache.save(key, model, {"train_seconds": seconds, "config": point.config, "variant": variant})
        return model, seconds, False

    def compute_metric(self, base: dict, metric: Metric, ev: Evaluation, run_id: str, train_seconds: float,
                       cached: bool) -> list[dict]:
        t0 = time.perf_counter()
        try:
            result = metric.compute(ev)
            artifact = self._save_artifacts(run_id, metric, result)
        except Exception as exc:
            self.reporter.log(f"[red]metric {metric.name} failed[/red]: {error_text(exc)}")
            return [self._failed_row(base, metric, exc, train_seconds=train_seconds, cached=cached)]
        seconds = time.perf_counter() - t0
        head = {**base, **component_columns(self.registry, "metric", metric),
                "higher_is_better": metric.higher_is_better, "status": "ok", "artifact": artifact,
                "train_seconds": train_seconds, "metric_seconds": seconds, "cached": cached}
        head["metric"] = metric.name
        return [{**head, "stat": r.stat, "layer": r.layer, "class": r.cls, "class_b": r.cls_b,
                 "value": float(r.value)} for r in result.rows]

    # -- helpers ------------------------------------------------------------------------
    def _base_row(self, point: RunPoint, bundle: DatasetBundle, run_id: str) -> dict:
        row: dict[str, Any] = {"run_id": run_id, "config_hash": point.config_hash, "seed": point.seed,
                               "preset": point.preset, "dataset_hash": bundle.content_hash,
                               "device": self.device_name,
                               "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        for prefix, comp in point.components().items():
            row.update(component_columns(self.registry, prefix, comp))
        row.update(self.env)
        return row

    def _failed_row(self, base: dict, metric: Metric, exc: BaseException, **extra: Any) -> dict:
        row = {**base, **component_columns(self.registry, "metric", metric), "status": "failed",
               "error": error_text(exc), "value": float("nan"), "higher_is_better": metric.higher_is_better}
        row["metric"] = metric.name
        row.update(extra)
        return row

    def _save_artifacts(self, run_id: str, metric: Metric, result: MetricResult) -> str | None:
        """Arrays go to ``<metric>.npz``, everything else to ``<metric>.json``; returns the folder
        relative to the results file's folder."""
        if not result.artifacts:
            return None
        folder = self.opts.artifacts_dir / run_id
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {k: np.asarray(v.cpu() if torch.is_tensor(v) else v) for k, v in result.artifacts.items()
                  if torch.is_tensor(v) or isinstance(v, np.ndarray)}
        other = {k: v for k, v in result.artifacts.items() if k not in arrays}
        if arrays:
            np.savez_compressed(folder / f"{metric.name}.npz", **arrays)
        if other:
            (folder / f"{metric.name}.json").write_text(json.dumps(other, indent=1, default=_jsonable))
        return str((folder / metric.name).relative_to(self.opts.out.parent))


def _jsonable(obj: Any) -> Any:
    if torch.is_tensor(obj):
        return obj.tolist()
    if isinstance(obj, (np.ndarray, np.generic)):
        return obj.tolist()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")
