"""pluggy hook specifications: one register hook per component kind (the llm / tox pattern).

A plugin module implements any of these with ``@ffbench.hookimpl`` and calls ``register`` with
its component classes::

    import ffbench
    from ffbench.hookspecs import RegisterMetrics

    @ffbench.hookimpl
    def ffbench_register_metrics(register: RegisterMetrics) -> None:
        register(LifetimeSparsity)

Each hook is called once per plugin with ``register``, a callable that takes one class (or, for
suites, one :class:`~ffbench.suites.Suite`) and returns None; a hook returns nothing. The
``Register*`` aliases below are the types of those callables, for plugin authors' annotations.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

from ffbench.suites import Suite

if TYPE_CHECKING:  # annotations only: the contracts load torch, which `import ffbench` need not
    from ffbench.contracts import Dataset, Goodness, LearningRule, Metric, NegativeGenerator

PROJECT = "ffbench"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

#: ``register`` of each hook: takes one class of the hook's kind (or one Suite), returns None
RegisterRules = Callable[["type[LearningRule]"], None]
RegisterGoodness = Callable[["type[Goodness]"], None]
RegisterNegatives = Callable[["type[NegativeGenerator]"], None]
RegisterDatasets = Callable[["type[Dataset]"], None]
RegisterMetrics = Callable[["type[Metric]"], None]
RegisterSuites = Callable[[Suite], None]
#: ``register(command, name=None)``: a ``typer.Typer`` sub-app or a command function, with its CLI name
RegisterCommands = Callable[..., None]

#: hook name -> the component kind it registers
HOOK_KINDS: dict[str, str] = {
    "ffbench_register_rules": "rule",
    "ffbench_register_goodness": "goodness",
    "ffbench_register_negatives": "negatives",
    "ffbench_register_datasets": "dataset",
    "ffbench_register_metrics": "metric",
}


@hookspec
def ffbench_register_rules(register: RegisterRules) -> None:
    """Register LearningRule subclasses: ``register(MyRule)``."""


@hookspec
def ffbench_register_goodness(register: RegisterGoodness) -> None:
    """Register Goodness subclasses."""


@hookspec
def ffbench_register_negatives(register: RegisterNegatives) -> None:
    """Register NegativeGenerator subclasses."""


@hookspec
def ffbench_register_datasets(register: RegisterDatasets) -> None:
    """Register Dataset subclasses."""


@hookspec
def ffbench_register_metrics(register: RegisterMetrics) -> None:
    """Register Metric subclasses."""


@hookspec
def ffbench_register_suites(register: RegisterSuites) -> None:
    """Register named, versioned suites: ``register(ffbench.suites.Suite(...))``. Not a component
    kind: ``ffbench run --suite NAME`` and ``ffbench leaderboard suites`` read them."""


@hookspec
def ffbench_register_commands(register: RegisterCommands) -> None:
    """Add commands to the ``ffbench`` command line: ``register(my_command)`` (a function; its name
    with ``_`` as ``-`` is the command) or ``register(my_typer_app, name="my-tools")`` (a group of
    sub-commands). Called once when the command line is built; a name a built-in command (or an
    earlier plugin) already has is refused, and the plugin is listed as a collision."""
