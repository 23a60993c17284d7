"""An example third-party ffbench plugin: the SymBa goodness and a lifetime-sparsity metric.

Installed, it registers through the ``ffbench`` entry-point group (see pyproject.toml):
``ffbench run --goodness symba --metric lifetime-sparsity``.
"""

__version__ = "0.1.0"
