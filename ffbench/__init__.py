"""ffbench: a plugin-based benchmark suite for Forward-Forward-style learning rules."""

__version__ = "0.1.0"

from ffbench.hookspecs import hookimpl  # noqa: E402  (plugins write @ffbench.hookimpl)

__all__ = ["__version__", "hookimpl"]
