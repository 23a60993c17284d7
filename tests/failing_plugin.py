"""A rule that fails on purpose, for the executor tests (not a test module itself).

``failing-ff`` is the ff rule, except that the point whose seed is ``fail_seed`` raises in fit
(``failure=raise``) or kills its Dask worker process (``failure=exit``, a lost worker). The
tests register it in process with ``load_registry(extra=[...])``; Dask workers import this module
by name when they unpickle the client's registry and tasks, which works because LocalCluster's
worker processes start with the client's ``sys.path`` (pytest puts tests/ on it).
"""

from __future__ import annotations

import os

import ffbench
from ffbench.component import Param
from ffbench_plugins.rules.ff import FFRule


class FailingFF(FFRule):
    name = "failing-ff"
    version = "1"
    description = "ff, but the point with seed fail_seed raises or kills its worker (for tests)"
    params = FFRule.params + (
        Param("fail_seed", int, -1, "seed whose point fails"),
        Param("failure", str, "raise", "raise in fit, or exit the Dask worker process", choices=("raise", "exit")),
    )

    def fit(self, data, goodness, negatives, ctx):
        if ctx.seed == self.values["fail_seed"]:
            if self.values["failure"] == "exit":
                from distributed import get_worker

                get_worker()  # raises outside a Dask worker: never end the test process itself
                os._exit(3)
            raise RuntimeError(f"deliberate failure for seed {ctx.seed}")
        return super().fit(data, goodness, negatives, ctx)


@ffbench.hookimpl
def ffbench_register_rules(register):
    register(FailingFF)
