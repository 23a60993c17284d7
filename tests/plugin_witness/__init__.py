"""A frozen witness of the plugin API as published plugins use it (copied 2026-12-02, plugin API 1):
the example distribution's SymBa goodness and lifetime-sparsity metric, unchanged, plus a small
rule that reads neither goodness nor negatives, written against the contracts of that day.

Do not edit these files to follow a change in ffbench: tests/test_plugin_witness.py proves that
a plugin written this way keeps installing, listing, running and passing conformance. If a change
breaks it, the change needs a deprecation path (docs/plugins.md, "Changes for plugin authors").
"""
