"""Plugin discovery (pluggy + the ``ffbench`` entry-point group) and the component registry.

Built-in plugins register through the same entry-point group third-party packages use. Each
entry point names a module that implements some of the register hooks in
:mod:`ffbench.hookspecs`. Loading is forgiving: a plugin that fails to import, implements a
misspelt hook, or registers something that is not a component is listed as *broken* with the
reason, and the others still load. ``FFBENCH_DISABLE_PLUGINS=name,...`` blocks plugins by entry-point
name or distribution name. Two distributions that register the same kind and name make that name
unusable (an error naming both), never silently renamed.
"""

from __future__ import annotations

import difflib
import importlib.metadata as md
import os
import traceback
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Iterable, Mapping

import pluggy

from ffbench import hookspecs
from ffbench.component import Component, parse_spec
from ffbench.contracts import KINDS
from ffbench.errors import CollisionError, FFBenchError, UnknownComponentError

ENTRY_POINT_GROUP = "ffbench"
DISABLE_ENV = "FFBENCH_DISABLE_PLUGINS"


@dataclass
class PluginInfo:
    """One plugin (entry point or in-process object) and how loading it went."""

    name: str
    module: str
    dist: str
    dist_version: str
    status: str = "ok"  # ok | broken | disabled
    reason: str = ""
    components: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Entry:
    """A registered component class and where it came from."""

    cls: type[Component]
    plugin: str
    dist: str
    dist_version: str

    @property
    def kind(self) -> str:
        return self.cls.kind

    @property
    def name(self) -> str:
        return self.cls.name


class Registry:
    """Registered components by kind and name, plus the plugins they came from."""

    def __init__(self) -> None:
        self.entries: dict[str, dict[str, Entry]] = {k: {} for k in KINDS}
        self.collisions: dict[tuple[str, str], list[Entry]] = {}
        self.plugins: list[PluginInfo] = []

    # -- registration -------------------------------------------------------------------
    def add(self, entry: Entry) -> None:
        kind, name = entry.kind, entry.name
        key = (kind, name)
        if key in self.collisions:
            self.collisions[key].append(entry)
            return
        existing = self.entries[kind].get(name)
        if existing is not None:
            self.collisions[key] = [existing, entry]
            del self.entries[kind][name]
            return
        self.entries[kind][name] = entry

    # -- lookup -------------------------------------------------------------------------
    def names(self, kind: str) -> list[str]:
        return sorted(set(self.entries[kind]) | {n for k, n in self.collisions if k == kind})

    def get(self, kind: str, name: str) -> Entry:
        if kind not in KINDS:
            raise FFBenchError(f"Unknown component kind '{kind}'. Valid kinds: {', '.join(KINDS)}.")
        if (kind, name) in self.collisions:
            raise CollisionError(collision_message(kind, name, self.collisions[(kind, name)]))
        try:
            return self.entries[kind][name]
        except KeyError:
            raise UnknownComponentError(kind, name, self.names(kind)) from None

    def build(self, kind: str, spec: str, preset: str | None = None,
              overrides: Mapping[str, Any] | None = None) -> Component:
        """Instantiate ``spec`` (``name`` or ``name[k=v,...]``); ``overrides`` win over the spec."""
        name, params = parse_spec(spec)
        entry = self.get(kind, name)
        merged: dict[str, Any] = dict(params)
        merged.update(overrides or {})
        return entry.cls.from_spec(merged, preset=preset)

    def entry_of(self, component: Component) -> Entry:
        return self.get(component.kind, component.name)

    def all_entries(self) -> Iterable[Entry]:
        for kind in KINDS:
            yield from (self.entries[kind][n] for n in sorted(self.entries[kind]))


def collision_message(kind: str, name: str, entries: list[Entry]) -> str:
    who = " and ".join(f"{e.dist} {e.dist_version} (plugin '{e.plugin}')" for e in entries)
    return (f"Name collision: {kind} '{name}' is registered by {who}. Uninstall or disable one of them "
            f"(e.g. {DISABLE_ENV}={entries[-1].plugin}).")


def disabled_names() -> set[str]:
    raw = os.environ.get(DISABLE_ENV, "")
    return {part.strip() for part in raw.split(",") if part.strip()}


def _unknown_hooks(plugin: object) -> list[str]:
    """Names of hook implementations in ``plugin`` that match no hook specification."""
    bad = []
    for attr in dir(plugin):
        fn = getattr(plugin, attr, None)
        if callable(fn) and hasattr(fn, f"{hookspecs.PROJECT}_impl") and attr not in hookspecs.HOOK_KINDS:
            close = difflib.get_close_matches(attr, list(hookspecs.HOOK_KINDS), n=1)
            bad.append(attr + (f" (did you mean '{close[0]}'?)" if close else ""))
    return bad


def _short_reason(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" ({frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def load_registry(
    extra: Iterable[tuple[str, object, str, str]] = (),
    use_entry_points: bool = True,
) -> Registry:
    """Discover plugins and return the registry.

    ``extra`` adds in-process plugins as ``(name, module_or_object, dist, dist_version)``
    (what tests and the conformance suite use).
    """
    registry = Registry()
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    blocked = disabled_names()
    candidates: list[tuple[PluginInfo, Any]] = []  # (info, loader)

    if use_entry_points:
        seen: set[tuple[str, str]] = set()
        for ep in md.entry_points(group=ENTRY_POINT_GROUP):
            dist = ep.dist.metadata["Name"] if ep.dist is not None else "unknown"
            version = ep.dist.version if ep.dist is not None else "unknown"
            if (ep.name, ep.value) in seen:  # the same distribution seen twice on sys.path
                continue
            seen.add((ep.name, ep.value))
            candidates.append((PluginInfo(ep.name, ep.value, dist, version), ep.load))
    for name, obj, dist, version in extra:
        module = obj.__name__ if isinstance(obj, ModuleType) else type(obj).__name__
        candidates.append((PluginInfo(name, module, dist, version), lambda obj=obj: obj))

    for info, loader in candidates:
        registry.plugins.append(info)
        if info.name in blocked or info.dist in blocked:
            info.status, info.reason = "disabled", f"blocked by {DISABLE_ENV}"
            continue
        try:
            plugin = loader()
        except Exception as exc:  # a broken plugin must not break the others
            info.status, info.reason = "broken", f"import failed: {_short_reason(exc)}"
            continue
        unknown = _unknown_hooks(plugin)
        if unknown:
            info.status = "broken"
            info.reason = "unknown hook implementation: " + ", ".join(unknown)
            continue
        try:
            pm.register(plugin, name=info.name)
        except Exception as exc:
            info.status, info.reason = "broken", f"registration failed: {_short_reason(exc)}"
            continue
        _collect(pm, plugin, info, registry)
    pm.check_pending()
    return registry


def _collect(pm: pluggy.PluginManager, plugin: object, info: PluginInfo, registry: Registry) -> None:
    """Call the plugin's own register hooks and add what it registers."""
    collected: list[Entry] = []
    try:
        for hook_name, kind in hookspecs.HOOK_KINDS.items():
            for impl in getattr(pm.hook, hook_name).get_hookimpls():
                if impl.plugin is not plugin:
                    continue

                def register(cls: Any, _kind: str = kind, _hook: str = hook_name) -> None:
                    contract = KINDS[_kind]
                    if not (isinstance(cls, type) and issubclass(cls, contract)):
                        raise TypeError(f"{_hook} registered {cls!r}, which is not a {contract.__name__} subclass")
                    if not cls.name or not isinstance(cls.name, str):
                        raise TypeError(f"{cls.__name__} has no name")
                    if cls.kind != _kind:
                        raise TypeError(f"{cls.__name__}.kind is {cls.kind!r}, expected {_kind!r}")
                    collected.append(Entry(cls, info.name, info.dist, info.dist_version))

                impl.function(register=register)
    except Exception as exc:
        pm.unregister(plugin)
        info.status, info.reason = "broken", f"register hook failed: {_short_reason(exc)}"
        return
    for entry in collected:
        registry.add(entry)
        info.components.append((entry.kind, entry.name))


_DEFAULT: Registry | None = None


def get_registry(refresh: bool = False) -> Registry:
    """The process-wide registry of installed plugins (loaded once)."""
    global _DEFAULT
    if _DEFAULT is None or refresh:
        _DEFAULT = load_registry()
    return _DEFAULT
