"""An example third-party ffbench plugin, one component of each kind: the greedy-layerwise rule,
the SymBa goodness, pixel-shuffle negatives, the synthetic bars dataset and a lifetime-sparsity
metric, each in its own module with its own register hook.

Installed, it registers through the ``ffbench`` entry-point group (see pyproject.toml):
``ffbench run --goodness symba --metric lifetime-sparsity``.
"""

__version__ = "0.1.0"
