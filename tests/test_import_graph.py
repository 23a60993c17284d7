"""The import graph of ffbench/: no loops, and every ffbench import inside a function says why.

The graph is read from the source with ``ast`` (nothing is imported). An edge A -> B is an import
that runs when A is imported: at module level, in a class body or a ``try`` block, but not inside a
function and not under ``if TYPE_CHECKING:`` (annotations only, never run). Importing
``ffbench.x.y`` runs the package ``ffbench.x`` (its ``__init__``) first, so an edge to a submodule
is also an edge to each package above it that the importer is not itself inside.

An import inside a function hides an edge from this graph, so each one in ffbench/ carries a
comment saying why it is there (start-up time of the command line, an optional dependency, ...):
on its own line, or on the line before it or before the run of imports it belongs to. None may
hide a loop: moved to module level, they would make none (a package's lazy attributes,
``__getattr__`` in its ``__init__``, excepted: they load on first use by design).
"""

from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "ffbench"


@dataclass(frozen=True)
class Import:
    module: str  # the importer
    line: int
    targets: tuple[str, ...]  # the modules of the package it runs, innermost last
    function: str  # the outermost function it is in ("": runs when the module is imported)
    commented: bool

    @property
    def in_function(self) -> bool:
        return bool(self.function)


def module_names(root: Path, package: str) -> dict[str, Path]:
    """Every module of ``package`` under ``root`` by dotted name (a package by its own name)."""
    names = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _comment_lines(source: str) -> tuple[set[int], set[int]]:
    """(lines holding a comment, lines that are only a comment)."""
    anywhere, alone = set(), set()
    lines = source.splitlines()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            row = tok.start[0]
            anywhere.add(row)
            if lines[row - 1].lstrip().startswith("#"):
                alone.add(row)
    return anywhere, alone


def _resolve(node: ast.Import | ast.ImportFrom, importer: str, is_package: bool, known: dict[str, Path]) -> list[str]:
    """The modules of the package that ``node`` names (``from a import b``: ``a.b`` if that is a module)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name.split(".")[0] == PACKAGE]
    if node.level:
        base = importer.split(".") if is_package else importer.split(".")[:-1]
        base = base[: len(base) - node.level + 1]
        module = ".".join(base + ([node.module] if node.module else []))
    else:
        module = node.module or ""
    if module.split(".")[0] != PACKAGE:
        return []
    submodules = [f"{module}.{alias.name}" for alias in node.names if f"{module}.{alias.name}" in known]
    named_in_module = len(submodules) < len(node.names)
    return ([module] if named_in_module or not submodules else []) + submodules


def imports_of(module: str, path: Path, known: dict[str, Path]) -> list[Import]:
    """Every import of a module of the package in ``path``, with where it sits and whether it is commented."""
    source = path.read_text()
    tree = ast.parse(source)
    anywhere, alone = _comment_lines(source)
    is_package = path.name == "__init__.py"
    found: list[Import] = []

    def visit(body: list[ast.stmt], function: str) -> None:
        run_start = None  # first line of the current run of consecutive imports
        for stmt in body:
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                run_start = stmt.lineno if run_start is None else run_start
                targets = _resolve(stmt, module, is_package, known)
                if targets:
                    commented = stmt.lineno in anywhere or (run_start - 1) in alone or (stmt.lineno - 1) in alone
                    found.append(Import(module, stmt.lineno, tuple(targets), function, commented))
                continue
            run_start = None
            if isinstance(stmt, ast.If) and _is_type_checking(stmt.test):
                visit(stmt.orelse, function)  # the TYPE_CHECKING branch never runs
                continue
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(stmt.body, function or stmt.name)
                continue
            for field in ("body", "orelse", "finalbody", "handlers", "cases"):
                for child in getattr(stmt, field, []) or []:
                    if isinstance(child, (ast.excepthandler, ast.match_case)):
                        visit(child.body, function)
                if isinstance(getattr(stmt, field, None), list):
                    stmts = [c for c in getattr(stmt, field) if isinstance(c, ast.stmt)]
                    if stmts:
                        visit(stmts, function)

    visit(tree.body, "")
    return found


def _runs(target: str, importer: str) -> list[str]:
    """What importing ``target`` from ``importer`` runs: the packages above ``target`` that
    ``importer`` is not inside (those run before it), then ``target``."""
    parts = target.split(".")
    above = [".".join(parts[:i]) for i in range(2, len(parts))]
    inside = importer.split(".")
    return [p for p in above if p.split(".") != inside[: len(p.split("."))]] + [target]


def import_graph(root: Path, package: str = PACKAGE, hoist: bool = False) -> dict[str, set[str]]:
    """Module -> the modules of the package importing it runs; ``hoist``: as if every import
    inside a function were at module level, except a package's lazy attributes (``__getattr__``
    in its ``__init__``, PEP 562), which load a submodule on first use by design."""
    known = module_names(root, package)
    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        for imp in imports_of(name, path, known):
            lazy_attribute = path.name == "__init__.py" and imp.function == "__getattr__"
            if not imp.in_function or (hoist and not lazy_attribute):
                for target in imp.targets:
                    graph[name].update(t for t in _runs(target, name) if t in known and t != name)
    return graph


def loops(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import loops of ``graph``: its strongly connected components of more than one module
    (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return sorted(found)


def uncommented_function_imports(root: Path, package: str = PACKAGE) -> list[str]:
    known = module_names(root, package)
    return [
        f"{known[imp.module].relative_to(root)}:{imp.line}"
        for name, path in known.items()
        for imp in imports_of(name, path, known)
        if imp.in_function and not imp.commented
    ]


# -- ffbench itself --------------------------------------------------------------------------


def test_ffbench_has_no_import_loop():
    found = loops(import_graph(ROOT))
    assert not found, f"import loops (modules that import each other, directly or not): {found}"


def test_no_import_inside_a_function_holds_a_loop_apart():
    """Imports inside functions are there for start-up time or optional dependencies, never to
    hide a loop: moved to the top of their modules, they would make none."""
    found = loops(import_graph(ROOT, hoist=True))
    assert not found, f"loops that imports inside functions hold apart: {found}"


def test_every_ffbench_import_inside_a_function_says_why():
    missing = uncommented_function_imports(ROOT)
    assert not missing, (
        "ffbench imports inside a function without a comment saying why (move them to the top of the "
        f"module, or say why they must wait: start-up time, an optional dependency, ...): {', '.join(missing)}"
    )


def test_the_graph_sees_ffbench_as_it_is():
    """A few edges known by reading the code: the check reads the package it means to."""
    graph = import_graph(ROOT)
    assert len(graph) > 50 and "ffbench.suites" in graph["ffbench.registry"]
    assert "ffbench.registry" in graph["ffbench.grid"] and "ffbench.grid" not in graph["ffbench.suites"]
    assert "ffbench.results" in graph["ffbench.results_store"]
    assert "ffbench.results_store" not in graph["ffbench.results"]


# -- the checks on hand-made packages --------------------------------------------------------


def write_package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / PACKAGE / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_a_loop_is_found_and_a_function_level_import_is_not_part_of_the_graph(tmp_path):
    root = write_package(
        tmp_path,
        {
            "__init__.py": "",
            "a.py": "from ffbench.b import f\n",
            "b.py": "from ffbench import c\n\ndef f():\n    from ffbench.a import g\n",
            "c.py": "import ffbench.a\n",
        },
    )
    assert loops(import_graph(root)) == [["ffbench.a", "ffbench.b", "ffbench.c"]]
    (root / PACKAGE / "c.py").write_text("import os\n")
    assert loops(import_graph(root)) == []
    assert loops(import_graph(root, hoist=True)) == [["ffbench.a", "ffbench.b"]]  # held apart by b.f's import
    assert uncommented_function_imports(root) == ["ffbench/b.py:4"]


def test_only_a_package_lazy_attribute_may_hold_a_loop_apart(tmp_path):
    lazy = "def __getattr__(name):\n    from ffbench.b import f  # on first use\n"
    root = write_package(tmp_path, {"__init__.py": "", "a.py": lazy, "b.py": "import ffbench.a\n"})
    assert loops(import_graph(root, hoist=True)) == [["ffbench.a", "ffbench.b"]]  # a module's __getattr__
    root = write_package(tmp_path, {"__init__.py": lazy, "a.py": "", "b.py": "import ffbench\n"})
    assert loops(import_graph(root, hoist=True)) == []  # the package's: PEP 562, loaded on first use


def test_importing_a_submodule_runs_its_package_and_type_checking_imports_do_not_run(tmp_path):
    root = write_package(
        tmp_path,
        {
            "__init__.py": "",
            "results.py": "from typing import TYPE_CHECKING\n\nfrom ffbench.boards.schema import UNIT\n"
            "if TYPE_CHECKING:\n    from ffbench.store import Store\n",
            "store.py": "from ffbench.results import UNIT\n",
            "boards/__init__.py": "from ffbench.boards.merge import merge\n",
            "boards/merge.py": "from . import schema\nfrom ..results import UNIT\n",
            "boards/schema.py": "UNIT = []\n",
        },
    )
    graph = import_graph(root)
    assert graph["ffbench.results"] == {"ffbench.boards", "ffbench.boards.schema"}
    assert graph["ffbench.boards.merge"] == {"ffbench.boards.schema", "ffbench.results"}  # its own package: no edge
    assert loops(graph) == [["ffbench.boards", "ffbench.boards.merge", "ffbench.results"]]


def test_a_comment_on_the_line_or_above_the_run_of_imports_says_why(tmp_path):
    root = write_package(
        tmp_path,
        {
            "__init__.py": "",
            "x.py": "",
            "y.py": "def f():\n"
            "    # start-up time: x loads plotting libraries\n"
            "    from ffbench import x\n"
            "    from ffbench.x import z\n"
            "\n"
            "def g():\n"
            "    from ffbench import x  # an optional dependency\n"
            "\n"
            "def h():\n"
            "    value = '# not a comment'\n"
            "    from ffbench import x\n"
            "    import json  # not ffbench: not checked\n",
        },
    )
    assert uncommented_function_imports(root) == ["ffbench/y.py:11"]
