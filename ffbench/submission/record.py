"""The verification record (``submissions/NAME/verification.json``): what ``ffbench verify`` did.

One object: the submission's name, the hash of the manifest it verified (and of its rows), the salt
of the seed draw, the verifier's environment, the overall ``status`` with its ``reason``, the
integrity problems, the plugin distributions, and per configuration: the seeds, the drawn seed, its
status (``verified``, ``deferred`` or ``failed``) and reason, the comparison mode (``exact`` or
``tolerance``), whether every value was identical, the estimated and actual seconds, every compared
value (submitted, re-run, difference, tolerance, pass), the unchecked stats and unmatched rows.

The overall status is ``failed`` if the integrity check, a distribution or any configuration
failed, else ``deferred`` if any configuration was deferred, else ``verified``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from ffbench.atomic_write import write_text
from ffbench.submission.canonical import SubmissionError
from ffbench.submission.manifest import read_json

FORMAT = "ffbench-verification"
FORMAT_VERSION = 1
STATUSES = ("verified", "deferred", "failed")


def overall(configurations: list[dict], problems: list[str]) -> tuple[str, str]:
    """(status, reason) of a whole verification."""
    if problems:
        return "failed", problems[0] + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
    failed = [c for c in configurations if c["status"] == "failed"]
    if failed:
        return "failed", f"{len(failed)} configuration(s) failed: {failed[0]['label']}: {failed[0]['reason']}"
    deferred = [c for c in configurations if c["status"] == "deferred"]
    if deferred:
        return "deferred", f"{len(deferred)} configuration(s) deferred: {deferred[0]['label']}: {deferred[0]['reason']}"
    return "verified", f"{len(configurations)} configuration(s) verified"


def _finite(obj):
    """``obj`` with every non-finite float as None (strict JSON has no NaN or infinity)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def write(record: dict, path: Path) -> None:
    text = json.dumps(_finite(record), indent=1, sort_keys=True, ensure_ascii=True, allow_nan=False)
    write_text(path, text + "\n")


def read(path: Path) -> dict:
    """A verification record, checked for the fields ``leaderboard update`` relies on."""
    record = read_json(path, "verification record")
    problems = []
    if record.get("format") != FORMAT or record.get("format_version") != FORMAT_VERSION:
        problems.append(f"format is not {FORMAT} version {FORMAT_VERSION}")
    for key in ("submission", "manifest_sha256", "rows_sha256", "reason"):
        if not isinstance(record.get(key), str):
            problems.append(f"{key} is not text")
    if record.get("status") not in STATUSES:
        problems.append(f"status is not one of {', '.join(STATUSES)}")
    confs = record.get("configurations")
    if not (
        isinstance(confs, list)
        and all(
            isinstance(c, dict)
            and isinstance(c.get("key"), str)
            and isinstance(c.get("label"), str)
            and c.get("status") in STATUSES
            and isinstance(c.get("reason"), str)
            for c in confs
        )
    ):
        problems.append("configurations are not a list of {key, label, status, reason}")
    if problems:
        raise SubmissionError(f"{path} is not a valid verification record", problems)
    return record


def _md(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(record: dict) -> str:
    """The record as a Markdown summary (for a pull request comment or a CI job summary)."""
    lines = [
        f"### ffbench verify: `{_md(record['submission'])}` is **{record['status']}**",
        "",
        _md(record["reason"]),
        "",
        f"Manifest `{record['manifest_sha256'][:16]}`, seed draw salt `{_md(record.get('salt') or '(none)')}`, "
        f"budget {record.get('budget_seconds')} s, re-runs took {record.get('seconds', 0):.1f} s on "
        f"{_md(record.get('verifier', {}).get('device', '?'))}.",
        "",
    ]
    if record.get("integrity"):
        lines += ["Integrity problems (the rows and the manifest differ):", ""]
        lines += [f"- {_md(p)}" for p in record["integrity"]] + [""]
    bad = [d for d in record.get("distributions", []) if not d.get("ok")]
    if bad:
        lines += [f"- distribution {_md(d['name'])}=={_md(d['version'])}: installed {_md(d['installed'])}" for d in bad]
        lines.append("")
    lines += [
        "| configuration | seeds | drawn seed | status | comparison | values | largest difference | reason |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in record["configurations"]:
        largest = c.get("largest")
        diff = (
            f"{largest['difference']:.3g} (tol {largest['tolerance']:.3g}, "
            f"{_md(largest['metric_id'])}/{_md(largest['stat'])})"
            if largest
            else "-"
        )
        mode = c.get("mode") or "-"
        if c.get("mode") == "exact":
            mode += ", identical" if c.get("identical") else ", not identical"
        lines.append(
            f"| {_md(c['label'])} | {_md(', '.join(map(str, c.get('seeds', []))))} | {c.get('drawn_seed')} | "
            f"{c['status']} | {mode} | {len(c.get('values', []))} | {diff} | {_md(c['reason'])} |"
        )
    return "\n".join(lines) + "\n"
