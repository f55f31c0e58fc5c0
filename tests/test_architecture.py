"""Layering rules: pages render, the library computes."""

from __future__ import annotations

import re

from .conftest import ROOT

UI_FILES = [ROOT / "app.py", *sorted((ROOT / "dashboard").glob("*.py")), *sorted((ROOT / "views").glob("*.py"))]


def test_pages_never_import_model_code():
    for path in UI_FILES:
        text = path.read_text()
        assert not re.search(r"^\s*(import|from)\s+(torch|transformers)\b", text, re.M), path.name


def test_library_never_imports_streamlit():
    for path in sorted((ROOT / "induction").glob("*.py")):
        assert not re.search(r"^\s*(import|from)\s+streamlit\b", path.read_text(), re.M), path.name


def test_no_pages_folder_beside_app():
    # Streamlit treats a pages/ folder next to the main script as a v1 multipage app and routes direct
    # links (…/head?…) straight to that file, past st.navigation: the views live in views/ instead.
    assert not (ROOT / "pages").exists()


def _imports(path, package: str) -> set[str]:
    """Modules of `package` that `path` imports anywhere (function-level imports included)."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:  # from .x import y / from . import x
                names = [node.module] if node.module else [a.name for a in node.names]
                found.update(f"{package}.{n.split('.')[0]}" for n in names)
            elif node.module and node.module.split(".")[0] == package:
                found.add(".".join(node.module.split(".")[:2]))
        elif isinstance(node, ast.Import):
            found.update(".".join(a.name.split(".")[:2]) for a in node.names if a.name.split(".")[0] == package)
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of `graph`, or None (depth-first search with colours)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_cycle_finder_finds_a_planted_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_library_has_no_import_cycle_even_inside_functions():
    modules = {f"induction.{p.stem}": p for p in (ROOT / "induction").glob("*.py")}
    graph = {name: {m for m in _imports(path, "induction") if m in modules and m != name}
             for name, path in modules.items() if name != "induction.__init__"}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_no_module_is_over_300_lines():
    files = [*(ROOT / "induction").glob("*.py"), *(ROOT / "dashboard").glob("*.py"), *(ROOT / "views").glob("*.py"),
             ROOT / "app.py"]
    long = {p.relative_to(ROOT).as_posix(): n for p in files if (n := len(p.read_text().splitlines())) > 300}
    assert not long, long


def test_each_enum_is_spelled_once():
    """The choices users pick from are written out only in induction/config.py."""
    spellings = ['"zero", "mean"', '"masked", "all-tokens"', '"auto", "cpu", "cuda"', '"float32", "float16"',
                 '"clean", "paper"', "2048"]
    files = [*(ROOT / "induction").glob("*.py"), *(ROOT / "dashboard").glob("*.py"), *(ROOT / "views").glob("*.py")]
    offenders = [(p.name, s) for p in files if p.name != "config.py" for s in spellings if s in p.read_text()]
    assert not offenders, offenders
