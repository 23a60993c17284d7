"""Short configuration labels for board pages, and the identities they stand for.

A label names the rule, then the goodness and negatives where the board holds more than one of
them, and adds to each component only the parameters that differ between the board's
configurations using it (e.g. ``bp-ff (lr=0.0001)`` beside ``bp-ff (lr=0.00015)``). Where a board holds the same dataset
with other parameters (or another version or content), every label says which data it ran on
(``· data: train_size=1000``), and its numeric precision where the board holds several. Pages
print a key from each label to the full identities.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd

from ffbench.leaderboard.schema import CONFIG, row_keys

KINDS = ("rule", "goodness", "negatives")


def parse_id(identity) -> tuple[str, dict[str, str]]:
    """``name[k=v,...]`` -> (name, {k: v}); anything else -> (the text, {})."""
    if identity is None or pd.isna(identity):
        return "", {}
    text = str(identity)
    name, bracket, rest = text.partition("[")
    if not bracket:
        return text, {}
    if not rest.endswith("]"):
        return text, {}
    params, depth, part = {}, 0, ""
    for ch in rest[:-1] + ",":
        if ch == "," and depth == 0:
            key, eq, value = part.partition("=")
            if not eq:
                return text, {}
            params[key] = value
            part = ""
            continue
        depth += (ch == "[") - (ch == "]")
        part += ch
    return name, params


def data_identity(row) -> tuple[str, str, str]:
    return tuple(str(row[c]) for c in ("dataset_id", "dataset_version", "dataset_hash"))


def _differing(params: list[dict[str, str]]) -> list[str]:
    keys = sorted({k for p in params for k in p})
    return [k for k in keys if len({p.get(k) for p in params}) > 1]


def _part(name: str, params: dict[str, str], keys: list[str]) -> str:
    shown = [f"{k}={params[k]}" for k in keys if k in params]
    return f"{name} ({', '.join(shown)})" if shown else name


def short_labels(configs: pd.DataFrame) -> dict[str, str]:
    """Config key (``row_keys(configs, CONFIG)``) -> a short label, unique within ``configs`` (one or
    more rows per configuration, with the :data:`CONFIG` columns)."""
    configs = configs.assign(_config=row_keys(configs, CONFIG)).drop_duplicates("_config")
    parsed = {
        key: {kind: parse_id(row[f"{kind}_id"]) for kind in (*KINDS, "dataset")}
        for key, (_, row) in zip(configs["_config"], configs.iterrows())
    }
    data = {key: data_identity(row) for key, (_, row) in zip(configs["_config"], configs.iterrows())}
    # goodness and negatives are named where the board holds more than one of them
    named = {kind: kind == "rule" or len({p[kind][0] for p in parsed.values() if p[kind][0]}) > 1 for kind in KINDS}
    differ = {}  # (kind, name) -> the parameters that differ between the configurations using it
    for kind in KINDS:
        for name in {p[kind][0] for p in parsed.values() if p[kind][0]}:
            differ[(kind, name)] = _differing([p[kind][1] for p in parsed.values() if p[kind][0] == name])
    labels = {}
    for key, p in parsed.items():
        parts = []
        for kind in KINDS:
            name, params = p[kind]
            keys = differ.get((kind, name), [])
            if name and (named[kind] or keys):
                parts.append(_part(name, params, keys))
        labels[key] = " / ".join(parts)
    if len(set(data.values())) > 1:
        labels = {key: f"{label} · data: {data_label(key, parsed, data)}" for key, label in labels.items()}
    if "precision" in configs.columns and configs["precision"].astype("string").nunique(dropna=False) > 1:
        precision = dict(zip(configs["_config"], configs["precision"].astype("string").fillna("–")))
        labels = {key: f"{label} · {precision[key]}" for key, label in labels.items()}
    counts = Counter(labels.values())
    seen: Counter = Counter()
    for key in sorted(labels):
        if counts[labels[key]] > 1:
            seen[labels[key]] += 1
            labels[key] = f"{labels[key]} #{seen[labels[key]]}"
    return labels


def data_label(key: str, parsed: dict, data: dict) -> str:
    """The dataset parameters that differ between the board's configurations (or its version and
    content hash where only those differ)."""
    params = [p["dataset"][1] for p in parsed.values()]
    differ = _differing(params)
    own = parsed[key]["dataset"][1]
    if differ:
        return ", ".join(f"{k}={own.get(k, '–')}" for k in differ)
    _, version, content = data[key]
    return f"v{version} ({content[:8]})"


def identity(row) -> str:
    """The full identity of a configuration: its component ids and its data."""
    ids = " / ".join(str(row[f"{k}_id"]) for k in KINDS if not pd.isna(row[f"{k}_id"]))
    return f"{ids} on {row['dataset_id']} v{row['dataset_version']} ({row['dataset_hash']})"
