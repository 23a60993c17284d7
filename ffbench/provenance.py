"""Where a result came from: versions, git sha, device, and code hashes for the model cache."""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import json
import platform
import subprocess
from pathlib import Path

import torch

import ffbench
from ffbench.errors import FFBenchError


@functools.cache
def git_sha() -> str | None:
    """The commit of the ffbench checkout this code runs from (+"-dirty" if modified), if any."""
    root = Path(ffbench.__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--verify", "-q", "HEAD"], capture_output=True, text=True, timeout=5
        )
        sha = head.stdout.strip()
        if head.returncode != 0 or len(sha) != 40:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
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
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise FFBenchError(
            f"--device {name} was asked for, but torch sees no CUDA device here. Use --device cpu or --device auto."
        )
    try:
        return torch.device(name)
    except RuntimeError:
        raise FFBenchError(f"Unknown device '{name}'. Valid: auto, cpu, cuda, cuda:N.") from None


def device_label(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return f"cpu:{platform.processor() or platform.machine()}"


def _module_file(name: str) -> Path | None:
    """The source file of an importable module (its __init__.py for a package), or None."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError, AttributeError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin).resolve()


def _strip(tree: ast.AST) -> ast.AST:
    """The module without what cannot change what it computes: docstrings, and class-level
    ``presets`` tables (a preset only picks parameter values, which the cache key holds already)."""
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if not isinstance(body, list):
            continue
        if (
            body
            and isinstance(body[0], ast.Expr)
            and isinstance(getattr(body[0], "value", None), ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            body.pop(0)
        if isinstance(node, ast.ClassDef):
            node.body = [
                n
                for n in body
                if not (
                    isinstance(n, (ast.Assign, ast.AnnAssign))
                    and any(
                        isinstance(t, ast.Name) and t.id == "presets"
                        for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
                    )
                )
            ] or [ast.Pass()]
    return tree


def _imported_modules(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Absolute names of the modules (and of possible submodules ``pkg.name``) a module imports."""
    names: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            names.add(base)
            names.update(f"{base}.{a.name}" for a in node.names)
    # importing a.b.c runs a/__init__.py and a/b/__init__.py too
    return {".".join(n.split(".")[: i + 1]) for n in names for i in range(n.count(".") + 1)}


@functools.cache
def _module_digest(name: str) -> tuple[str, tuple[str, ...]]:
    """(hash of the module's code without docstrings and presets, the modules it imports)."""
    path = _module_file(name)
    if path is None:
        return "", ()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imports = _imported_modules(tree, name, path.name == "__init__.py")
    digest = hashlib.sha256(ast.dump(_strip(tree)).encode()).hexdigest()[:16]
    return digest, tuple(sorted(imports))


def training_closure(*classes: type) -> dict[str, str]:
    """module name -> code hash of every module the given classes' modules import, directly or
    not, within their own top-level packages and ffbench (third-party libraries are covered by
    the torch version in the key, not hashed)."""
    roots = {"ffbench"} | {c.__module__.split(".")[0] for c in classes}
    modules = {b.__module__ for c in classes for b in c.__mro__ if b.__module__ != "builtins"}
    todo = sorted({".".join(m.split(".")[: i + 1]) for m in modules for i in range(m.count(".") + 1)})
    seen: dict[str, str] = {}
    while todo:
        name = todo.pop()
        if name in seen or name.split(".")[0] not in roots:
            continue
        digest, imports = _module_digest(name)
        if not digest:
            continue
        seen[name] = digest
        todo.extend(imports)
    for c in classes:  # a class without a source file (defined interactively) is keyed by its name
        if c.__module__ not in seen:
            seen[c.__module__] = f"no-source:{c.__qualname__}"
    return dict(sorted(seen.items()))


def code_hash(*classes: type) -> str:
    """Hash of the code a training with these components runs: the modules of the classes (and of
    their bases) and every module they import within their own packages and ffbench's core,
    without docstrings and preset tables; plus the torch version. Metrics, reports and the CLI are
    not in it, so a fixed metric is recomputed on the same cached models."""
    closure = training_closure(*classes)
    return hashlib.sha256((json.dumps(closure) + torch.__version__).encode()).hexdigest()[:16]
