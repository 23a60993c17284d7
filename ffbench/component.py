"""Components, their typed parameters, and their identity `name[k=v,...]`.

Every plugin component (rule, goodness, negatives, dataset, metric) is a subclass of
:class:`Component`. It declares a ``name``, a ``version`` (bump it whenever the numbers it
produces can change) and a tuple of :class:`Param` with defaults. An instance holds the
resolved, validated parameter values; its identity lists every parameter, keys sorted
(benchopt's convention), and is also the form accepted on the command line:
``ff[epochs=5,lr=0.01]``.
"""

from __future__ import annotations

import difflib
import math
from abc import ABCMeta
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from ffbench.errors import ParameterError

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


@dataclass(frozen=True)
class Param:
    """One typed parameter of a component, with its default and the values it accepts."""

    name: str
    type: type
    default: Any
    help: str = ""
    choices: tuple | None = None
    min: float | None = None
    max: float | None = None
    #: Left out of the component's identity (and so of config hashes, cache keys and board ids)
    #: while it has its default value. For a parameter added to an existing component: the
    #: configurations that existed before keep their identities, so resumed runs and committed
    #: boards still match them; setting it to anything else gives a new configuration.
    omit_at_default: bool = False
    #: For a float parameter: whether NaN and +-inf are accepted. False (default): refused, since
    #: min/max comparisons are false for NaN and a non-finite learning rate or threshold only
    #: fails (or silently misbehaves) once training has started.
    allow_nonfinite: bool = False

    def coerce(self, value: Any, owner: str = "") -> Any:
        """Convert ``value`` (a Python value or a CLI string) to this parameter's type, or raise."""
        where = f"{owner}.{self.name}" if owner else self.name
        if self.default is None and (value is None or str(value).strip().lower() in ("auto", "none", "")):
            return None  # a parameter whose default None means "derived automatically"
        try:
            if self.type is bool:
                if isinstance(value, bool):
                    out = value
                elif str(value).strip().lower() in _TRUE:
                    out = True
                elif str(value).strip().lower() in _FALSE:
                    out = False
                else:
                    raise ValueError
            elif self.type is int:
                if isinstance(value, bool):
                    raise ValueError
                if isinstance(value, float) and not value.is_integer():
                    raise ValueError
                out = int(str(value).strip()) if isinstance(value, str) else int(value)
            elif self.type is float:
                if isinstance(value, bool):
                    raise ValueError
                out = float(value)
                if not math.isfinite(out) and not self.allow_nonfinite:
                    raise ParameterError(
                        f"Bad value {value!r} for parameter '{where}': expected a finite number (not NaN or infinity)."
                    )
            else:
                out = self.type(value)
        except (TypeError, ValueError, OverflowError):
            raise ParameterError(
                f"Bad value {value!r} for parameter '{where}': expected {self.type.__name__}"
                + (f" (one of {', '.join(map(str, self.choices))})" if self.choices else "")
                + "."
            ) from None
        if self.choices is not None and out not in self.choices:
            raise ParameterError(
                f"Bad value {value!r} for parameter '{where}': valid values are {', '.join(map(str, self.choices))}."
            )
        if self.min is not None and out < self.min:
            raise ParameterError(f"Bad value {value!r} for parameter '{where}': must be >= {self.min}.")
        if self.max is not None and out > self.max:
            raise ParameterError(f"Bad value {value!r} for parameter '{where}': must be <= {self.max}.")
        return out

    def describe(self) -> dict:
        d = {"name": self.name, "type": self.type.__name__, "default": self.default, "help": self.help}
        if self.choices is not None:
            d["choices"] = list(self.choices)
        if self.min is not None:
            d["min"] = self.min
        if self.max is not None:
            d["max"] = self.max
        return d


def format_value(value: Any) -> str:
    """The canonical text of a parameter value inside an identity."""
    if value is None:
        return "auto"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def split_top_level(text: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` outside brackets: ``"ff[a=1,b=2],bp"`` -> ``["ff[a=1,b=2]", "bp"]``."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur).strip())
    return [p for p in parts if p]


def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    """Parse ``name[k=v,...]`` into ``(name, {k: v})`` (values stay strings)."""
    spec = spec.strip()
    if "[" not in spec:
        if "]" in spec or not spec:
            raise ParameterError(f"Malformed component spec {spec!r}: expected name or name[k=v,...].")
        return spec, {}
    if not spec.endswith("]") or spec.count("[") != 1 or spec.count("]") != 1:
        raise ParameterError(f"Malformed component spec {spec!r}: expected name or name[k=v,...].")
    name, inner = spec[:-1].split("[", 1)
    params: dict[str, str] = {}
    for item in split_top_level(inner):
        if "=" not in item:
            raise ParameterError(f"Malformed parameter {item!r} in {spec!r}: expected key=value.")
        k, v = item.split("=", 1)
        k, v = k.strip(), v.strip()
        if k in params:
            raise ParameterError(f"Parameter '{k}' is given twice in {spec!r} ({params[k]!r} and {v!r}); give it once.")
        params[k] = v
    if not name.strip():
        raise ParameterError(f"Malformed component spec {spec!r}: expected name or name[k=v,...].")
    return name.strip(), params


class Component(metaclass=ABCMeta):
    """Base of every plugin component. Subclasses set the class attributes below."""

    kind: ClassVar[str] = ""
    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    description: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = ()
    #: Parameter overrides per preset name (e.g. {"quick": {"epochs": 10}}). Presets may shrink
    #: epochs and data, never change a definition.
    presets: ClassVar[Mapping[str, Mapping[str, Any]]] = {}

    def __init__(self, **values: Any):
        self.values: dict[str, Any] = self.resolve_params(values)
        self.__init_component__()

    # -- parameters ---------------------------------------------------------------------
    @classmethod
    def param_map(cls) -> dict[str, Param]:
        return {p.name: p for p in cls.params}

    @classmethod
    def resolve_params(cls, values: Mapping[str, Any], preset: str | None = None) -> dict[str, Any]:
        """Defaults, then the preset's overrides, then ``values``; all validated."""
        schema = cls.param_map()
        out = {name: p.default for name, p in schema.items()}
        if preset:
            out.update(cls.presets.get(preset, {}))
        for key, value in values.items():
            if key not in schema:
                close = difflib.get_close_matches(key, list(schema), n=1)
                hint = f" Did you mean '{close[0]}'?" if close else ""
                valid = ", ".join(sorted(schema)) or "(it takes none)"
                raise ParameterError(
                    f"{cls.kind} '{cls.name}' has no parameter '{key}'.{hint} Valid parameters: {valid}."
                )
            out[key] = value
        return {k: schema[k].coerce(v, cls.name) for k, v in out.items()}

    @classmethod
    def from_spec(cls, spec_params: Mapping[str, Any] | str = (), preset: str | None = None) -> Component:
        """An instance from parameter values (a mapping; text values are parsed as on the command
        line) or from the CLI form ``name[k=v,...]`` / ``name`` (its name must be this class's)."""
        if isinstance(spec_params, str):
            name, spec_params = parse_spec(spec_params)
            if name != cls.name:
                raise ParameterError(
                    f"{cls.__name__}.from_spec({name!r}...): the spec names '{name}', but this "
                    f"{cls.kind} is '{cls.name}'. Use '{cls.name}[k=v,...]'."
                )
        obj = cls.__new__(cls)
        obj.values = cls.resolve_params(dict(spec_params), preset)
        obj.__init_component__()
        return obj

    def __init_component__(self) -> None:
        """Hook for subclasses that derive state from ``self.values`` (called after resolving)."""

    def __getattr__(self, item: str) -> Any:
        values = self.__dict__.get("values")
        if values is not None and item in values:
            return values[item]
        raise AttributeError(f"{type(self).__name__} has no attribute {item!r}")

    # -- identity -----------------------------------------------------------------------
    @property
    def identity(self) -> str:
        """``name[k=v,...]`` with every parameter, keys sorted (except a parameter declared
        ``omit_at_default`` while it has its default value)."""
        schema = self.param_map()
        shown = {k: v for k, v in self.values.items() if not (schema[k].omit_at_default and schema[k].default == v)}
        if not shown:
            return self.name
        inner = ",".join(f"{k}={format_value(shown[k])}" for k in sorted(shown))
        return f"{self.name}[{inner}]"

    @property
    def short_identity(self) -> str:
        """``name[k=v,...]`` with only the parameters that differ from the defaults."""
        schema = self.param_map()
        diff = {k: v for k, v in self.values.items() if schema[k].default != v}
        if not diff:
            return self.name
        return f"{self.name}[{','.join(f'{k}={format_value(diff[k])}' for k in sorted(diff))}]"

    def __repr__(self) -> str:
        return f"<{self.kind} {self.identity}>"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.values == other.values  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), self.identity))

    @classmethod
    def describe(cls) -> dict:
        return {
            "kind": cls.kind,
            "name": cls.name,
            "version": cls.version,
            "description": cls.description,
            "params": [p.describe() for p in cls.params],
        }
