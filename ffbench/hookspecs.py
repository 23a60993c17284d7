"""pluggy hook specifications: one register hook per component kind (the llm / tox pattern).

A plugin module implements any of these with ``@ffbench.hookimpl`` and calls ``register`` with
its component classes::

    import ffbench

    @ffbench.hookimpl
    def ffbench_register_metrics(register):
        register(LifetimeSparsity)
"""

from __future__ import annotations

import pluggy

PROJECT = "ffbench"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

#: hook name -> the component kind it registers
HOOK_KINDS = {
    "ffbench_register_rules": "rule",
    "ffbench_register_goodness": "goodness",
    "ffbench_register_negatives": "negatives",
    "ffbench_register_datasets": "dataset",
    "ffbench_register_metrics": "metric",
}


@hookspec
def ffbench_register_rules(register):
    """Register LearningRule subclasses: ``register(MyRule)``."""


@hookspec
def ffbench_register_goodness(register):
    """Register Goodness subclasses."""


@hookspec
def ffbench_register_negatives(register):
    """Register NegativeGenerator subclasses."""


@hookspec
def ffbench_register_datasets(register):
    """Register Dataset subclasses."""


@hookspec
def ffbench_register_metrics(register):
    """Register Metric subclasses."""


@hookspec
def ffbench_register_suites(register):
    """Register named, versioned suites: ``register(ffbench.suites.Suite(...))``. Not a component
    kind: ``ffbench run --suite NAME`` and ``ffbench leaderboard suites`` read them."""
