"""The manifest of a submission (``submissions/NAME/manifest.json``): what the rows claim, in full.

Everything in it but the name, the creation time and the submitting environment is derived from
the rows by :func:`build_manifest`, so a manifest is valid exactly when it equals the manifest its
rows rebuild (:mod:`ffbench.submission.integrity` names any difference). It holds:

- ``configurations``: per configuration (the boards' identity: rule, goodness, negatives and dataset
  ids with every parameter, the dataset version and content hash), its component versions, preset,
  precision, metrics, seeds, the run of each seed (run id, start time, device, torch thread count,
  torch / python / ffbench versions, git sha, training and metric seconds), the ``ffbench run``
  command that reproduces it, and every row: its seed and cell, its value and its content hash;
- ``distributions``: every plugin distribution the rows name, with its version;
- ``environment``: the distinct environments the rows were computed in;
- ``rows_count`` and ``rows_sha256``: the hash of the whole row set (:mod:`ffbench.submission.canonical`).

Its own hash (:func:`manifest_hash`, over its canonical JSON) is what ``ffbench verify`` draws the
re-run seed from.
"""

from __future__ import annotations

import json
import shlex
from collections import defaultdict
from pathlib import Path
from typing import Any

import pandas as pd

from ffbench.schema import RESULTS_SCHEMA_VERSION
from ffbench.submission.canonical import (
    SubmissionError,
    canonical_json,
    cell_of,
    check_name,
    config_key,
    plain,
    row_hash,
    rows_hash,
    sha256,
    value_text,
)

MANIFEST_FILE = "manifest.json"
ROWS_FILE = "rows.parquet"
RECORD_FILE = "verification.json"
FORMAT = "ffbench-submission"
FORMAT_VERSION = 1
#: Largest manifest read (bytes): far above any real submission, small enough to parse safely.
MAX_MANIFEST_BYTES = 64 * 2**20

#: A configuration's identity and the settings that must be the same on all its rows.
IDENTITY_FIELDS = (
    "rule_id",
    "rule_version",
    "goodness_id",
    "goodness_version",
    "negatives_id",
    "negatives_version",
    "dataset_id",
    "dataset_version",
    "dataset_hash",
    "preset",
    "precision",
    "compiled",
)
#: Display names of the components (short identities), for messages and tables.
DISPLAY_FIELDS = ("rule", "goodness", "negatives", "dataset")
#: What the manifest records of the run that computed a seed.
RUN_FIELDS = (
    "run_id",
    "started_at",
    "device",
    "threads",
    "torch_version",
    "python_version",
    "ffbench_version",
    "git_sha",
    "cached",
)
ENVIRONMENT_FIELDS = ("ffbench_version", "git_sha", "torch_version", "python_version", "device", "threads")
DIST_KINDS = ("rule", "goodness", "negatives", "dataset", "metric")


def _sort_key(values: tuple | list) -> tuple:
    """Orders cells holding None next to text or numbers (None first)."""
    return tuple((v is not None, v if v is not None else "") for v in values)


def _seconds(value: Any) -> float | None:
    value = plain(value)
    return None if value is None or value == "nan" else float(value)


def commands_for(identity: dict, metric_ids: list[str], seeds: list[int], device: str | None) -> list[str]:
    """The ``ffbench run`` command(s) that reproduce a configuration: one for a contiguous range of
    seeds, else one per seed. Every parameter is inside the ids, so the preset changes nothing."""
    parts = ["ffbench", "run", "--rule", identity["rule_id"]]
    for flag, field in (("--goodness", "goodness_id"), ("--negatives", "negatives_id")):
        if identity.get(field) is not None:
            parts += [flag, identity[field]]
    parts += ["--dataset", identity["dataset_id"], "--metric", ",".join(metric_ids)]
    parts += ["--preset", str(identity["preset"]), "--precision", str(identity["precision"])]
    if identity.get("compiled"):
        parts.append("--compile")
    kind = "cuda" if device and device.startswith("cuda") else "cpu"
    parts += ["--device", kind, "--no-cache", "--stack-seeds", "off"]
    line = " ".join(shlex.quote(str(p)) for p in parts)
    if seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return [f"{line} --seed {seeds[0]} --seeds {len(seeds)}"]
    return [f"{line} --seed {s}" for s in seeds]


def _seed_run(rows: list[dict]) -> dict:
    """The run of one seed of a configuration (from its first row), with its seconds: the distinct
    trainings' seconds (metrics sharing a model share one) and every metric's seconds, summed."""
    first = rows[0]
    run = {f: plain(first.get(f)) for f in RUN_FIELDS}
    per_metric: dict[str, dict] = {}
    for r in rows:
        per_metric.setdefault(str(r.get("metric_id")), r)
    trainings = {_seconds(r.get("train_seconds")) for r in per_metric.values()} - {None}
    metric = [_seconds(r.get("metric_seconds")) for r in per_metric.values()]
    run["train_seconds"] = sum(trainings) if trainings else None
    run["metric_seconds"] = sum(m for m in metric if m is not None) if any(m is not None for m in metric) else None
    run["run_ids"] = sorted({str(plain(r.get("run_id"))) for r in rows})
    return run


def _configuration(key: str, rows: list[dict]) -> dict:
    first = rows[0]
    identity = {f: plain(first.get(f)) for f in IDENTITY_FIELDS}
    metrics = sorted(
        {(plain(r.get("metric_id")), plain(r.get("metric")), plain(r.get("metric_version"))) for r in rows},
        key=_sort_key,
    )
    by_seed: dict[int, list[dict]] = defaultdict(list)
    for r in rows:
        by_seed[plain(r.get("seed"))].append(r)
    seeds = sorted(s for s in by_seed if s is not None)
    runs = {str(s): _seed_run(by_seed[s]) for s in seeds}
    listed = [
        {
            "seed": plain(r.get("seed")),
            "cell": list(cell_of(r)),
            "value": value_text(r.get("value")),
            "sha256": row_hash(r),
        }
        for r in rows
    ]
    metric_ids = sorted({m[0] for m in metrics if m[0] is not None})
    device = runs[str(seeds[0])]["device"] if seeds else None
    return {
        "key": key,
        "identity": identity,
        "display": {f: plain(first.get(f)) for f in DISPLAY_FIELDS},
        "metrics": [{"metric_id": m, "metric": n, "metric_version": v} for m, n, v in metrics],
        "seeds": seeds,
        "runs": runs,
        "commands": commands_for(identity, metric_ids, seeds, device) if seeds and identity["rule_id"] else [],
        "rows": listed,
    }


def canonical_rows(rows: pd.DataFrame) -> list[dict]:
    """The rows as dicts in their one order: configuration, seed, cell, content hash."""
    records = rows.to_dict("records")
    return sorted(
        records,
        key=lambda r: (config_key(r), _sort_key([plain(r.get("seed"))]), _sort_key(cell_of(r)), row_hash(r)),
    )


def build_manifest(rows: pd.DataFrame, name: str, created_at: str, submitted_with: dict) -> dict:
    """The manifest of ``rows`` (a frame of the results schema). Pure: the same rows, name, time and
    submitting environment give the same manifest, whatever the rows' order."""
    records = canonical_rows(rows)
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        groups[config_key(r)].append(r)
    distributions = sorted(
        {
            (str(plain(r.get(f"{kind}_dist"))), str(plain(r.get(f"{kind}_dist_version"))))
            for r in records
            for kind in DIST_KINDS
            if plain(r.get(f"{kind}_dist")) is not None
        }
    )
    environment = {
        f: sorted({plain(r.get(f)) for r in records} - {None}, key=lambda v: (str(type(v)), v))
        for f in ENVIRONMENT_FIELDS
    }
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "results_schema": RESULTS_SCHEMA_VERSION,
        "name": name,
        "created_at": created_at,
        "submitted_with": submitted_with,
        "rows_file": ROWS_FILE,
        "rows_count": len(records),
        "rows_sha256": rows_hash([row_hash(r) for r in records]),
        "distributions": [{"name": n, "version": v} for n, v in distributions],
        "environment": environment,
        "configurations": [_configuration(key, groups[key]) for key in sorted(groups)],
    }


def manifest_hash(manifest: dict) -> str:
    """The SHA-256 of the manifest's canonical JSON: what the re-run seed is drawn from."""
    return sha256(canonical_json(manifest))


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def read_json(path: Path, what: str, limit: int = MAX_MANIFEST_BYTES) -> dict:
    """A JSON object from a file a stranger may have written: a regular file (no symlink), at most
    ``limit`` bytes, strict JSON (no NaN), an object at the top."""
    if path.is_symlink() or not path.is_file():
        raise SubmissionError(f"{path} is not a regular file (a {what} must be one, not a link or a folder).")
    if path.stat().st_size > limit:
        raise SubmissionError(f"{path} is larger than {limit} bytes; refused as a {what}.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constants)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SubmissionError(f"{path} is not a readable {what} (invalid JSON: {exc}).") from None
    if not isinstance(data, dict):
        raise SubmissionError(f"{path} is not a {what}: its JSON is not an object.")
    return data


def check_header(manifest: dict, path: Path) -> None:
    """The fields a manifest holds beyond what its rows rebuild: format, name, time, environment."""
    problems = []
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        problems.append(f"format is not {FORMAT} version {FORMAT_VERSION}")
    if manifest.get("results_schema") != RESULTS_SCHEMA_VERSION:
        problems.append(
            f"its rows are of results schema {manifest.get('results_schema')!r}; "
            f"this ffbench reads {RESULTS_SCHEMA_VERSION}"
        )
    try:
        check_name(manifest.get("name"))
    except SubmissionError as exc:
        problems.append(str(exc))
    created = manifest.get("created_at")
    if not (isinstance(created, str) and 0 < len(created) <= 64):
        problems.append("created_at is not a time stamp")
    env = manifest.get("submitted_with")
    if not (
        isinstance(env, dict)
        and len(env) <= 16
        and all(isinstance(k, str) and (v is None or (isinstance(v, str) and len(v) <= 200)) for k, v in env.items())
    ):
        problems.append("submitted_with is not a table of versions")
    if problems:
        raise SubmissionError(f"{path} is not a valid submission manifest", problems)
