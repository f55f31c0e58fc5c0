"""Real-browser end-to-end test: Debian's chromium driven by Playwright clicks a head cell.

Starts `streamlit run serve.py` (app.py, the default model loaded first) on 127.0.0.1, waits for
/_stcore/health, loads the toy map, hovers and clicks a cell, checks the drill-down and the URL, then
opens that URL in a fresh page and sees the same head selected. Screenshots land in test-artifacts/.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
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


def start_server(port: int, **env) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "serve.py"), "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1", **env}, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)


@contextlib.contextmanager
def running_server(port: int, **env):
    """A healthy app on 127.0.0.1:port; stopped (or, if already killed, reaped) on exit."""
    proc = start_server(port, **env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(20)


@pytest.fixture(scope="module")
def server():
    _need_browser()
    with running_server(_free_port()) as running:
        yield running


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
    click_point(page, head_points(page).nth(layer * heads + head))


def click_point(page, point, hover_text: str | None = None) -> None:
    """Hover a Plotly marker until its hover label shows (with `hover_text`, when given), then click it."""
    point.scroll_into_view_if_needed()  # a click on the map scrolls the page down to the drill-down
    box = point.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x - 3, y - 3)
    page.mouse.move(x, y)  # Plotly registers a click only after a hover
    page.wait_for_selector(".hoverlayer .hovertext", timeout=10_000)
    if hover_text:
        page.get_by_text(hover_text).first.wait_for(timeout=10_000)
    page.mouse.click(x, y)


def test_the_sidebar_link_copies_and_the_map_page_loads_no_syntax_highlighter(server, browser):
    """The share link is a plain HTML box with a copy button: a code block would load Streamlit's 1.5 MB syntax
    highlighter into every page, about a second of a fresh tab's main thread before the map draws (issue 34)."""
    url, _ = server
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
    page = context.new_page()
    try:
        page.goto(f"{url}/?model=toy&trials=8", wait_until="domcontentloaded")
        head_points(page)
        page.get_by_text("Click a cell of the map").wait_for(timeout=90_000)
        box = page.locator("[data-testid=stSidebar] .induction-link-text")
        box.wait_for(timeout=30_000)
        page.wait_for_function("() => location.search.includes('trials=8')", timeout=30_000)
        link = box.input_value()
        assert link.split("?")[1] == page.url.split("?")[1] and link.startswith(url)
        page.locator("[data-testid=stSidebar] .induction-link-copy").click()
        page.wait_for_function("() => document.querySelector('.induction-link-copy').textContent === 'Copied'",
                               timeout=10_000)
        assert page.evaluate("navigator.clipboard.readText()") == link
        scripts = page.evaluate("performance.getEntriesByType('resource').map(r => r.name)")
        assert not [s for s in scripts if "SyntaxHighlighter" in s]
        assert not page.locator("[data-testid=stCode]").count()
    finally:
        context.close()


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


def test_a_link_to_another_page_opens_that_page_inside_the_app(server, browser):
    url, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{url}/head?model=toy&trials=8&layer=1&head=0", wait_until="domcontentloaded")
    page.get_by_role("heading", name="Head L1H0").wait_for(timeout=90_000)
    # the app's own navigation (not a bare script run) rendered the page
    page.get_by_text("Induction map", exact=True).first.wait_for(timeout=10_000)
    assert page.get_by_text("Model sizes", exact=True).count() >= 1


SESSIONS = 8


async def _session(browser, url: str, i: int, expected: dict, errors: list) -> None:
    """One user: open a map, click a head, see the drill-down, ablate (half of them), come back."""
    import re

    context = await browser.new_context(viewport={"width": 1300, "height": 900})
    page = await context.new_page()
    seed, layer, head = 100 + i, i % 2, (i // 2) % 2
    try:
        await page.goto(f"{url}/?model=toy&trials=8&seed={seed}", wait_until="domcontentloaded")
        await page.get_by_text("Click a cell of the map").wait_for(timeout=120_000)
        points = page.locator(".js-plotly-plot .scatterlayer .trace").first.locator("path.point")
        await points.first.wait_for(state="attached", timeout=60_000)
        box = await points.nth(layer * 2 + head).bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        await page.mouse.move(x - 3, y - 3)
        await page.mouse.move(x, y)
        await page.wait_for_selector(".hoverlayer .hovertext", timeout=20_000)
        await page.mouse.click(x, y)
        await page.get_by_role("heading", name=f"Head L{layer}H{head}").wait_for(timeout=120_000)
        assert f"seed={seed}" in page.url and f"layer={layer}" in page.url and f"head={head}" in page.url
        if i % 2:
            await page.goto(f"{url}/ablation?model=toy&trials=8&seed={seed}&ablate=L0H0",
                            wait_until="domcontentloaded")
            await page.get_by_text("Masked-token loss on the RRT trials").wait_for(timeout=120_000)
        await page.goto(f"{url}/?model=toy&trials=8&seed={seed}", wait_until="domcontentloaded")
        best = page.get_by_text(re.compile(r"Best head: L1H\d \d\.\d{4}"))
        await best.wait_for(timeout=120_000)
        text = await best.inner_text()
        assert text.startswith(f"Best head: {expected.name} {expected.score:.4f}"), (text, expected)
        if await page.locator('[data-testid="stException"]').count():
            errors.append(f"session {i}: exception on the page")
    except Exception as exc:
        await page.screenshot(path=str(ARTIFACTS / f"session_{i}.png"), full_page=True)
        errors.append(f"session {i}: {type(exc).__name__}: {exc}")
    finally:
        await context.close()


def test_eight_concurrent_sessions_stay_isolated_and_the_server_stays_up(server):
    import asyncio

    from playwright.async_api import async_playwright

    from induction.config import MapConfig
    from induction.engine import compute_map

    url, proc = server
    ARTIFACTS.mkdir(exist_ok=True)
    # what each session must see on its clean map, computed here (unablated) for its own seed
    expected = {i: compute_map(MapConfig(model="toy", trials=8, seed=100 + i), use_cache=False).top_heads("prev", 1)[0]
                for i in range(SESSIONS)}

    async def main() -> list:
        errors: list = []
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync"])
            await asyncio.wait_for(asyncio.gather(*[_session(browser, url, i, expected[i], errors)
                                                    for i in range(SESSIONS)]), timeout=400)
            await browser.close()
        return errors

    started = time.time()
    out: list = []
    runner = threading.Thread(target=lambda: out.append(asyncio.run(main())))  # apart from the sync fixture's loop
    runner.start()
    runner.join(450)
    elapsed = time.time() - started
    assert out, "the sessions did not finish in time"
    errors = out[0]
    assert not errors, errors
    assert proc.poll() is None
    with urllib.request.urlopen(url + "/_stcore/health", timeout=5) as r:
        assert r.status == 200
    (ARTIFACTS / "load.txt").write_text(f"{SESSIONS} concurrent sessions: map, click, drill-down, ablation "
                                        f"(half), back to the map; {elapsed:.1f} s, no errors\n")


def test_killing_the_server_mid_computation_loses_nothing(browser, tmp_path):
    """A cold computation shows its progress; kill -9 the server during it; restart: the finished map is
    still served from the cache and the unfinished one left nothing behind."""
    from induction.cache import ResultCache
    from induction.config import MapConfig
    from induction.runs import map_key, resolve_run

    cache_dir = tmp_path / "cache"
    port = _free_port()
    with running_server(port, INDUCTION_CACHE_DIR=str(cache_dir)) as (url, proc):
        page = browser.new_page()
        page.goto(f"{url}/?model=toy&trials=8&seed=7", wait_until="domcontentloaded")
        page.get_by_text("Best head: L1H").wait_for(timeout=90_000)
        page.goto(f"{url}/?model=toy&trials=100000&seed=7", wait_until="domcontentloaded")
        page.get_by_text(re.compile(r"toy standard: \d+/100000 trials")).wait_for(timeout=90_000)  # st.progress
        proc.send_signal(signal.SIGKILL)
        proc.wait(20)
        page.close()
    cache = ResultCache(cache_dir)
    done = map_key(resolve_run(MapConfig(model="toy", trials=8, seed=7)))
    killed = map_key(resolve_run(MapConfig(model="toy", trials=100000, seed=7)))
    assert cache.get(done) is not None and cache.get(killed) is None
    cache.store.close()
    with running_server(port, INDUCTION_CACHE_DIR=str(cache_dir)) as (url, _):
        page = browser.new_page()
        page.goto(f"{url}/?model=toy&trials=8&seed=7", wait_until="domcontentloaded")
        page.get_by_text("Best head: L1H").wait_for(timeout=90_000)
        page.get_by_text(re.compile(r"^from the cache")).wait_for(timeout=10_000)
        page.close()


def test_a_fresh_server_has_the_default_model_loaded_before_the_first_visitor(browser, tmp_path):
    """Item 9: serve.py loads the toy and computes its default map at start, so the first visit is served warm."""
    port = _free_port()
    with running_server(port, INDUCTION_CACHE_DIR=str(tmp_path / "cache")) as (url, _):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        started = time.time()
        page.goto(f"{url}/?model=toy", wait_until="domcontentloaded")
        page.get_by_text("Best head: L1H").wait_for(timeout=90_000)
        first = time.time() - started
        assert page.get_by_text(re.compile(r"^from the cache")).count() == 1  # computed at server start, not now
        print(f"fresh server, first visit: toy map shown in {first:.2f}s")


def test_head_page_pickers_from_a_blank_state(server, browser):
    """Item 1: on the Head drill-down page, choose a layer, then a head, with the mouse."""
    url, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{url}/head?model=toy&trials=8", wait_until="domcontentloaded")
    page.get_by_text("Pick a layer and a head above").wait_for(timeout=90_000)
    for label, option in (("Layer", "1"), ("Head", "0")):
        page.get_by_label(label, exact=True).first.click()
        page.get_by_role("option", name=option, exact=True).click()
        page.wait_for_timeout(500)
    page.get_by_role("heading", name="Head L1H0").wait_for(timeout=60_000)
    assert "layer=1" in page.url and "head=0" in page.url


def test_a_null_result_says_so_and_is_rescaled(server, browser):
    """Item 2: minilm has no induction head: a notice names the baseline, the colour bar marks it."""
    url, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{url}/?model=minilm&trials=4&segment=20", wait_until="domcontentloaded")
    page.get_by_text(re.compile(r"No induction head for `?prev`?: the best head")).wait_for(timeout=90_000)
    page.get_by_text("— uniform").first.wait_for(timeout=30_000)  # the baseline on the colour bar
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "null_result.png"), full_page=True)


def test_the_downloaded_figure_renders_with_no_network(server, browser, tmp_path):
    """Item 5: the Figure (HTML) download is self-contained: it draws with every request off the page blocked."""
    url, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{url}/?model=toy&trials=8", wait_until="domcontentloaded")
    button = page.get_by_role("button", name="Figure (HTML)")
    button.wait_for(timeout=90_000)
    with page.expect_download(timeout=60_000) as download:
        button.click()
    path = tmp_path / "figure.html"
    download.value.save_as(path)
    offline = browser.new_page()
    offline.route("**/*", lambda route: route.abort() if not route.request.url.startswith("file:") else
                  route.continue_())
    offline.goto(path.as_uri())
    offline.locator(".js-plotly-plot .main-svg").first.wait_for(timeout=30_000)


def test_a_click_on_the_mosaic_opens_that_model_s_map(server, browser):
    """Encoders beside decoders from the cache: a click on toy-gpt's L1H0 opens its map with that head selected."""
    from induction.config import MapConfig
    from induction.engine import compute_map

    for model in ("toy", "toy-gpt"):  # the server shares this process's cache directory
        compute_map(MapConfig(model=model, setup="repeat", trials=4))
    url, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{url}/mosaic?setup=repeat&target=induction&trials=4", wait_until="domcontentloaded")
    rows = page.locator(".js-plotly-plot .scatterlayer .trace")
    rows.nth(1).locator("path.point").first.wait_for(state="attached", timeout=90_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "mosaic.png"), full_page=True)
    # toy-gpt (second row), L1H0 (points are layer-major); the hover names the head and its score
    click_point(page, rows.nth(1).locator("path.point").nth(2), hover_text="toy-gpt L1H0")
    page.get_by_role("heading", name="Head L1H0").wait_for(timeout=90_000)
    page.wait_for_function("() => location.search.includes('model=toy-gpt') && location.search.includes('layer=1')",
                           timeout=30_000)
