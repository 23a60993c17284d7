"""``ffbench verify``: re-run one seed of every configuration of a submission, drawn by the verifier,
and compare every value; the result is a verification record (:mod:`.record`).

In order: the manifest must be what the rows rebuild (:mod:`.integrity`), and every plugin
distribution it names must be installed at its version (:mod:`.dists`), else nothing is re-run and
the submission fails. Then, per configuration:

- **the seed** is drawn from the SHA-256 of ``manifest hash : salt : configuration key``, so it is
  fixed by the submission (and the salt, empty by default: a CI job may pass one the submitter
  could not know, e.g. the merge commit) and not chosen by the submitter;
- **the cost** is estimated from that seed's submitted training and metric seconds, scaled by the
  ratio of its thread count to the threads this machine can give the re-run; a configuration whose
  estimate exceeds what is left of ``budget`` seconds (or that trained on CUDA while this re-run is
  on CPU) is **deferred**, never verified;
- **the re-run** (:mod:`.rerun`) runs at the submitted thread count by default (so that, on the
  same kind of machine, the values are identical), and is stopped when it runs past what is left
  of the budget (:mod:`.deadline`: the estimate came from the submitter's seconds): the
  configuration is then deferred, with the seconds it was given;
- **the comparison** (:mod:`.compare`): a configuration whose values differ beyond float rounding
  where the board has no cell to bound their tolerance is deferred, not verified (its tolerance
  would be the submitter's own seed std).
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import torch

from ffbench.errors import FFBenchError
from ffbench.provenance import device_label, environment, resolve_device
from ffbench.registry import get_registry
from ffbench.runner import Reporter
from ffbench.submission import dists, integrity
from ffbench.submission.canonical import config_key, config_label, sha256
from ffbench.submission.compare import compare
from ffbench.submission.deadline import OverBudget, deadline
from ffbench.submission.folder import Submission, load
from ffbench.submission.manifest import manifest_hash
from ffbench.submission.record import FORMAT, FORMAT_VERSION, overall
from ffbench.submission.rerun import RebuildError, rebuild, rerun
from ffbench.submission.tolerance import board_spread, seed_spread

#: Default budget (seconds of re-runs per verification): half an hour of CI's 2 cores.
DEFAULT_BUDGET = 1800.0


def draw_seed(manifest_sha256: str, salt: str, configuration: dict) -> int:
    """The seed the verifier re-runs: fixed by the manifest, the salt and the configuration."""
    seeds = sorted(configuration["seeds"])
    digest = sha256(f"{manifest_sha256}:{salt}:{configuration['key']}")
    return seeds[int(digest, 16) % len(seeds)]


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def estimate_seconds(run: dict, threads: int, device: torch.device) -> float:
    """The re-run's expected seconds: the seed's submitted training + metric seconds, scaled by its
    thread count over the threads this machine can give (on CPU)."""
    seconds = (run.get("train_seconds") or 0.0) + (run.get("metric_seconds") or 0.0)
    if device.type == "cpu":
        seconds *= (run.get("threads") or 1) / max(1, min(threads, cores()))
    return seconds


def deferral(identity: dict, run: dict, device: torch.device) -> str | None:
    """Why a seed cannot be re-run on ``device`` at all (None: it can)."""
    trained_on = str(run.get("device") or "")
    if device.type == "cpu" and trained_on.startswith("cuda"):
        return (
            f"trained on CUDA ({trained_on}): its cost on this CPU cannot be estimated from its seconds; "
            "verify it on a CUDA machine (ffbench verify --device cuda)"
        )
    return None


def seconds_text(seconds: float) -> str:
    """Seconds for a reason: whole seconds from 10 s, else three significant digits."""
    seconds = max(float(seconds), 0.0)
    return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.3g} s"


def _metric_classes(registry, rows: pd.DataFrame) -> dict[str, type]:
    classes = {}
    for name in rows["metric"].dropna().unique():
        try:
            classes[str(name)] = registry.get("metric", str(name)).cls
        except FFBenchError:
            pass
    return classes


def _configuration(
    conf: dict,
    submission: Submission,
    mhash: str,
    salt: str,
    *,
    registry,
    device: torch.device,
    threads: int | None,
    remaining: float,
    boards_dir: Path | None,
    data_dir: Path | None,
    download: bool,
    reporter: Reporter | None,
    log: Callable[[str], None],
) -> dict:
    identity = conf["identity"]
    seed = draw_seed(mhash, salt, conf)
    run = conf["runs"][str(seed)]
    use_threads = threads or run.get("threads") or torch.get_num_threads()
    estimate = estimate_seconds(run, use_threads, device)
    entry = {
        "key": conf["key"],
        "label": config_label({**identity, **conf["display"]}),
        "identity": identity,
        "seeds": conf["seeds"],
        "drawn_seed": seed,
        "status": "failed",
        "reason": "",
        "mode": None,
        "identical": None,
        "estimated_seconds": round(estimate, 3),
        "seconds": None,
        "threads": use_threads if device.type == "cpu" else None,
        "values": [],
        "unchecked": [],
        "unmatched": [],
        "unbounded": [],
        "largest": None,
    }
    why_not = deferral(identity, run, device)
    if why_not is None and estimate > remaining:
        why_not = (
            f"estimated {seconds_text(estimate)} for seed {seed}, "
            f"more than the {seconds_text(remaining)} left of the budget"
        )
    if why_not:
        entry.update(status="deferred", reason=f"not re-run: {why_not}")
        return entry
    rows = submission.rows[[config_key(r) == conf["key"] for r in submission.rows.to_dict("records")]]
    metric_ids = [m["metric_id"] for m in conf["metrics"]]
    t0 = time.perf_counter()
    try:
        grid = rebuild(registry, identity, metric_ids, seed)
        with deadline(remaining, reporter) as watched:
            new = rerun(
                registry,
                grid,
                device=device,
                precision=str(identity["precision"]),
                compiled=bool(identity["compiled"]),
                threads=use_threads if device.type == "cpu" else None,
                data_dir=data_dir,
                download=download,
                reporter=watched,
                log=log,
            )
    except RebuildError as exc:
        entry["reason"] = str(exc)
        return entry
    except OverBudget:
        entry["seconds"] = round(time.perf_counter() - t0, 3)
        entry.update(
            status="deferred",
            reason=f"not verified: the re-run of seed {seed} was stopped after {seconds_text(entry['seconds'])}, "
            f"past the {seconds_text(remaining)} left of the budget (estimated {seconds_text(estimate)} "
            "from the submitted seconds)",
        )
        return entry
    entry["seconds"] = round(time.perf_counter() - t0, 3)
    exact = (
        device.type == "cpu"
        and run.get("device") == device_label(device)
        and run.get("threads") == use_threads
        and run.get("torch_version") == torch.__version__
    )
    result = compare(
        rows[rows["seed"] == seed],
        new,
        exact=exact,
        spread=seed_spread(rows),
        board=board_spread(boards_dir, identity),
        metric_classes=_metric_classes(registry, rows),
    )
    entry.update(
        mode="exact" if exact else "tolerance",
        identical=result.identical if exact else None,
        values=result.values,
        unchecked=result.unchecked,
        unmatched=result.unmatched,
        unbounded=result.unbounded,
        largest=result.largest,
    )
    if result.problems:
        entry["reason"] = (
            f"seed {seed} re-run differs: "
            + "; ".join(result.problems[:5])
            + (f" (and {len(result.problems) - 5} more)" if len(result.problems) > 5 else "")
        )
        return entry
    if result.unbounded:
        entry.update(
            status="deferred",
            reason=f"not verified: seed {seed} re-run: {len(result.unbounded)} of {len(result.values)} values "
            "differ from the submitted ones and the board has no cell to bound their tolerance (only the "
            f"submitter's own seed std would); first: {result.unbounded[0]}. Verify where the re-run is "
            "exact (the submitted device, thread count and torch) or once the board holds these cells",
        )
        return entry
    how = (
        "identical values"
        if exact and result.identical
        else "values within tolerance" + (" (expected identical: another CPU or BLAS build?)" if exact else "")
    )
    entry.update(status="verified", reason=f"seed {seed} re-run: {len(result.values)} {how}")
    return entry


def verify(
    folder: str | os.PathLike,
    *,
    budget: float = DEFAULT_BUDGET,
    device: str = "cpu",
    threads: int | None = None,
    boards_dir: str | os.PathLike | None = None,
    install: bool = False,
    salt: str = "",
    data_dir: Path | None = None,
    download: bool = True,
    reporter: Reporter | None = None,
    log: Callable[[str], None] = lambda message: None,
) -> dict:
    """Verify the submission in ``folder``; returns its verification record (writes nothing)."""
    submission = load(folder)
    manifest = submission.manifest
    mhash = manifest_hash(manifest)
    torch_device = resolve_device(device)
    env = environment()
    record: dict = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "submission": submission.name,
        "manifest_sha256": mhash,
        "rows_sha256": str(manifest.get("rows_sha256")),
        "salt": salt,
        "verified_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "budget_seconds": budget,
        "seconds": 0.0,
        "verifier": {
            **env,
            "device": device_label(torch_device),
            "cores": cores(),
            "platform": platform.platform(),
        },
        "integrity": integrity.problems(submission),
        "distributions": [],
        "configurations": [],
    }
    problems = list(record["integrity"])
    if not problems:
        report, dist_problems, installed = dists.check(manifest["distributions"], install, log)
        record["distributions"] = report
        problems += dist_problems
    if problems:
        record["status"], record["reason"] = overall([], problems)
        return record
    registry = get_registry(refresh=installed)
    remaining = float(budget)
    for conf in manifest["configurations"]:
        entry = _configuration(
            conf,
            submission,
            mhash,
            salt,
            registry=registry,
            device=torch_device,
            threads=threads,
            remaining=remaining,
            boards_dir=Path(boards_dir) if boards_dir is not None else None,
            data_dir=data_dir,
            download=download,
            reporter=reporter,
            log=log,
        )
        if entry["seconds"] is not None:
            remaining -= entry["seconds"]
            record["seconds"] += entry["seconds"]
        log(f"{entry['label']}: {entry['status']}: {entry['reason']}")
        record["configurations"].append(entry)
    record["seconds"] = round(record["seconds"], 3)
    record["status"], record["reason"] = overall(record["configurations"], [])
    return record
