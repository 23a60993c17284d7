"""Which numeric precisions a run may use, asked before anything trains.

- ``fp32``: everywhere.
- ``tf32``: CUDA only (TF32 matmuls).
- ``bf16``: autocast to bfloat16 (``TrainContext.autocast``). On CUDA as before; on a CPU only
  where (1) the CPU has native bfloat16 matmul instructions that torch's oneDNN backend uses
  (x86: AMX-BF16 or AVX512-BF16; arm64: BF16), without which bfloat16 is emulated and slower than
  float32, and (2) the rule declares ``bf16_cpu_verified`` (float32 and bfloat16 training measured
  to give the same numbers within seed noise: docs/precision.md).

Detection asks torch (``torch.cpu.get_capabilities``, which reads cpuinfo, and
``torch.ops.mkldnn._is_mkldnn_bf16_supported``); nothing here parses /proc.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from ffbench.errors import FFBenchError

PRECISIONS = ("fp32", "tf32", "bf16")

#: CPU features (names as ``torch.cpu.get_capabilities`` spells them) that give native bfloat16
#: matmuls, per architecture; any one of them is enough
BF16_FEATURES = {
    "x86_64": ("amx_bf16", "avx512_bf16"),
    "arm64": ("bf16", "sve_bf16"),
}

DOC = "docs/precision.md"


@dataclass(frozen=True)
class Bf16Support:
    """Whether this CPU runs bfloat16 matmuls natively; ``reason`` names what is missing."""

    supported: bool
    reason: str = ""
    #: the feature found (e.g. "amx_bf16"), or None
    feature: str | None = None


def _capabilities() -> dict:
    get = getattr(torch.cpu, "get_capabilities", None)
    return dict(get()) if get is not None else {}


def _onednn_bf16() -> bool:
    op = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    try:
        return bool(op()) if op is not None else False
    except RuntimeError:
        return False


def cpu_bf16_support() -> Bf16Support:
    """Whether torch can run bfloat16 matmuls natively on this CPU (see the module docstring)."""
    caps = _capabilities()
    arch = str(caps.get("architecture", "")).lower()
    arch = {"aarch64": "arm64", "amd64": "x86_64", "x86": "x86_64"}.get(arch, arch)
    wanted = BF16_FEATURES.get(arch)
    if wanted is None:
        return Bf16Support(
            False,
            f"this CPU's architecture ({arch or 'unknown'}) has no bfloat16 matmul instructions that "
            "torch is known to use (x86_64: amx_bf16 or avx512_bf16; arm64: bf16)",
        )
    found = next((f for f in wanted if caps.get(f)), None)
    if found is None:
        return Bf16Support(
            False,
            f"this CPU lacks the bfloat16 matmul instructions {' and '.join(wanted)} ({arch}); "
            "bfloat16 would be emulated, slower than float32",
        )
    if not torch.backends.mkldnn.is_available() or not _onednn_bf16():
        return Bf16Support(
            False,
            f"this CPU has {found}, but this torch build's oneDNN backend does not run bfloat16 "
            "(torch.ops.mkldnn._is_mkldnn_bf16_supported() is False)",
            found,
        )
    return Bf16Support(True, "", found)


def check_device(precision: str, device: torch.device) -> None:
    """Refuse a precision the device cannot run (FFBenchError with the reason and the fix)."""
    if precision not in PRECISIONS:
        raise FFBenchError(f"Unknown precision '{precision}'. Valid: {', '.join(PRECISIONS)}.")
    if precision == "fp32" or device.type == "cuda":
        return
    if precision == "tf32":
        raise FFBenchError(f"--precision tf32 is a CUDA mode; this run is on {device}. Use fp32 (or bf16).")
    if device.type != "cpu":
        raise FFBenchError(f"--precision bf16 runs on CUDA or on a CPU; this run is on {device}. Use fp32.")
    support = cpu_bf16_support()
    if not support.supported:
        raise FFBenchError(f"--precision bf16 refused: {support.reason}. Use fp32 (see {DOC}).")


@contextmanager
def tf32_matmuls(enabled: bool) -> Iterator[None]:
    """TF32 matmuls and cuDNN convolutions inside the block where ``enabled`` (``--precision tf32``
    on CUDA). It turns on those of ``torch.backends.cuda.matmul.allow_tf32`` and
    ``torch.backends.cudnn.allow_tf32`` that are off, and turns them off again on leaving the block,
    also on an error, so the mode never outlives the work it was asked for. A flag already on is left
    alone (setting it would also reset a ``torch.set_float32_matmul_precision("medium")``)."""
    backends = [torch.backends.cuda.matmul, torch.backends.cudnn]
    turned_on = [b for b in backends if enabled and not b.allow_tf32]
    for backend in turned_on:
        backend.allow_tf32 = True
    try:
        yield
    finally:
        for backend in turned_on:
            backend.allow_tf32 = False


def rule_admits_bf16(rule, device: torch.device) -> tuple[bool, str]:
    """Whether ``rule`` (a LearningRule) may train in bf16 on ``device``, and if not, why."""
    if device.type != "cpu" or getattr(rule, "bf16_cpu_verified", False):
        return True, ""
    origin = "built-in" if type(rule).__module__.startswith("ffbench_plugins.") else "third-party"
    how = (
        "its float32 vs bfloat16 numbers were not shown to agree within seed noise"
        if origin == "built-in"
        else "it does not declare bf16_cpu_verified = True (set it on the rule class once "
        "scripts/bf16_equivalence.py, or your own paired-seed comparison, shows float32 and "
        "bfloat16 training give the same numbers)"
    )
    return False, f"rule '{rule.name}' is not admitted to --precision bf16 on a CPU: {how}; use fp32 (see {DOC})"


def check_rules(precision: str, device: torch.device, rules: Iterable) -> None:
    """Refuse bf16 on a CPU for any of ``rules`` that is not admitted (one message naming them all)."""
    if precision != "bf16":
        return
    seen: dict[str, str] = {}
    for rule in rules:
        ok, reason = rule_admits_bf16(rule, device)
        if not ok:
            seen.setdefault(rule.name, reason)
    if seen:
        raise FFBenchError("--precision bf16 refused: " + "; ".join(seen.values()) + ".")
