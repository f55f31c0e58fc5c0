"""A tour in a real browser, as a new user takes it: every page for each offline model (toy, toy-gpt, trained-gpt,
trained-bert, minilm) from an empty cache, models switched back and forth, a head clicked where there is a map
(near a cell's corner, not only its centre). Any page fails it that shows Streamlit magic output (an object's help,
a code block), an exception box, a traceback or an exception's name, a CLI flag (`--setup`), an absolute server
path (in the page, its share link or any link), a bare "None", an empty chart or a NaN in a hover.

Bounded: 4 trials, short segments, the models' maps only (no Compute buttons but the Mosaic's), a few minutes
on a shared 2-core machine. Screenshots of any failing page land in test-artifacts/.
"""

from __future__ import annotations

import re

import pytest

from .conftest import ROOT
from .test_browser import ARTIFACTS, _free_port, _need_browser, browser, running_server  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser

PAGES = re.findall(r'url_path="(\w+)"', (ROOT / "app.py").read_text())
MODELS = {"toy": "trials=4", "toy-gpt": "trials=4", "trained-gpt": "trials=4", "trained-bert": "trials=4",
          "minilm": "trials=4&segment=8"}
SETTLE_MS = 1500  # the script has not run for this long: the page is drawn


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app on 127.0.0.1 with an empty cache of its own: every map is computed as a new user's would be."""
    _need_browser()
    with running_server(_free_port(), INDUCTION_CACHE_DIR=str(tmp_path_factory.mktemp("tour-cache"))) as running:
        yield running

PROBLEMS_JS = """() => {
  const main = document.querySelector('[data-testid=stMain]');
  const out = [];
  if (document.querySelector('[data-testid=stException]')) out.push('an exception box');
  if (main.querySelector('[data-testid=stHelp], [data-testid=stDocString]')) out.push('help text (Streamlit magic)');
  if (main.querySelector('[data-testid=stCode]')) out.push('a code block in the page (Streamlit magic?)');
  for (const el of main.querySelectorAll('p, span, div, code, li')) {
    if (el.children.length === 0 && /^\\s*`?None`?\\s*$/.test(el.textContent)) { out.push('a bare None'); break; }
  }
  if (/\\bNaN\\b/.test(main.innerText)) out.push('NaN in the page');
  const error = main.innerText.match(/\\bTraceback\\b|\\b[A-Z][A-Za-z]*(Error|Exception)\\b/);
  if (error) out.push('an exception name in the page: ' + error[0]);
  const flag = main.innerText.match(/(^|[\\s`(])--[a-z][a-z-]+/m);
  if (flag) out.push('a CLI flag in the page: ' + flag[0].trim());
  const path = /(^|[\\s'"`(=:])\\/(home|tmp|work|root|usr|opt|var|srv|mnt)\\/\\S*/;
  const found = document.body.innerText.match(path);
  if (found) out.push('an absolute server path in the page: ' + found[0].trim());
  const inLink = /(%2F|\\/)(home|tmp|work|root|usr|opt|var|srv|mnt)(%2F|\\/)/;
  for (const a of document.querySelectorAll('a[href]')) {
    const href = a.getAttribute('href').split('#')[0].replace(/^https?:\\/\\/[^/]+/, '');
    if (inLink.test(href)) out.push('an absolute server path in a link: ' + href);
  }
  if (inLink.test(location.search)) out.push('a server path in the URL');
  for (const box of document.querySelectorAll('.induction-link-text')) {  // the sidebar's share link
    const link = box.value.replace(/^https?:\\/\\/[^/?]+/, '');
    if (path.test(' ' + link) || inLink.test(link)) out.push('an absolute server path in the share link: ' + link);
  }
  for (const plot of main.querySelectorAll('.js-plotly-plot')) {
    const data = plot.data || [];  // arrays, or the {dtype, bdata} Plotly sends for numpy arrays
    const has = v => v && (v.length > 0 || (v.bdata || '').length > 0);
    const filled = data.some(t => ['x', 'y', 'z'].some(k => has(t[k])));
    if (!filled) out.push('an empty chart');
  }
  return out;
}"""


def settle(page, timeout_ms: int = 180_000) -> None:
    """Wait until the script has run and stayed idle for SETTLE_MS (reruns included)."""
    page.wait_for_function(f"""() => {{
        const app = document.querySelector('[data-testid=stApp]');
        const state = app && app.getAttribute('data-test-script-state');
        const now = Date.now();
        if (state !== 'notRunning') {{ window.__busy = now; return false; }}
        if (window.__busy === undefined) window.__busy = now;
        return now - window.__busy > {SETTLE_MS};
    }}""", timeout=timeout_ms, polling=250)


def check(page, where: str) -> None:
    problems = page.evaluate(PROBLEMS_JS)
    if problems:
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w]+", "_", where)
        page.screenshot(path=str(ARTIFACTS / f"tour_{name}.png"), full_page=True)
    assert not problems, f"{where}: {', '.join(dict.fromkeys(problems))}"


def hover_text(page) -> str:
    """The text of every hover label showing (SVG: its text content)."""
    return " ".join(t or "" for t in page.locator(".hoverlayer").all_text_contents())


def click_head(page, head: tuple[int, int], heads: int, tries: int = 3) -> str:
    """Hover a head of the page's first map until its label shows, read it, click (again if a rerun redrew the
    map under the mouse), as tests/test_browser.py's click_point does; the hover label's text."""
    for attempt in range(tries):
        points = page.locator(".js-plotly-plot .scatterlayer .trace").first.locator("path.point")
        points.first.wait_for(state="attached", timeout=60_000)
        point = points.nth(head[0] * heads + head[1])
        try:
            point.scroll_into_view_if_needed()
            box = point.bounding_box()
            x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            page.mouse.move(x - 3, y - 3)
            page.mouse.move(x, y)  # Plotly registers a click only after a hover
            page.wait_for_function("name => Array.from(document.querySelectorAll('.hoverlayer'))"
                                   ".some(h => h.textContent.includes(name))", arg=f"L{head[0]}H{head[1]}",
                                   timeout=10_000)
            label = hover_text(page)  # read before the click redraws the page
            page.mouse.click(x, y)
            return label
        except Exception:
            if attempt == tries - 1:
                raise
            page.mouse.move(0, 0)
            settle(page)
    return ""


def test_every_page_for_each_offline_model(server, browser):  # noqa: F811 - the fixture above
    url, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    for model, query in MODELS.items():
        for path in PAGES:
            where = "" if path == "map" else path  # the default page lives at the root (/map is "not found")
            page.goto(f"{url}/{where}?model={model}&{query}", wait_until="domcontentloaded")
            settle(page)
            check(page, f"{path} {model}")
            if path == "mosaic":  # the one page whose maps are computed on a click
                button = page.get_by_role("button", name=re.compile("^Compute "))
                if button.count():
                    button.first.click()
                    settle(page)
                    check(page, f"mosaic {model} computed")
    page.close()


def test_switch_models_back_and_forth_and_click_a_head(server, browser):  # noqa: F811
    url, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{url}/?model=toy&trials=4", wait_until="domcontentloaded")
    settle(page)
    for model, heads, head in (("toy-gpt", 2, (1, 0)), ("minilm", 12, (3, 5)), ("toy", 2, (1, 1))):
        page.locator('[data-testid=stSidebar] [data-testid=stSelectbox]').first.click()
        page.keyboard.type(model)  # the list is long (and drawn only where scrolled to): filter it as a user would
        page.get_by_role("option", name=re.compile(f"^{re.escape(model)} —")).click()
        page.get_by_text(re.compile(f"^{re.escape(model)} · .* setup")).first.wait_for(timeout=120_000)  # redrawn
        settle(page)
        check(page, f"map after switching to {model}")
        if model == "toy-gpt":  # the app says what it changed, and gives it back to an encoder
            page.get_by_text(re.compile("setup standard → repeat.*is a decoder")).first.wait_for(timeout=30_000)
        if model == "minilm":
            page.get_by_text(re.compile("setup repeat → standard")).first.wait_for(timeout=30_000)
        label = click_head(page, head, heads)
        assert f"L{head[0]}H{head[1]}" in label and "NaN" not in label, f"{model}: hover {label!r}"
        page.get_by_role("heading", name=f"Head L{head[0]}H{head[1]}").wait_for(timeout=120_000)
        settle(page)
        check(page, f"drill-down of {model}")
    page.go_back()  # the browser's Back: the previous view, toy's map before the click
    settle(page)
    page.get_by_text("Click a cell of the map").first.wait_for(timeout=60_000)
    assert "head=1" not in page.url
    page.close()


POINT_JS = """([index, name, k, frac]) => {
  const gd = document.querySelectorAll('.js-plotly-plot')[index];
  const tr = gd._fullData.find(t => t.type === 'scatter' && t.customdata && t.hoverinfo !== 'skip'
                                    && (!name || t.name === name));
  const xa = gd._fullLayout[tr.xaxis.replace('x', 'xaxis')], ya = gd._fullLayout[tr.yaxis.replace('y', 'yaxis')];
  const xs = [...new Set(Array.from(tr.x, Number))].sort((a, b) => a - b);
  const ys = [...new Set(Array.from(tr.y, Number))].sort((a, b) => a - b);
  const r = gd.getBoundingClientRect();
  const px = v => r.left + xa._offset + xa.c2p(v), py = v => r.top + ya._offset + ya.c2p(v);
  const dx = xs.length > 1 ? Math.abs(px(xs[1]) - px(xs[0])) : xa._length;
  const dy = ys.length > 1 ? Math.abs(py(ys[1]) - py(ys[0])) : ya._length;
  return {x: px(Number(tr.x[k])) + frac * dx, y: py(Number(tr.y[k])) + frac * dy, custom: tr.customdata[k],
          cell: [dx, dy]};
}"""


def click_in_cell(page, chart: int, k: int, frac: float = 0.42, name: str | None = None) -> dict:
    """Hover, then click, the k-th point of a chart's clickable trace at `frac` of a cell from its centre (0.42: near
    the cell's corner); the point's customdata and cell size. Fails when no hover label shows there."""
    page.locator(".js-plotly-plot").nth(chart).scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    spot = page.evaluate(POINT_JS, [chart, name, k, frac])
    page.mouse.move(spot["x"] - 3, spot["y"] - 3)
    page.mouse.move(spot["x"], spot["y"])  # Plotly registers a click only after a hover
    page.wait_for_function("() => document.querySelectorAll('.hoverlayer .hovertext').length > 0", timeout=10_000)
    spot["label"] = hover_text(page)
    page.mouse.click(spot["x"], spot["y"])
    return spot


def test_a_click_near_a_cells_corner_selects_that_cell(server, browser):  # noqa: F811
    """Issue 39 item 7: only a 40 px marker at each cell's centre took clicks (12 px on the Mosaic)."""
    url, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{url}/?model=toy&trials=4", wait_until="domcontentloaded")
    settle(page)
    spot = click_in_cell(page, 0, 2)  # the third cell: L1H0, near its bottom-right corner
    assert spot["cell"][0] > 150 and spot["custom"][:2] == [1, 0]  # well away from the centre of a wide cell
    assert "L1H0" in spot["label"]
    page.get_by_role("heading", name="Head L1H0").wait_for(timeout=120_000)
    settle(page)
    page.goto(f"{url}/mosaic?model=toy&setup=repeat&target=induction&trials=4", wait_until="domcontentloaded")
    settle(page)
    button = page.get_by_role("button", name=re.compile("^Compute "))
    if button.count():
        button.first.click()
        settle(page)
    spot = click_in_cell(page, 0, 1, frac=0.4)  # the first tile's second head, near a corner
    _, layer, head = spot["custom"][:3]
    assert f"L{layer}H{head}" in spot["label"]
    page.get_by_role("heading", name=f"Head L{layer}H{head}").wait_for(timeout=120_000)
    assert f"layer={layer}" in page.url and f"head={head}" in page.url
    page.close()


def test_a_checkpoint_clicked_on_training_dynamics_can_be_shared(server, browser):  # noqa: F811
    """Issue 39 item 8: a clicked checkpoint's map named a server path, its link had no model, the clicked head was
    not selected and the first Back stayed on the same URL."""
    url, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{url}/dynamics?model=trained-gpt&trials=4", wait_until="domcontentloaded")
    settle(page)
    # the last checkpoint on L1H0's line, where L1H1's point is well apart (near the phase change the two heads'
    # points overlap, and a click there lands on whichever Plotly drew last)
    spot = click_in_cell(page, 0, 10, frac=0.0, name="L1H0")
    assert "L1H0" in spot["label"], spot["label"]
    model = spot["custom"][0]
    assert re.fullmatch(r"trained-gpt@step_\d+", model)
    page.get_by_role("heading", name="Head L1H0").wait_for(timeout=120_000)
    settle(page)
    check(page, "a checkpoint's map")
    assert f"model={model.replace('@', '%40')}" in page.url and "layer=1" in page.url and "head=0" in page.url
    shared = browser.new_page(viewport={"width": 1400, "height": 1000})  # a colleague opens the link
    shared.goto(page.url, wait_until="domcontentloaded")
    settle(shared)
    shared.get_by_role("heading", name="Head L1H0").wait_for(timeout=120_000)
    shared.get_by_text(re.compile(f"^{re.escape(model)} · ")).first.wait_for(timeout=30_000)
    check(shared, "the shared checkpoint link")
    shared.close()
    page.go_back()  # the first Back: Training dynamics again, the same series
    settle(page)
    assert "/dynamics" in page.url
    page.get_by_role("heading", name="Training dynamics").wait_for(timeout=60_000)
    check(page, "Training dynamics after Back")
    page.close()


def test_the_depth_series_toggles_draw_their_figures_in_the_browser(server, browser):  # noqa: F811
    """Issues 36 and 41: the Model sizes page's depth toggle, clicked, computes the depth study and draws the figure
    with the study's BERT sizes beside it and the answer in words; Training dynamics' toggle draws every depth
    series on one step axis. Neither page shows a problem (PROBLEMS_JS)."""
    url, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{url}/sizes?model=trained-bert&trials=4", wait_until="domcontentloaded")
    settle(page)
    page.get_by_text("The depth series: strongest heads").click()
    page.get_by_text("The study's BERT sizes").first.wait_for(timeout=600_000)
    settle(page, timeout_ms=600_000)
    assert page.locator(".js-plotly-plot", has_text="relative depth").count() == 1
    check(page, "Model sizes with the depth series")
    page.goto(f"{url}/dynamics?model=trained-gpt&trials=4", wait_until="domcontentloaded")
    settle(page)
    page.get_by_text("Every depth series on one step axis").click()
    page.locator(".js-plotly-plot", has_text="best head against step").wait_for(timeout=600_000)
    settle(page, timeout_ms=600_000)
    check(page, "Training dynamics with the depth series")
    page.close()
