"""The trained-model cache: asking for another metric on the same configuration never retrains.

Keyed by the point's canonical config (component identities + versions + seed), the training
variant (e.g. a held-out class), the dataset's content hash, the code hash of the core and of the
plugins involved, and the device type. Only successfully trained models are stored.
Location: ``$FFBENCH_CACHE`` or the user cache folder (``ffbench cache dir`` prints it).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs
import torch

from ffbench.grid import canonical_hash

CACHE_ENV = "FFBENCH_CACHE"


def default_cache_dir() -> Path:
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path(platformdirs.user_cache_dir("ffbench")) / "models"


@dataclass
class CachedModel:
    model: Any
    meta: dict


class ModelCache:
    def __init__(self, root: Path | None = None, enabled: bool = True):
        self.root = Path(root) if root else default_cache_dir()
        self.enabled = enabled

    @staticmethod
    def key(config: dict, variant: dict | None, dataset_hash: str, code: str, device_type: str) -> str:
        return canonical_hash({"config": config, "variant": variant, "data": dataset_hash, "code": code,
                               "device": device_type})

    def path(self, key: str) -> Path:
        return self.root / f"{key}.pt"

    def load(self, key: str) -> CachedModel | None:
        if not self.enabled or not self.path(key).exists():
            return None
        try:
            blob = torch.load(self.path(key), map_location="cpu", weights_only=False)
            return CachedModel(blob["model"], blob["meta"])
        except Exception:  # an unreadable entry is dropped, never trusted
            self.path(key).unlink(missing_ok=True)
            return None

    def save(self, key: str, model: Any, meta: dict) -> None:
        if not self.enabled:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".tmp")
        os.close(fd)
        try:
            torch.save({"model": model, "meta": meta}, tmp)
            os.replace(tmp, self.path(key))
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def entries(self) -> list[Path]:
        return sorted(self.root.glob("*.pt")) if self.root.exists() else []

    def clear(self) -> tuple[int, int]:
        """Delete every cached model; returns (files, bytes) removed."""
        files = self.entries()
        size = sum(f.stat().st_size for f in files)
        for f in files:
            f.unlink(missing_ok=True)
        return len(files), size
