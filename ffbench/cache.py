"""The trained-model cache: asking for another metric on the same configuration never retrains.

Keyed by the point's canonical config (component identities + versions + seed), the training
variant (e.g. a held-out class), the dataset's content hash, the code hash of the core and of the
plugins involved, and the device type. Only successfully trained models are stored.
Location: ``$FFBENCH_CACHE`` or the user cache folder (``ffbench cache dir`` prints it).
Each entry stores the model and plain-valued meta: the runner writes ``config``, ``variant``,
``train_seconds``, ``stacked_seeds`` and ``training`` (the original training's
:class:`~ffbench.training_record.TrainingRecord`: seconds, FLOPs, peak memory, device, when), so a
model reused from the cache reports what training it cost, marked cached, never re-measured.

**Loading cannot run code.** Entries are read with ``torch.load(weights_only=True)``: tensors, plain
containers and numbers only, plus the classes of an allowlist built for each load: classes
defined in the modules that the point's own components train with (the same module closure the
key hashes, :func:`ffbench.provenance.training_closure`) and ``torch.nn`` classes. Such a class
is rebuilt with ``cls.__new__`` and its ``__setstate__`` (the object's tensors and plain
attributes); no other function or class named in the file is ever imported or called. An entry
that names anything else, or that cannot be read, is deleted with a warning and the model is
retrained. (SCIENCE/DESIGN asked for "tensors plus plain configuration, rebuilt by the rule"; the
allowlist gives the same guarantee, no code from the file, without a rebuild method in every
rule's API.)
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs
import torch

from ffbench.atomic_write import atomic_path, write_text
from ffbench.grid import canonical_hash

CACHE_ENV = "FFBENCH_CACHE"


#: The file that marks a folder as ffbench's model cache (written with the first model saved).
MARKER = ".ffbench-model-cache"
MARKER_TEXT = (
    "This folder is ffbench's trained-model cache. `ffbench cache clear` removes only the files ffbench\n"
    "wrote here (models named by their 16-hex-digit key, KEY.pt, and their temporary files).\n"
)
#: The names of the files the cache writes: entries and the temporary files of :mod:`ffbench.atomic_write`.
ENTRY_NAME = re.compile(r"[0-9a-f]{16}\.pt")
TEMP_NAME = re.compile(r"\.[0-9a-f]{16}\.pt\.[A-Za-z0-9_]+\.tmp")


def user_cache_dir() -> Path:
    """The default cache folder (the user cache's ``ffbench/models``)."""
    return Path(platformdirs.user_cache_dir("ffbench")) / "models"


def default_cache_dir() -> Path:
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else user_cache_dir()


@dataclass
class CachedModel:
    model: Any
    meta: dict


class ModelCache:
    def __init__(self, root: Path | None = None, enabled: bool = True):
        self.root = Path(root) if root else default_cache_dir()
        self.enabled = enabled

    @staticmethod
    def key(
        config: dict,
        variant: dict | None,
        dataset_hash: str,
        code: str,
        device_type: str,
        precision: str = "fp32",
        threads: int | None = None,
    ) -> str:
        return canonical_hash(
            {
                "config": config,
                "variant": variant,
                "data": dataset_hash,
                "code": code,
                "device": device_type,
                "precision": precision,
                "threads": threads,
            }
        )

    def path(self, key: str) -> Path:
        return self.root / f"{key}.pt"

    def load(
        self,
        key: str,
        trusted_modules: Iterable[str] = (),
        warn: Callable[[str], None] | None = None,
        check: Callable[[Any], None] | None = None,
    ) -> CachedModel | None:
        """The cached model for ``key``, or None. Only classes of ``trusted_modules`` (and of
        torch.nn) may be rebuilt; anything else discards the entry (with a warning), and so does a
        model that ``check`` raises for (e.g. non-finite or exploded weights: never reused as ok)."""
        path = self.path(key)
        if not self.enabled or not path.exists():
            return None
        try:
            allowed = allowed_classes(torch.serialization.get_unsafe_globals_in_checkpoint(path), set(trusted_modules))
            with torch.serialization.safe_globals(allowed):
                blob = torch.load(path, map_location="cpu", weights_only=True)
            if not (isinstance(blob, dict) and isinstance(blob.get("meta"), dict) and "model" in blob):
                raise ValueError("not an ffbench cache entry")
            if check is not None:
                check(blob["model"])
            return CachedModel(blob["model"], blob["meta"])
        except Exception as exc:  # an unreadable or untrusted entry is dropped, never executed
            if warn is not None:
                warn(f"model cache: discarded {path.name} ({type(exc).__name__}: {str(exc)[:300]}); retraining")
            path.unlink(missing_ok=True)
            return None

    def save(self, key: str, model: Any, meta: dict) -> None:
        if not self.enabled:
            return
        self.mark()
        with atomic_path(self.path(key)) as tmp:
            torch.save({"model": model, "meta": meta}, tmp)

    def mark(self) -> None:
        """Write the marker that says this folder is ffbench's model cache (once)."""
        marker = self.root / MARKER
        if not marker.is_file():
            write_text(marker, MARKER_TEXT)

    @property
    def owned(self) -> bool:
        """Whether ffbench may delete files here: the folder holds the marker, or is the default
        cache folder (ffbench's own, also used before the marker existed)."""
        return (self.root / MARKER).is_file() or self.root.absolute() == user_cache_dir().absolute()

    def entries(self) -> list[Path]:
        """The cached models: files named ``KEY.pt`` in a folder the cache owns (:attr:`owned`)."""
        if not self.root.is_dir() or not self.owned:
            return []
        return sorted(p for p in self.root.iterdir() if ENTRY_NAME.fullmatch(p.name) and p.is_file())

    def others(self) -> list[Path]:
        """Files in the folder the cache did not write (never counted, never deleted)."""
        if not self.root.is_dir():
            return []
        ours = set(self.entries()) | {self.root / MARKER}
        return sorted(p for p in self.root.iterdir() if p not in ours and not TEMP_NAME.fullmatch(p.name))

    def clear(self) -> tuple[int, int]:
        """Delete the cached models (and temporary files of interrupted saves) and nothing else:
        only files the cache writes, only in a folder it owns. Returns (models, bytes) removed."""
        if not self.root.is_dir() or not self.owned:
            return 0, 0
        files = self.entries()
        temps = [p for p in self.root.iterdir() if TEMP_NAME.fullmatch(p.name) and p.is_file()]
        size = sum(f.stat().st_size for f in files + temps)
        for f in files + temps:
            f.unlink(missing_ok=True)
        return len(files), size


class UntrustedCacheEntry(Exception):
    """A cache entry names a global outside the allowlist."""


def allowed_classes(names: Iterable[str], trusted_modules: set[str]) -> list[type]:
    """The classes named ``module.QualName`` in ``names``, each required to be a class defined in
    one of ``trusted_modules`` or in torch.nn; raises :class:`UntrustedCacheEntry` otherwise."""
    allowed = []
    for name in names:
        module = next((m for m in sorted(trusted_modules, key=len, reverse=True) if name.startswith(m + ".")), None)
        if module is None and name.startswith("torch.nn."):
            module = name.rpartition(".")[0]
        obj = None
        if module is not None:
            obj = importlib.import_module(module)
            for part in name[len(module) + 1 :].split("."):
                obj = getattr(obj, part, None)
        if not isinstance(obj, type) or obj.__module__ != module:
            raise UntrustedCacheEntry(f"it names {name}, which is not a class of the components' own modules")
        allowed.append(obj)
    return allowed
