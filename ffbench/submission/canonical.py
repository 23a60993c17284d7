"""Canonical forms and hashes of a submission's rows, and the names a submission may have.

A row's content hash is the SHA-256 of its values in the fixed column order of the results schema
(:data:`ffbench.schema.COLUMNS`), written as compact JSON: missing values as ``null``, floats by
``repr`` (as text, so ``0.1`` and ``0.1000000000000000055`` are the same float and NaN is written at
all), integers and booleans as themselves, text as text. The hash of a row set is the SHA-256 of its
rows' hashes, sorted and joined by newlines, so it depends on neither the rows' order nor the file.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any

import numpy as np
import pandas as pd

from ffbench.errors import FFBenchError
from ffbench.leaderboard.schema import CONFIG
from ffbench.schema import COLUMNS

#: A submission's name: lowercase letters, digits and single hyphens inside, 3 to 64 characters. It
#: becomes a folder name (``submissions/NAME``), so it holds no separator, no dot and nothing a shell
#: or a file system reads specially.
NAME_PATTERN = re.compile(r"[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,63}")

#: The identity of a configuration: what the boards key it by.
CONFIG_COLUMNS = tuple(CONFIG)
#: What must be the same on every row of one configuration besides its identity.
UNIFORM_COLUMNS = (
    "rule",
    "rule_version",
    "goodness",
    "goodness_version",
    "negatives",
    "negatives_version",
    "dataset",
    "preset",
    "precision",
    "compiled",
    "suite",
    "suite_version",
)
#: One value of a run point: a metric's stat at a layer and class (pair).
CELL_COLUMNS = ("metric_id", "stat", "layer", "class", "class_b")


class SubmissionError(FFBenchError):
    """A submission that cannot be made, read or trusted, with every reason named."""

    def __init__(self, summary: str, problems: list[str] | None = None):
        self.summary, self.problems = summary, list(problems or [])
        super().__init__(summary + (":\n  - " + "\n  - ".join(self.problems) if self.problems else ""))


def check_name(name: object) -> str:
    """``name`` if it is a valid submission name (:data:`NAME_PATTERN`); an error naming the rule otherwise."""
    if isinstance(name, str) and NAME_PATTERN.fullmatch(name):
        return name
    raise SubmissionError(
        f"Refused submission name {name!r}: use 3 to 64 lowercase letters, digits and single hyphens, "
        "starting and ending with a letter or digit (e.g. my-rule-fashion); it becomes the folder submissions/NAME."
    )


def plain(value: Any) -> Any:
    """A cell as a JSON value: None for missing, float as ``repr`` text, int, bool or text."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, (int, np.integer)):
        return int(value)
    return str(value)


def canonical_json(obj: Any) -> str:
    """The one JSON text of ``obj`` (sorted keys, no spaces, ASCII, no NaN)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def row_values(row: dict) -> list[Any]:
    """A row's values in the schema's column order, in their canonical form."""
    return [plain(row.get(col)) for col in COLUMNS]


def row_hash(row: dict) -> str:
    """The content hash of one row (every column of the results schema)."""
    return sha256(canonical_json(row_values(row)))


def rows_hash(hashes: list[str]) -> str:
    """The hash of a row set from its rows' hashes (order-free)."""
    return sha256("\n".join(sorted(hashes)))


def value_text(value: Any) -> str | None:
    """A row's ``value`` as the manifest lists it: ``repr`` of the float (``'nan'`` for NaN), None if missing."""
    if value is None or value is pd.NA:
        return None
    value = float(value)
    return "nan" if math.isnan(value) else repr(value)


def config_key(row: dict) -> str:
    """The configuration a row belongs to, as a short hash of its identity columns."""
    return sha256(canonical_json([plain(row.get(c)) for c in CONFIG_COLUMNS]))[:16]


def cell_of(row: dict) -> tuple:
    """(metric_id, stat, layer, class, class_b) of a row, in canonical form."""
    return tuple(plain(row.get(c)) for c in CELL_COLUMNS)


def cell_text(cell: tuple | list) -> str:
    """``metric_id/stat`` with its layer and class(es), for messages."""
    metric_id, stat, layer, cls, cls_b = cell
    where = []
    if layer is not None:
        where.append(f"layer {layer}")
    if cls is not None:
        where.append(f"class {cls}" + (f" vs {cls_b}" if cls_b is not None else ""))
    return f"{metric_id}/{stat}" + (f" ({', '.join(where)})" if where else "")


def config_label(fields: dict) -> str:
    """``rule / goodness / negatives on dataset`` for messages: the display names (short identities)
    where ``fields`` has them, else the ids; parts that are missing are left out."""

    def part(kind: str):
        value = fields.get(kind)
        return value if value is not None else fields.get(f"{kind}_id")

    parts = [str(part("rule"))] + [str(part(k)) for k in ("goodness", "negatives") if part(k) is not None]
    return f"{' / '.join(parts)} on {part('dataset')}"
