"""README's Components and Datasets sections name every built-in component (a newcomer learns
what exists from them; `ffbench plugins` lists the parameters)."""

from __future__ import annotations

import re
from pathlib import Path

from ffbench.contracts import KINDS
from ffbench.registry import canonical_dist, load_registry

README = Path(__file__).resolve().parent.parent / "README.md"


def sections(*titles: str) -> str:
    text = README.read_text(encoding="utf-8")
    parts = re.split(r"^## ", text, flags=re.MULTILINE)
    return "\n".join(p for p in parts if p.split("\n", 1)[0].strip() in titles)


def test_readme_names_every_built_in_component():
    registry = load_registry()
    listed = sections("Components", "Datasets")
    built_in = {
        (kind, name)
        for kind in KINDS
        for name, entry in registry.entries[kind].items()
        if canonical_dist(entry.dist) == "ffbench"
    }
    assert len(built_in) > 50  # every kind's built-ins were found
    missing = sorted(f"{kind} {name}" for kind, name in built_in if f"`{name}`" not in listed)
    assert not missing, f"README's Components/Datasets sections do not name: {', '.join(missing)}"


def test_the_component_check_reads_only_those_sections():
    assert "`ff`" in sections("Components")
    assert "`fashion-mnist-mini`" in sections("Datasets")
    assert sections("No such section") == ""
