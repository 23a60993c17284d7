"""Plugin discovery (pluggy + the ``ffbench`` entry-point group) and the component registry.

Built-in plugins register through the same entry-point group third-party packages use. Each
entry point names a module that implements some of the register hooks in
:mod:`ffbench.hookspecs`. Loading is forgiving: a plugin that fails to import, implements a
misspelt hook (``pm.check_pending``), forgets ``@ffbench.hookimpl``, raises in its register hook or
registers something that is not a valid component is listed as *broken* with the reason, and the
others still load (commands that need a missing component say why it is missing).
``FFBENCH_DISABLE_PLUGINS=name,...`` blocks plugins by entry-point name or distribution name. Two
distributions that register the same kind and name make that name unusable (an error naming both),
never silently renamed.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata as md
import os
import re
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pluggy

from ffbench import hookspecs
from ffbench.component import Component, parse_spec
from ffbench.contracts import KINDS
from ffbench.errors import CollisionError, FFBenchError, UnknownComponentError
from ffbench.suites import Suite

ENTRY_POINT_GROUP = "ffbench"
DISABLE_ENV = "FFBENCH_DISABLE_PLUGINS"
#: What a component name may look like: it must survive ``name[k=v,...]`` and comma-separated lists.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")
#: What a command name added by ``ffbench_register_commands`` may look like.
COMMAND_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]*")


@dataclass
class PluginInfo:
    """One plugin (entry point or in-process object) and how loading it went."""

    name: str
    module: str
    dist: str
    dist_version: str
    status: str = "ok"  # ok | broken | disabled | collision (registers a name another plugin has)
    reason: str = ""
    components: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class PluginCommand:
    """A command (typer sub-app or function) a plugin adds to the command line."""

    name: str
    command: Callable[..., Any]
    plugin: PluginInfo


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
        #: Suites by name (``ffbench_register_suites``); a name two plugins register is left out
        #: and listed in ``suite_collisions``.
        self.suites: dict[str, Suite] = {}
        self.suite_collisions: dict[str, list[str]] = {}
        self._suite_owner: dict[str, str] = {}
        #: Commands added by ``ffbench_register_commands``, in load order (the CLI adds them).
        self.commands: list[PluginCommand] = []
        #: Names in FFBENCH_DISABLE_PLUGINS that matched no plugin (most likely typos).
        self.unmatched_blocks: list[str] = []

    # -- registration -------------------------------------------------------------------
    def add(self, entry: Entry) -> None:
        """Add ``entry``; a second class under the same kind and name makes the name a collision.
        The very same class registered twice (e.g. by two entry points of one package) is one entry."""
        kind, name = entry.kind, entry.name
        key = (kind, name)
        if key in self.collisions:
            if all(e.cls is not entry.cls for e in self.collisions[key]):
                self.collisions[key].append(entry)
            return
        existing = self.entries[kind].get(name)
        if existing is not None:
            if existing.cls is not entry.cls:
                self.collisions[key] = [existing, entry]
                del self.entries[kind][name]
            return
        self.entries[kind][name] = entry

    def add_suite(self, suite: Suite, owner: str) -> None:
        """Add a suite; a name registered by two different plugins is left out (an error to use)."""
        name = suite.name
        if name in self.suite_collisions:
            self.suite_collisions[name].append(owner)
        elif name in self.suites and self._suite_owner[name] != owner:
            self.suite_collisions[name] = [self._suite_owner[name], owner]
            del self.suites[name]
        else:
            self.suites[name] = suite
            self._suite_owner[name] = owner

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
            error = UnknownComponentError(kind, name, self.names(kind))
            note = self.not_loaded_note()
            if note:
                error.args = (f"{error} {note}",)
            raise error from None

    def build(
        self, kind: str, spec: str, preset: str | None = None, overrides: Mapping[str, Any] | None = None
    ) -> Component:
        """Instantiate ``spec`` (``name`` or ``name[k=v,...]``); ``overrides`` win over the spec."""
        name, params = parse_spec(spec)
        entry = self.get(kind, name)
        merged: dict[str, Any] = dict(params)
        merged.update(overrides or {})
        return entry.cls.from_spec(merged, preset=preset)

    def get_suite(self, name: str) -> Suite:
        """The suite called ``name``; an unknown name is an error listing the valid ones."""
        if name in self.suite_collisions:
            raise FFBenchError(
                f"Suite name collision: '{name}' is registered by {' and '.join(self.suite_collisions[name])}. "
                "Uninstall or block one of them (FFBENCH_DISABLE_PLUGINS)."
            )
        try:
            return self.suites[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self.suites), n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            valid = ", ".join(sorted(self.suites))
            raise FFBenchError(f"Unknown suite '{name}'.{hint} Valid suites: {valid}.") from None

    def list_suites(self) -> list[Suite]:
        """Every suite the installed plugins register (``ffbench_register_suites``), by name."""
        return [self.suites[name] for name in sorted(self.suites)]

    def entry_of(self, component: Component) -> Entry:
        return self.get(component.kind, component.name)

    def all_entries(self) -> Iterable[Entry]:
        for kind in KINDS:
            yield from (self.entries[kind][n] for n in sorted(self.entries[kind]))

    def not_loaded_note(self) -> str:
        """A sentence naming the plugins that did not load (they may hold what was asked for)."""
        skipped = [p for p in self.plugins if p.status != "ok"]
        if not skipped:
            return ""
        listed = "; ".join(f"'{p.name}' ({p.dist} {p.dist_version}) is {p.status}: {p.reason}" for p in skipped)
        return f"Plugins not loaded: {listed}. Run `ffbench plugins` for details."


def newcomers(entries: list[Entry]) -> list[Entry]:
    """The entries of a collision that arrived on top of an established one: everything but
    ffbench's own (built-in) entry, or, among third parties, everything but the first loaded."""
    builtin = [e for e in entries if canonical_dist(e.dist) == "ffbench"]
    keep = builtin[0] if builtin else entries[0]
    return [e for e in entries if e is not keep]


def collision_message(kind: str, name: str, entries: list[Entry]) -> str:
    who = " and ".join(f"{e.dist} {e.dist_version} (plugin '{e.plugin}')" for e in entries)
    new = newcomers(entries)
    block = ",".join(e.plugin for e in new)
    dists = ",".join(sorted({e.dist for e in new}))
    return (
        f"Name collision: {kind} '{name}' is registered by {who}. Rename it in "
        f"{' and '.join(sorted({e.dist for e in new}))}, uninstall that distribution, or block the "
        f"newcomer: {DISABLE_ENV}={block} (its plugin) or {DISABLE_ENV}={dists} (its distribution)."
    )


def canonical_dist(name: str) -> str:
    """A distribution name as PyPI compares them (PEP 503): ``FFBench_Plugin.X`` -> ``ffbench-plugin-x``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def disabled_names() -> set[str]:
    """The entry-point or distribution names listed in FFBENCH_DISABLE_PLUGINS."""
    raw = os.environ.get(DISABLE_ENV, "")
    return {part.strip() for part in raw.split(",") if part.strip()}


def _is_blocked(info: PluginInfo, blocked: set[str]) -> str | None:
    """The FFBENCH_DISABLE_PLUGINS entry that blocks ``info``, if any."""
    for name in sorted(blocked):
        if name == info.name or canonical_dist(name) == canonical_dist(info.dist):
            return name
    return None


def _undecorated_hooks(plugin: object) -> list[str]:
    """Functions named like a register hook but not marked ``@ffbench.hookimpl`` (pluggy would
    silently never call them)."""
    marker = f"{hookspecs.PROJECT}_impl"
    return [
        attr
        for attr in dir(plugin)
        if attr.startswith("ffbench_register")
        and callable(getattr(plugin, attr, None))
        and not hasattr(getattr(plugin, attr), marker)
    ]


def _unknown_hooks(pm: pluggy.PluginManager, plugin: object) -> list[str]:
    """The hook implementations of ``plugin`` that match no hook specification, with a suggestion."""
    bad = []
    for name, caller in vars(pm.hook).items():
        if name.startswith("_") or caller.has_spec():
            continue
        if any(impl.plugin is plugin and not impl.optionalhook for impl in caller.get_hookimpls()):
            close = difflib.get_close_matches(name, list(hookspecs.HOOK_KINDS), n=1)
            bad.append(f"'{name}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
    return bad


_IMPORTLIB_DIR = os.path.dirname(importlib.__file__)


def _short_reason(exc: BaseException) -> str:
    """``Type: message (file:line)``, the innermost frame outside the import machinery and ffbench's
    loader (a missing module has none: its message says it all)."""
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if not f.filename.startswith(("<frozen", _IMPORTLIB_DIR)) and f.filename != __file__
    ]
    where = f" ({frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def load_registry(
    extra: Iterable[tuple[str, object, str, str]] = (),
    use_entry_points: bool = True,
) -> Registry:
    """Discover plugins and return the registry.

    ``extra`` adds plugins as ``(name, plugin, dist, dist_version)`` after the entry points (what
    tests use): ``plugin`` is a module or object with hook implementations, or an entry-point
    value such as ``"package.module"``, imported like an entry point.
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
        if isinstance(obj, str):
            entry_point = md.EntryPoint(name, obj, ENTRY_POINT_GROUP)
            candidates.append((PluginInfo(name, obj, dist, version), entry_point.load))
        else:
            module = obj.__name__ if isinstance(obj, ModuleType) else type(obj).__name__
            candidates.append((PluginInfo(name, module, dist, version), lambda obj=obj: obj))

    for info, loader in candidates:
        registry.plugins.append(info)
        _load_plugin(pm, info, loader, blocked, registry)
    registry.unmatched_blocks = sorted(b for b in blocked if not any(_is_blocked(p, {b}) for p in registry.plugins))
    for (kind, name), entries in registry.collisions.items():  # the newcomer's plugin is not ok
        for e in newcomers(entries):
            for info in registry.plugins:
                if info.name == e.plugin and info.dist == e.dist and info.status == "ok":
                    info.status = "collision"
                    info.reason = collision_message(kind, name, entries)
    return registry


def _load_plugin(
    pm: pluggy.PluginManager, info: PluginInfo, loader: Callable[[], object], blocked: set[str], registry: Registry
) -> None:
    """Import, check and register one plugin; on any failure record why in ``info`` and return."""
    blocker = _is_blocked(info, blocked)
    if blocker:
        info.status, info.reason = "disabled", f"blocked by {DISABLE_ENV}={blocker}"
        return
    try:
        plugin = loader()
    except (Exception, SystemExit) as exc:  # a broken plugin must not break the others
        info.status, info.reason = "broken", f"import failed: {_short_reason(exc)}"
        return
    undecorated = _undecorated_hooks(plugin)
    if undecorated:
        info.status = "broken"
        info.reason = f"{', '.join(undecorated)} not marked with @ffbench.hookimpl, so ffbench would never call it"
        return
    try:
        pm.register(plugin, name=f"{info.dist}:{info.name}")
    except Exception as exc:  # e.g. a hook whose arguments do not match its specification
        info.status, info.reason = "broken", f"registration failed: {_short_reason(exc)}"
        return
    try:
        pm.check_pending()  # misspelt hook names; earlier plugins passed, so these are this plugin's
    except pluggy.PluginValidationError:
        info.status = "broken"
        info.reason = "unknown hook implementation " + ", ".join(_unknown_hooks(pm, plugin))
        pm.unregister(plugin)
        return
    _collect(pm, plugin, info, registry)


def _check_component(cls: Any, kind: str, hook: str) -> None:
    """Raise TypeError unless ``cls`` is a usable component class of ``kind``."""
    contract = KINDS[kind]
    if not (isinstance(cls, type) and issubclass(cls, contract)):
        raise TypeError(f"{hook} registered {cls!r}, which is not a {contract.__name__} subclass")
    if cls.kind != kind:
        raise TypeError(f"{cls.__name__}.kind is {cls.kind!r}, expected {kind!r}")
    if not isinstance(cls.name, str) or not NAME_PATTERN.fullmatch(cls.name):
        raise TypeError(
            f"{cls.__name__}.name {cls.name!r} is not a valid component name (letters, digits "
            "and _.+- only, starting with a letter or digit)"
        )
    if not isinstance(cls.version, str) or not cls.version:
        raise TypeError(f"{cls.__name__}.version must be a non-empty string, not {cls.version!r}")


def _checked_suite(suite: object) -> Suite:
    if not isinstance(suite, Suite):
        raise TypeError(f"ffbench_register_suites registered {suite!r}, which is not an ffbench.suites.Suite")
    if not NAME_PATTERN.fullmatch(suite.name) or not suite.version:
        raise TypeError(f"suite name {suite.name!r} or version {suite.version!r} is not valid")
    return suite


def _checked_command(command: Any, name: str | None) -> tuple[str, Any]:
    """(name, command) of a ``register`` call of ``ffbench_register_commands``; TypeError if unusable.
    The name defaults to a typer app's name or the function's name with ``_`` as ``-``."""
    if not callable(command):
        raise TypeError(
            f"ffbench_register_commands registered {command!r}, which is neither a typer app nor a function"
        )
    info = getattr(command, "info", None)
    name = name or getattr(info, "name", None) or getattr(command, "__name__", "").replace("_", "-")
    if not isinstance(name, str) or not COMMAND_PATTERN.fullmatch(name):
        raise TypeError(f"command name {name!r} is not valid (lower-case letters, digits and -; pass name=)")
    return name, command


def _collect(pm: pluggy.PluginManager, plugin: object, info: PluginInfo, registry: Registry) -> None:
    """Call the plugin's own register hooks and add what it registers (all or nothing)."""
    collected: list[Entry] = []
    try:
        for hook_name, kind in hookspecs.HOOK_KINDS.items():
            for impl in getattr(pm.hook, hook_name).get_hookimpls():
                if impl.plugin is not plugin:
                    continue

                def register(cls: Any, _kind: str = kind, _hook: str = hook_name) -> None:
                    _check_component(cls, _kind, _hook)
                    collected.append(Entry(cls, info.name, info.dist, info.dist_version))

                impl.function(register=register)
        suites: list[Suite] = []
        for impl in pm.hook.ffbench_register_suites.get_hookimpls():
            if impl.plugin is plugin:
                impl.function(register=lambda suite: suites.append(_checked_suite(suite)))
        commands: list[tuple[str, Any]] = []
        for impl in pm.hook.ffbench_register_commands.get_hookimpls():
            if impl.plugin is plugin:
                impl.function(register=lambda command, name=None: commands.append(_checked_command(command, name)))
    except Exception as exc:
        pm.unregister(plugin)
        info.status, info.reason = "broken", f"register hook failed: {_short_reason(exc)}"
        return
    for entry in collected:
        registry.add(entry)
        if (entry.kind, entry.name) not in info.components:
            info.components.append((entry.kind, entry.name))
    for suite in suites:
        registry.add_suite(suite, f"{info.dist} {info.dist_version} (plugin '{info.name}')")
        info.components.append(("suite", suite.name))
    for name, command in commands:
        registry.commands.append(PluginCommand(name, command, info))
        info.components.append(("command", name))


_DEFAULT: Registry | None = None


def get_registry(refresh: bool = False) -> Registry:
    """The process-wide registry of installed plugins (loaded once)."""
    global _DEFAULT
    if _DEFAULT is None or refresh:
        _DEFAULT = load_registry()
    return _DEFAULT
