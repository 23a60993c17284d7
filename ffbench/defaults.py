"""The built-in components ffbench uses where none is named, declared once: what `ffbench run`
trains and `ffbench bench` times without --rule/--goodness/--negatives/--dataset/--metric (--quality:
the dataset and metrics it compares on), the goodness and negatives of a suite entry that names
none, and those the conformance kit's harness trains with. Plain data: the core names a built-in
component nowhere else."""

from __future__ import annotations

DEFAULTS: dict[str, tuple[str, ...]] = {
    "rule": ("ff",),
    "goodness": ("l2",),
    "negatives": ("wrong-label",),
    "dataset": ("fashion-mnist-mini",),
    "metric": ("accuracy", "sparsity"),
}


def default_of(kind: str) -> str:
    """``kind``'s default as the command line writes it (comma-separated), e.g. for --help."""
    return ",".join(DEFAULTS[kind])
