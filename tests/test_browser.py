"""Real-browser end-to-end test: Debian's chromium driven by Playwright clicks a head cell.

Starts `streamlit run app.py` on 127.0.0.1, waits for /_stcore/health, loads the toy map,
hovers and clicks a cell, checks the drill-down and the URL, then opens that URL in a fresh
page and sees the same head selected. Screenshots land in test-artifacts/.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from .conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"
pytestmark = pytest.mark.browser


def _need_browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("INDUCTION_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium is required here (INDUCTION_REQUIRE_BROWSER=1) but /usr/bin/chromium is missing")
        pytest.skip("Debian's chromium is not installed (make test installs it with apt-get when run as root)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError("streamlit did not become healthy")


@pytest.fixture(scope="module")
def server():
    _need_browser()
    port = _free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        yield url, proc
    finally:
        proc.terminate()
        proc.wait(20)


@pytest.fixture(scope="module")
def browser():
    _need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync"])
        yield b
        b.close()


def head_points(page):
    """The transparent click markers of the map, once Plotly has drawn them."""
    points = page.locator(".js-plotly-plot .scatterlayer .trace").first.locator("path.point")
    points.first.wait_for(state="attached", timeout=60_000)
    return points


def click_head(page, layer: int, head: int, heads: int) -> None:
    box = head_points(page).nth(layer * heads + head).bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x - 3, y - 3)
    page.mouse.move(x, y)  # Plotly registers a click only after a hover
    page.wait_for_selector(".hoverlayer .hovertext", timeout=10_000)
    page.mouse.click(x, y)


def test_click_a_head_then_share_the_link(server, browser):
    url, _ = server
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{url}/?model=toy&trials=8", wait_until="domcontentloaded")
    page.get_by_text("Click a cell of the map").wait_for(timeout=90_000)
    click_head(page, layer=1, head=1, heads=2)
    page.get_by_role("heading", name="Head L1H1").wait_for(timeout=60_000)
    page.wait_for_function("() => location.search.includes('layer=1') && location.search.includes('head=1')",
                           timeout=30_000)
    shared = page.url
    page.screenshot(path=str(ARTIFACTS / "click_head.png"), full_page=True)

    fresh = browser.new_page(viewport={"width": 1400, "height": 1000})
    fresh.goto(shared, wait_until="domcontentloaded")
    fresh.get_by_role("heading", name="Head L1H1").wait_for(timeout=90_000)
    head_points(fresh)
    fresh.screenshot(path=str(ARTIFACTS / "shared_link.png"), full_page=True)
    # a second click on another cell moves the selection (no every-second-click deselect)
    click_head(fresh, layer=0, head=1, heads=2)
    fresh.get_by_role("heading", name="Head L0H1").wait_for(timeout=60_000)
    click_head(fresh, layer=1, head=0, heads=2)
    fresh.get_by_role("heading", name="Head L1H0").wait_for(timeout=60_000)
    assert "layer=1" in fresh.url and "head=0" in fresh.url
