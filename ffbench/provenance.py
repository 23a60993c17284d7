"""Where a result came from: versions, git sha, device, and code hashes for the model cache."""

from __future__ import annotations

import functools
import hashlib
import inspect
import platform
import subprocess
import sys
from pathlib import Path

import torch

import ffbench


@functools.lru_cache(maxsize=None)
def git_sha() -> str | None:
    """The commit of the ffbench checkout this code runs from (+"-dirty" if modified), if any."""
    root = Path(ffbench.__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "--verify", "-q", "HEAD"],
                              capture_output=True, text=True, timeout=5)
        sha = head.stdout.strip()
        if head.returncode != 0 or len(sha) != 40:
            return None
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def environment() -> dict[str, str | None]:
    return {
        "ffbench_version": ffbench.__version__,
        "git_sha": git_sha(),
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
    }


def resolve_device(name: str) -> torch.device:
    """'auto' -> cuda when available, else cpu; 'cpu'/'cuda'/'cuda:N' as given (checked)."""
    from ffbench.errors import FFBenchError

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise FFBenchError(f"--device {name} was asked for, but torch sees no CUDA device here. "
                           "Use --device cpu or --device auto.")
    try:
        return torch.device(name)
    except RuntimeError:
        raise FFBenchError(f"Unknown device '{name}'. Valid: auto, cpu, cuda, cuda:N.") from None


def device_label(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return f"cpu:{platform.processor() or platform.machine()}"


@functools.lru_cache(maxsize=None)
def _source_hash(path: str) -> str:
    """Hash of one module file, or of every .py file under a package folder."""
    p = Path(path)
    files = sorted(p.rglob("*.py")) if p.is_dir() else [p]
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def _top_level_source(cls: type) -> str | None:
    """The folder of the top-level package defining ``cls`` (or its single module file)."""
    top = sys.modules.get(cls.__module__.split(".")[0])
    top_file = getattr(top, "__file__", None)
    if top_file is None:
        module = sys.modules.get(cls.__module__)
        return inspect.getsourcefile(module) if module else None
    top_path = Path(top_file).resolve()
    return str(top_path.parent if top_path.name == "__init__.py" else top_path)


def code_hash(*classes: type) -> str:
    """Hash of the source of ffbench's core and of the top-level package of every class given
    (all of a plugin's package: a change to any module it imports invalidates cached models)."""
    sources = {str(Path(ffbench.__file__).resolve().parent)}
    sources.update(s for s in map(_top_level_source, classes) if s)
    return hashlib.sha256("|".join(_source_hash(s) for s in sorted(sources)).encode()).hexdigest()[:16]
