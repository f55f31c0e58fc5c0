"""What no page may show, checked by the AppTests of every page: Streamlit "magic" output (a bare expression
printed as its value, its source or an object's help text), a stray "None", an exception box or a NaN.

Why a module of its own: the page tour, the stubbed page tests and the per-kind page tests all call it, so a
page that starts printing Python internals fails every one of them.
"""

from __future__ import annotations

import re

from streamlit.testing.v1 import AppTest

from .conftest import ROOT

BAD_TEXT = re.compile(r"DeltaGenerator|<function |<bound method |\bnan\b|\bNaN\b")
BARE_NONE = ("None", "`None`")


def page_problems(at) -> list[str]:
    """Everything wrong on the page AppTest rendered, as readable lines (empty when the page is clean)."""
    problems = [f"exception: {e.value}" for e in at.exception]
    problems += [f"code block: {c.value[:80]!r}" for c in at.main.code]  # no code block (the sidebar's link is HTML)
    problems += [f"help block: {h.proto}"[:120] for h in at.main.get("help")]
    for node in at.main:
        value = getattr(node, "value", None) if not hasattr(node, "children") else None
        if isinstance(value, str) and value.strip() in BARE_NONE:
            problems.append(f"a bare None ({node.type})")
        elif isinstance(value, str) and BAD_TEXT.search(value):
            problems.append(f"{node.type} shows {value[:80]!r}")
    return problems


def assert_clean(at) -> None:
    problems = page_problems(at)
    assert not problems, "\n".join(problems)


def open_page(page: str, timeout: float = 60, **params) -> AppTest:
    """A fresh session that opens `page` with `params` (4 trials unless given), checked clean."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    for key, value in {"trials": 4, **params}.items():
        at.query_params[key] = str(value)
    at.run()
    at.switch_page(page).run()
    assert_clean(at)  # no exception, no magic output, no stray None or NaN
    return at
