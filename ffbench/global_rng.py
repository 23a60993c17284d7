"""Compatibility for plugins that draw from torch's global RNG (plugin API 1; deprecated).

ffbench seeds only ``TrainContext.generator``; every built-in rule draws its numbers from it
alone (tests/test_generator_seeding.py trains each one with the global RNG disturbed and gets
bit-identical weights). Rules written against API 1 could rely on ``TrainContext`` also calling
``torch.manual_seed(seed)``. So that their numbers stay reproducible (independent of which points
ran before in the same process) for one more API version, the runner trains inside
:func:`legacy_global_seed`: torch's global RNG (CPU, and the training device's on CUDA) is seeded
with the point's seed for the fit and the process's own RNG state is restored afterwards, so
nothing leaks into later points or metrics. Removed in plugin API 2.

No notice names the rules that still rely on it: constructing an ``nn.Linear`` draws its default
initialisation from the global RNG even when the rule then redraws every weight from its
generator (as the built-ins do), so "the global RNG advanced" does not mean "the model depends on
it". The conformance check ``deterministic_training`` (which calls ``fit`` without this shim)
is what tells a plugin author.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def legacy_global_seed(seed: int, device: torch.device) -> Iterator[None]:
    """Seed torch's global RNG with ``seed`` for the block and restore it afterwards."""
    devices = (
        [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    )
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield
