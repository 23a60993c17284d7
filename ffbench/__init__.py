"""ffbench: a plugin-based benchmark suite for Forward-Forward-style learning rules."""

__version__ = "0.1.0"
#: The plugin API (contracts, hooks, ffbench.testing) that plugins are written against. Bumped only
#: by a change that can break a published plugin; docs/plugins.md, "Changes for plugin authors".
PLUGIN_API_VERSION = "1"

from ffbench.hookspecs import hookimpl  # noqa: E402  (plugins write @ffbench.hookimpl)

__all__ = ["__version__", "PLUGIN_API_VERSION", "hookimpl"]
