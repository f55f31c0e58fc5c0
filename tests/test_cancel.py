"""Cancel cancels: the cancel buttons store the same key the next run checks, the page then says cancelled and
computes nothing until asked again; in a real browser against a server with a worker, a click on cancel kills
the worker, nothing is queued again, and the next visitor's map computes."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

CALLS: list[int] = []


def tally(n: int, progress=None) -> int:
    """The computation the AppTest pages below run (counted, so a test sees whether it ran)."""
    CALLS.append(n)
    return n * 10


def _page():
    import streamlit as st

    from dashboard.progress import run_with_progress
    from tests.test_cancel import tally

    st.write(f"result {run_with_progress('the tally', tally, 3)}")


def test_the_key_a_cancel_stores_is_the_key_the_next_run_checks():
    from dashboard import progress

    key = progress.computation_key(tally, (3,), {})
    assert key == progress.computation_key(tally, (3,), {})  # the same in every run
    assert key != progress.computation_key(tally, (4,), {}) and re.fullmatch(r"[0-9a-f]{16}", key)
    CALLS.clear()
    at = AppTest.from_function(_page).run()
    assert "result 30" in at.markdown[0].value and CALLS == [3]
    at.run()
    CALLS.clear()
    at.session_state[progress._CANCELLED] = {key}  # what a click on either cancel button leaves
    at.run()
    assert at.info[0].value == "the tally: cancelled." and "result None" in at.markdown[0].value
    assert CALLS == []  # not computed, not queued again
    at.button(key=f"again-{key}").click().run()
    assert CALLS == [3] and "result 30" in at.markdown[0].value and not at.info


def _spawned_workers(server_pid: int) -> set[int]:
    """The server's compute workers (multiprocessing spawn children), from /proc."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == server_pid and b"spawn_main" in cmdline:
            found.add(int(stat.parent.name))
    return found


@pytest.mark.browser
def test_a_click_on_cancel_kills_the_worker_and_the_next_visitor_computes(tmp_path):
    from .test_browser import _free_port, _need_browser, running_server

    _need_browser()
    if not Path("/proc/self/stat").exists():
        pytest.skip("needs /proc to see the server's worker processes")
    from playwright.sync_api import sync_playwright

    from .test_browser import ARTIFACTS, CHROMIUM

    env = {"INDUCTION_CACHE_DIR": str(tmp_path / "cache"), "INDUCTION_COMPUTE_WORKERS": "1",
           "INDUCTION_MAX_COMPUTE": "1"}
    with running_server(_free_port(), **env) as (url, proc), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.goto(f"{url}/?model=toy&trials=100000&seed=7", wait_until="domcontentloaded")
            page.get_by_text(re.compile(r"toy standard: \d+/100000 trials")).wait_for(timeout=120_000)  # in the worker
            before = _spawned_workers(proc.pid)
            assert len(before) == 1
            page.get_by_role("button", name="cancel").click()
            page.get_by_text("toy standard: cancelled.").wait_for(timeout=60_000)
            deadline = time.monotonic() + 60
            while _spawned_workers(proc.pid) & before and time.monotonic() < deadline:
                time.sleep(0.5)
            after = _spawned_workers(proc.pid)
            assert not after & before  # the cancelled computation's worker was killed
            time.sleep(3)  # a rerun that queued the computation again would show its bar by now
            assert page.get_by_text(re.compile(r"/100000 trials")).count() == 0
            assert page.get_by_text("toy standard: cancelled.").count() == 1
            other = browser.new_context().new_page()  # the next visitor, an uncached map
            other.goto(f"{url}/?model=toy&trials=8&seed=11", wait_until="domcontentloaded")
            try:
                other.get_by_text("Best head: L1H").wait_for(timeout=240_000)
            except Exception:
                ARTIFACTS.mkdir(exist_ok=True)
                other.screenshot(path=str(ARTIFACTS / "cancel-next-visitor.png"), full_page=True)
                page.screenshot(path=str(ARTIFACTS / "cancel-cancelled.png"), full_page=True)
                raise
            assert proc.poll() is None and os.path.exists(tmp_path / "cache")
        finally:
            browser.close()
