"""Layering rules: pages render, the library computes."""

from __future__ import annotations

import re

from .conftest import ROOT

UI_FILES = [ROOT / "app.py", *sorted((ROOT / "dashboard").glob("*.py")), *sorted((ROOT / "views").glob("*.py"))]


def test_pages_never_import_model_code():
    for path in UI_FILES:
        text = path.read_text()
        assert not re.search(r"^\s*(import|from)\s+(torch|transformers)\b", text, re.M), path.name


LIBRARY_FILES = sorted((ROOT / "induction").rglob("*.py"))


def test_library_never_imports_streamlit():
    for path in LIBRARY_FILES:
        assert not re.search(r"^\s*(import|from)\s+streamlit\b", path.read_text(), re.M), path.name


def test_no_pages_folder_beside_app():
    # Streamlit treats a pages/ folder next to the main script as a v1 multipage app and routes direct
    # links (…/head?…) straight to that file, past st.navigation: the views live in views/ instead.
    assert not (ROOT / "pages").exists()


def _module_name(path) -> str:
    """induction/models/loading.py -> induction.models.loading (a package's __init__ is the package)."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path, modules: set[str]) -> set[str]:
    """The modules of `modules` that `path` imports anywhere (function-level imports included); an import of a
    name from a package counts as an import of the submodule when one of that name exists."""
    import ast

    found = set()
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    tree = ast.parse(path.read_text())
    for block in ast.walk(tree):  # `if TYPE_CHECKING:` imports never run: they make no cycle
        if isinstance(block, ast.If) and getattr(block.test, "id", None) == "TYPE_CHECKING":
            block.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in modules else base)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m in modules}


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
    # the facade (induction/__init__.py) and the subpackages' __init__ files only re-export: left out
    modules = {_module_name(p): p for p in LIBRARY_FILES if p.name != "__init__.py"}
    graph = {name: {m for m in _imports(path, set(modules)) if m != name} for name, path in modules.items()}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_each_enum_is_spelled_once():
    """The choices users pick from are written out only in induction/config.py."""
    spellings = ['"zero", "mean"', '"masked", "all-tokens"', '"auto", "cpu", "cuda"', '"float32", "float16"',
                 '"clean", "paper"', "2048"]
    files = [*LIBRARY_FILES, *(ROOT / "dashboard").glob("*.py"), *(ROOT / "views").glob("*.py")]
    offenders = [(p.name, s) for p in files if p.name != "config.py" for s in spellings if s in p.read_text()]
    assert not offenders, offenders


def test_one_reader_of_the_offline_corpus_and_cache_keys_only_in_runs():
    readers = [p.relative_to(ROOT).as_posix() for p in LIBRARY_FILES if "pydoc_data" in p.read_text()]
    assert readers == ["induction/trials/corpus.py"], readers
    key_builders = [p.relative_to(ROOT).as_posix() for p in LIBRARY_FILES
                    if re.search(r"\bmake_key\(", p.read_text()) and p.name not in ("runs.py", "cache.py")]
    assert not key_builders, key_builders


def test_no_page_has_a_bare_expression_for_streamlit_magic_to_print():
    """A statement that is an expression but not a call (`a() if k else b()`, a name, a comparison) is what
    Streamlit's magic prints into the page; magic is off (.streamlit/config.toml), and pages have none either."""
    import ast

    for path in UI_FILES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Expr) and not isinstance(node.value, (ast.Call, ast.Constant, ast.Await)):
                raise AssertionError(f"{path.name}:{node.lineno}: a bare expression ({ast.unparse(node)[:60]})")
