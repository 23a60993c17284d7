"""Built-in ffbench plugins, installed as the package ``ffbench_plugins``."""
