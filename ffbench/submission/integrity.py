"""Whether a submission's manifest and rows still say the same thing, and if not, what was changed.

The manifest is rebuilt from the rows (:func:`ffbench.submission.manifest.build_manifest`) and
compared with the one in the folder. Any difference is named: a value changed, a row added or
removed, a seed relabelled, a configuration's identity edited, the rows of another configuration
swapped in, a plugin version changed, the row set's hash. The rows are also checked as
``ffbench submit`` checks them (failed, dirty or incomplete rows), so rows edited after the fact
and resealed with a new manifest still have to be a valid submission (and then face the re-run).
"""

from __future__ import annotations

from typing import Any

from ffbench.submission import checks
from ffbench.submission.canonical import canonical_json, cell_text, config_label
from ffbench.submission.folder import Submission
from ffbench.submission.manifest import build_manifest

#: At most this many differences are listed per configuration.
LISTED = 12


def _short(value: Any) -> str:
    text = canonical_json(value) if not isinstance(value, str) else value
    return text if len(text) <= 240 else text[:237] + "..."


def _diff(path: str, given: Any, expected: Any, out: list[str]) -> None:
    """One line per leaf where ``given`` (the manifest) and ``expected`` (rebuilt from the rows) differ."""
    if isinstance(given, dict) and isinstance(expected, dict):
        for key in sorted(set(given) | set(expected), key=str):
            if key not in expected:
                out.append(f"{path}.{key}: in the manifest only")
            elif key not in given:
                out.append(f"{path}.{key}: missing from the manifest (the rows give {_short(expected[key])})")
            else:
                _diff(f"{path}.{key}", given[key], expected[key], out)
    elif isinstance(given, list) and isinstance(expected, list) and len(given) == len(expected):
        for i, (g, e) in enumerate(zip(given, expected)):
            _diff(f"{path}[{i}]", g, e, out)
    elif canonical_json(given) != canonical_json(expected):
        out.append(f"{path}: the manifest says {_short(given)}, the rows {_short(expected)}")


def _values(configuration: dict) -> dict[int, dict[tuple, Any]]:
    """seed -> {cell: value} of a configuration (as listed in a manifest)."""
    out: dict[int, dict[tuple, Any]] = {}
    for r in configuration.get("rows", []):
        out.setdefault(r["seed"], {})[tuple(r["cell"])] = r["value"]
    return out


def _well_formed(manifest: dict) -> bool:
    """Whether the manifest's configurations have the structure built here (so they can be matched)."""
    confs = manifest.get("configurations")
    try:
        return isinstance(confs, list) and all(
            isinstance(c, dict)
            and isinstance(c.get("key"), str)
            and isinstance(c.get("identity"), dict)
            and isinstance(c.get("rows"), list)
            and all(
                isinstance(r, dict)
                and isinstance(r.get("seed"), int)
                and isinstance(r.get("cell"), list)
                and len(r["cell"]) == 5
                and all(v is None or isinstance(v, (str, int)) for v in r["cell"])
                for r in c["rows"]
            )
            for c in confs
        )
    except TypeError:
        return False


def _label(configuration: dict) -> str:
    display, identity = configuration.get("display"), configuration.get("identity")
    return config_label(
        {**(identity if isinstance(identity, dict) else {}), **(display if isinstance(display, dict) else {})}
    )


def _rows(label: str, given: dict, expected: dict, others: list[dict]) -> list[str]:
    """The differences between the rows a configuration's manifest lists and its rows' own."""
    g_values, e_values = _values(given), _values(expected)
    for other in others:
        if _values(other) == e_values:
            return [
                f"{label}: its rows are those of configuration {_label(other)} "
                "(rows of another configuration swapped in)"
            ]
    lines: list[str] = []
    skip: set[int] = set()  # seeds of the rows that are another seed of the manifest, relabelled
    relabelled_from: set[int] = set()  # the manifest's seeds they were
    for seed, cells in e_values.items():
        if g_values.get(seed) == cells:
            continue
        twin = [t for t, c in g_values.items() if t != seed and c == cells]
        if twin:
            lines.append(f"{label}: seed relabelled: the rows labelled seed {seed} are the manifest's seed {twin[0]}")
            skip.add(seed)
            relabelled_from.add(twin[0])
    g_rows = {(r["seed"], tuple(r["cell"])): r for r in given["rows"]}
    e_rows = {(r["seed"], tuple(r["cell"])): r for r in expected["rows"]}
    changed: dict[int, int] = {}
    for key in sorted(set(g_rows) | set(e_rows), key=str):
        seed, cell = key
        if seed in skip or (seed in relabelled_from and key not in e_rows):
            continue  # reported once, as the relabelling
        where = f"{label} seed {seed} {cell_text(cell)}"
        if key not in e_rows:
            lines.append(f"row removed: {where} is in the manifest, not in the rows")
        elif key not in g_rows:
            lines.append(f"row added: {where} is in the rows, not in the manifest")
        elif g_rows[key].get("value") != e_rows[key]["value"]:
            lines.append(
                f"value changed: {where}: the manifest says {g_rows[key].get('value')}, the rows {e_rows[key]['value']}"
            )
        elif g_rows[key].get("sha256") != e_rows[key]["sha256"]:
            changed[seed] = changed.get(seed, 0) + 1
    if changed:
        lines.append(
            f"row changed: {sum(changed.values())} row(s) of {label} (seeds {', '.join(map(str, sorted(changed)))}) "
            "have the values the manifest lists but differ from the rows it hashed in another column"
        )
    other_fields: list[str] = []
    for field in sorted(set(given) | set(expected)):
        if field not in ("rows", "key"):
            _diff(f"{label}: {field}", given.get(field), expected.get(field), other_fields)
    relabelled = tuple(f"{label}: runs.{seed}{end}" for seed in skip | relabelled_from for end in ".:")
    lines += [line for line in other_fields if not (relabelled and line.startswith(relabelled))]
    return lines if len(lines) <= LISTED else lines[:LISTED] + [f"... and {len(lines) - LISTED} more differences"]


def _configurations(given: dict, expected: dict) -> list[str]:
    if not _well_formed(given):
        return ["the manifest's configurations are not in the form ffbench submit writes"]
    g = {c["key"]: c for c in given["configurations"]}
    e = {c["key"]: c for c in expected["configurations"]}
    lines: list[str] = []
    only_given = {k: g[k] for k in g if k not in e}
    for key, conf in e.items():
        if key in g:
            others = [c for k, c in g.items() if k != key]
            lines += _rows(_label(conf), g[key], conf, others)
            continue
        twin = next((k for k, c in only_given.items() if _values(c) == _values(conf)), None)
        if twin is not None:
            edited = []
            _diff("identity", only_given.pop(twin).get("identity"), conf["identity"], edited)
            lines.append(
                f"identity edited: the rows of {_label(g[twin])} now name {_label(conf)} ({'; '.join(edited)})"
            )
        else:
            lines.append(f"rows of a configuration the manifest does not list: {_label(conf)}")
    for conf in only_given.values():
        lines.append(f"configuration {_label(conf)} is in the manifest, but the rows hold none of it (rows removed)")
    return lines


def problems(submission: Submission) -> list[str]:
    """Every difference between the submission's manifest and its rows, and every reason its rows
    could not be submitted; empty when the submission is intact."""
    given = submission.manifest
    expected = build_manifest(submission.rows, given["name"], given["created_at"], given["submitted_with"])
    found: list[str] = []
    if canonical_json(given) != canonical_json(expected):
        _diff("distributions", given.get("distributions"), expected.get("distributions"), found)
        found += _configurations(given, expected)
        for field in ("environment", "rows_file", "rows_count", "rows_sha256"):
            _diff(field, given.get(field), expected.get(field), found)
        extra = sorted(set(given) - set(expected))
        found += [f"{k}: in the manifest only (not a manifest field)" for k in extra]
        if not found:
            found.append("the manifest differs from the one its rows rebuild")
    return found + checks.problems(submission.rows)
