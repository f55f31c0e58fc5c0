"""Load test of the deployed demo: many visitors at once, over Streamlit's protocol and with readers in a browser.

Protocol phase: each visitor is a websocket session speaking Streamlit's protocol (what the browser's front end
sends: a rerun with the link's query string; what it reads: the page's elements), so what is timed is the server
to the map. Browser phase: the readers of the cached map are Chromium tabs (a fresh context a visit: a first-time
visitor, nothing cached), timed from the link to the drawn map, while the heavy visitors compute over the protocol
(their browsers would be on their own machines; `--heavy-in-browser` puts them in Chromium too, on these cores).

Starts `INDUCTION_DEPLOYED=1 streamlit run serve.py` on 127.0.0.1 with a fresh cache dir (or targets
`--url`, e.g. the Docker image from scripts/docker-smoke.sh), and in each phase measures the cached toy map alone
(idle), then runs `--heavy` visitors each computing an uncached map (distinct seeds) while readers keep opening
the cached toy map (`--cached` protocol readers, `--browser-readers` Chromium ones). Reports the median and 95th
percentile time to the map for both, server RSS over time (own server only), errors on the pages and the longest
time a visitor saw its place in the queue; JSON into benchmarks/results/. With `--kill`, the server is killed
mid-compute, restarted on the same cache, and every map that had finished must open from the cache.

Exits non-zero when the issue's criterion fails in a phase: cached views at most 3x their idle time (or 4 s),
every visitor gets its map, no error on a page, server memory under the model budget plus the runtime.
Bounded: at most --heavy + readers visitors at once, every wait has a timeout, the whole run `--budget-s`.

    make load-test                    # the issue's scenario: 6 visitors on minilm (50 trials), 2 cached readers
    make load-test ARGS=--short       # CI: 4 on minilm (8 trials), 2 cached; then the browser phase (1 Chromium
                                      # reader, 4 more computing) when /usr/bin/chromium exists
    make load-test ARGS=--browser     # only the browser phase, the issue's scenario
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync"]
RUNTIME_MB = 1024  # the server's own memory beside the models (Python, torch, Streamlit)
WAITING = re.compile(r"waiting for a free computation slot, place (\d+)")
MAP_SHOWN = "Click a cell of the map"  # the hint under a drawn map (views/map.py via dashboard/drilldown.py)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, cache: Path, env: dict) -> subprocess.Popen:
    """The deployed-mode server on 127.0.0.1 (loopback only) with its own cache directory."""
    return subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "serve.py"), "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "INDUCTION_DEPLOYED": "1", "INDUCTION_CACHE_DIR": str(cache),
             "INDUCTION_ALLOWED_MODELS": "toy toy-gpt minilm", **env})


def wait_healthy(url: str, timeout: float = 120) -> float:
    started = time.time()
    while time.time() - started < timeout:
        with contextlib.suppress(OSError), urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
            if r.status == 200:
                return time.time() - started
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not become healthy in {timeout:.0f} s")


def rss_kb(pid: int) -> int:
    """One process's resident memory in kB (0 when it is gone)."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        return int(re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text()).group(1))
    return 0


def children(pid: int) -> list[int]:
    """The process's descendants (the compute workers and multiprocessing's resource tracker), from /proc."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{parent}/task").iterdir():
                kids = [int(k) for k in (task / "children").read_text().split()]
                found += kids
                todo += kids
    return found


class RssSampler(threading.Thread):
    """Resident memory (MB) of the server alone and with its worker processes, every `every` seconds."""

    def __init__(self, pid: int, t0: float, every: float = 0.5):
        super().__init__(daemon=True)
        self.pid, self.t0, self.every, self.samples, self.stop = pid, t0, every, [], threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.every):
            server = rss_kb(self.pid)
            if server:
                total = server + sum(rss_kb(k) for k in children(self.pid))
                self.samples.append((round(time.time() - self.t0, 1), round(server / 1024), round(total / 1024)))


def _element_text(element) -> str:
    """The text of an element the load test reads (markdown, an alert, plain text)."""
    kind = element.WhichOneof("type")
    return {"markdown": element.markdown.body, "alert": element.alert.body, "text": element.text.body}.get(kind, "")


async def visit_map(url: str, query: str, timeout_s: float) -> dict:
    """One visitor (a new session) opening one map over Streamlit's protocol: seconds from the request to the map
    arriving from the server, the queue wait it saw, errors on the page (an exception or an error alert)."""
    import websockets
    from streamlit.proto.Alert_pb2 import Alert
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    out = {"query": query, "ok": False, "seconds": None, "queue_wait_s": 0.0, "max_place": 0, "error": None}
    started = time.time()
    first_wait = last_wait = None
    chart = False
    try:
        async with websockets.connect(url.replace("http", "ws", 1) + "/_stcore/stream", subprotocols=["streamlit"],
                                      max_size=None, open_timeout=timeout_s) as ws:
            request = BackMsg()
            request.rerun_script.query_string = query
            await ws.send(request.SerializeToString())
            while not out["ok"] and not out["error"]:
                left = timeout_s - (time.time() - started)
                if left <= 0:
                    out["error"] = f"no map after {timeout_s:.0f} s"
                    break
                msg = ForwardMsg()
                msg.ParseFromString(await asyncio.wait_for(ws.recv(), left))
                if msg.WhichOneof("type") != "delta" or msg.delta.WhichOneof("type") != "new_element":
                    continue
                element = msg.delta.new_element
                kind, text = element.WhichOneof("type"), _element_text(element)
                if kind == "exception" or (kind == "alert" and element.alert.format == Alert.ERROR):
                    out["error"] = (text or element.exception.message)[:300]
                chart = chart or kind == "plotly_chart"
                if chart and MAP_SHOWN in text:
                    out["ok"], out["seconds"] = True, round(time.time() - started, 3)
                place = WAITING.search(text)
                if place:
                    now = time.time()
                    first_wait, last_wait = first_wait or now, now
                    out["max_place"] = max(out["max_place"], int(place.group(1)))
    except Exception as exc:  # a visitor's failure is a result, not a crash of the test
        out["error"] = out["error"] or f"{type(exc).__name__}: {str(exc)[:200]}"
    if first_wait:
        out["queue_wait_s"] = round(last_wait - first_wait, 2)
    return out


# In the page, from its first script on: when the map is drawn (Plotly's points and the hint under the map), the
# places in the queue it showed and when, an error on the page. The page keeps its own times, so the test's
# polling (one cheap read every half second) neither delays the drawing nor rounds the figure; textContent, not
# innerText, so that watching forces no layout.
WATCH_PAGE = r"""
window.__induction = {drawn: null, waited: null, place: 0, error: null};
const watch = () => {
  const w = window.__induction;
  if (w.drawn || w.error) return;
  const main = document.querySelector('[data-testid="stMain"]');
  if (!main) return;
  if (main.querySelector('[data-testid="stException"], [data-testid="stAlertContentError"]')) {
    w.error = main.innerText.slice(-300); return;
  }
  const text = main.textContent, place = text.match(/waiting for a free computation slot, place (\d+)/);
  if (place) {  // the first and the last time it showed a place, and the deepest place
    const now = performance.now();
    w.waited = [w.waited ? w.waited[0] : now, now];
    w.place = Math.max(w.place, +place[1]);
  }
  if (document.querySelector('.js-plotly-plot .scatterlayer .trace path.point') && text.includes(MAP_SHOWN))
    w.drawn = performance.now();
};
document.addEventListener("DOMContentLoaded", () => {
  new MutationObserver(watch).observe(document.body, {childList: true, subtree: true, characterData: true});
});
""".replace("MAP_SHOWN", json.dumps(MAP_SHOWN))


async def open_map(browser, url: str, query: str, timeout_s: float) -> dict:
    """One visitor opening one map in a fresh Chromium context (a first visit: nothing cached): seconds from the
    link to the drawn map, as the page timed it, the queue wait it saw, errors."""
    context = await browser.new_context(viewport={"width": 1300, "height": 900})
    await context.add_init_script(WATCH_PAGE)
    page = await context.new_page()
    out = {"query": query, "ok": False, "seconds": None, "queue_wait_s": 0.0, "max_place": 0, "error": None}
    started = time.time()
    try:
        await page.goto(f"{url}/?{query}", wait_until="commit")
        while True:
            seen = None
            with contextlib.suppress(Exception):  # the document may still be loading
                seen = await page.evaluate("window.__induction")
            if seen and (seen["drawn"] or seen["error"]):
                break
            if time.time() - started > timeout_s:
                out["error"] = f"no map after {timeout_s:.0f} s"
                break
            await asyncio.sleep(0.5)
        if seen and seen["error"]:
            out["error"] = seen["error"]
        elif seen and seen["drawn"]:
            out["ok"], out["seconds"] = True, round(seen["drawn"] / 1000, 2)  # from the navigation's start
        if seen and seen["waited"]:
            out["queue_wait_s"] = round((seen["waited"][1] - seen["waited"][0]) / 1000, 2)
            out["max_place"] = seen["place"]
    except Exception as exc:  # a visitor's failure is a result, not a crash of the test
        out["error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
    finally:
        await context.close()
    return out


def load_average() -> list[float]:
    """The machine's 1, 5 and 15 minute load averages (the figures are only as quiet as the machine)."""
    return [round(x, 2) for x in os.getloadavg()]


def stats(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    values = sorted(values)
    p95 = values[min(len(values) - 1, max(0, round(0.95 * len(values) + 0.5) - 1))]
    return {"n": len(values), "median_s": round(statistics.median(values), 2), "p95_s": round(p95, 2),
            "max_s": round(values[-1], 2)}


async def scenario(url: str, a, phase: str, proc_restart=None) -> dict:
    """Idle cached views, then the heavy visitors with cached visitors opening the toy map meanwhile. In the browser
    phase the readers (the cached visitors) are Chromium tabs; the heavy visitors stay protocol clients unless
    --heavy-in-browser: their browsers would be on their own machines, and drawing six progress pages on the
    server's two cores would measure the test's machine, not the server."""
    async with contextlib.AsyncExitStack() as stack:
        async def protocol(query: str, timeout_s: float) -> dict:
            return await visit_map(url, query, timeout_s)

        read = heavy = protocol
        if phase == "browser":
            from playwright.async_api import async_playwright

            p = await stack.enter_async_context(async_playwright())
            browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            stack.push_async_callback(browser.close)

            async def in_browser(query: str, timeout_s: float) -> dict:
                return await open_map(browser, url, query, timeout_s)

            read = in_browser
            heavy = in_browser if a.heavy_in_browser else protocol
        return await _visitors(read, heavy, a, phase, proc_restart)


def heavy_queries(a, phase: str) -> list[str]:
    """The heavy visitors' uncached maps: distinct seeds, and other seeds in the browser phase (still uncached)."""
    base, trials = (2000, a.browser_trials) if phase == "browser" and not a.browser else (1000, a.trials)
    return [f"model={a.model}&trials={trials}&seed={base + i}" for i in range(a.heavy)]


async def _visitors(read, heavy_visit, a, phase: str, proc_restart) -> dict:
    """The scenario with `read(query, timeout)` as a reader opening the cached map and `heavy_visit` as a visitor
    opening an uncached one."""
    cached_query = "model=toy"
    heavy = heavy_queries(a, phase)
    readers = a.browser_readers if phase == "browser" else a.cached
    await read(cached_query, 120)  # a first visit (the server's page modules, the browser's start): not measured
    idle = [await read(cached_query, 60) for _ in range(a.idle_repeats)]
    began = time.time()
    heavy_tasks = [asyncio.create_task(heavy_visit(q, a.heavy_timeout_s)) for q in heavy]
    await asyncio.sleep(a.settle_s)  # the heavy maps are computing (or queued)
    killed = None
    if proc_restart is not None:
        await asyncio.sleep(a.kill_after_s)
        killed = await asyncio.to_thread(proc_restart)
    cached: list[dict] = []

    async def cached_visitor() -> None:
        while not all(t.done() for t in heavy_tasks) and len(cached) < a.max_cached_visits:
            at = round(time.time() - began, 1)  # when the visit began, from the heavy visitors' start
            cached.append({**await read(cached_query, 60), "at_s": at})
            await asyncio.sleep(a.cached_every_s)

    load = {"start": load_average()}
    await asyncio.gather(*[cached_visitor() for _ in range(readers)])
    load["readers_done"] = load_average()
    heavies = await asyncio.gather(*heavy_tasks)
    after = None
    if killed is not None:  # every map that finished before the kill opens again after the restart
        after = [await read(q, 60) for q in killed["finished"]]
    return {"idle": idle, "cached": cached, "heavy": heavies, "killed": killed, "after_restart": after,
            "readers": readers, "load_average": load}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--short", action="store_true", help="the CI form: 4 heavy (8 trials) + 2 cached visitors")
    ap.add_argument("--heavy", type=int, default=6)
    ap.add_argument("--cached", type=int, default=2)
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--idle-repeats", type=int, default=5)
    ap.add_argument("--cached-every-s", type=float, default=1.0, help="pause between a cached visitor's visits")
    ap.add_argument("--max-cached-visits", type=int, default=400)
    ap.add_argument("--browser", action="store_true", help="only the browser phase: readers in Chromium")
    ap.add_argument("--no-browser", action="store_true", help="--short without its browser phase")
    ap.add_argument("--browser-readers", type=int, default=1,
                    help="readers in Chromium at once in the browser phase (each browser draws on this machine)")
    ap.add_argument("--heavy-in-browser", action="store_true",
                    help="the heavy visitors in Chromium too (their drawing then loads this machine)")
    ap.add_argument("--settle-s", type=float, default=3.0)
    ap.add_argument("--heavy-timeout-s", type=float, default=420)
    ap.add_argument("--budget-s", type=float, default=540, help="the whole run, at most")
    ap.add_argument("--url", help="test a running server (e.g. the Docker image) instead of starting one")
    ap.add_argument("--kill", action="store_true", help="kill the server mid-compute and restart it")
    ap.add_argument("--kill-after-s", type=float, default=8)
    ap.add_argument("--max-compute", help="INDUCTION_MAX_COMPUTE for the server started here")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "load_test.json"))
    a = ap.parse_args()
    if a.short:
        a.heavy, a.trials, a.idle_repeats = min(a.heavy, 4), min(a.trials, 8), 3
        a.out = a.out.replace("load_test.json", "load_test_short.json")
    if a.browser and not Path(CHROMIUM).exists():
        print("load-test: /usr/bin/chromium is missing (make browser installs it)", file=sys.stderr)
        return 2
    a.phases = ["browser"] if a.browser else ["protocol"]
    a.browser_trials = a.trials
    if a.short and not a.browser and not a.kill and not a.no_browser:  # CI's short form: readers in a browser too
        if Path(CHROMIUM).exists():
            a.phases.append("browser")
            a.browser_trials = 3 * a.trials  # computing long enough for a few drawn maps (one takes seconds)
        elif os.environ.get("INDUCTION_REQUIRE_BROWSER") == "1":  # CI: the browser phase must run, not skip
            print("load-test: /usr/bin/chromium is required here (INDUCTION_REQUIRE_BROWSER=1) but missing",
                  file=sys.stderr)
            return 2
        else:
            print("load-test: skipping the browser phase: /usr/bin/chromium is missing (make browser installs it)",
                  file=sys.stderr)
    budget_mb = int(os.environ.get("INDUCTION_MODEL_MEMORY_MB", "2048"))
    a.load_average = {"start": load_average()}
    env = {"INDUCTION_MAX_COMPUTE": a.max_compute} if a.max_compute else {}
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="induction-load-") as tmp:
        proc = sampler = None
        if a.url:
            url = a.url.rstrip("/")
            startup = wait_healthy(url)
        else:
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            proc = start_server(port, Path(tmp) / "cache", env)
            startup = wait_healthy(url)
            sampler = RssSampler(proc.pid, t0)
            sampler.start()
        holder = {"proc": proc}

        def restart() -> dict:
            """SIGKILL mid-compute, start again on the same cache; which heavy maps had finished."""
            from induction.config import MapConfig
            from induction.engine import cached_map

            holder["proc"].send_signal(signal.SIGKILL)
            holder["proc"].wait(10)
            os.environ["INDUCTION_CACHE_DIR"] = str(Path(tmp) / "cache")
            finished = [f"model={a.model}&trials={a.trials}&seed={1000 + i}" for i in range(a.heavy)
                        if cached_map(MapConfig(model=a.model, trials=a.trials, seed=1000 + i)) is not None]
            holder["proc"] = start_server(port, Path(tmp) / "cache", env)
            sampler.pid = holder["proc"].pid
            return {"finished": finished, "restart_s": round(wait_healthy(url), 1)}

        try:
            result = {}
            for phase in a.phases:
                left = a.budget_s - (time.time() - t0)
                result[phase] = asyncio.run(asyncio.wait_for(
                    scenario(url, a, phase, restart if a.kill and proc else None), timeout=left))
        finally:
            if sampler:
                sampler.stop.set()
            if holder["proc"] is not None and holder["proc"].poll() is None:
                holder["proc"].terminate()
                holder["proc"].wait(20)
    a.load_average["end"] = load_average()
    return report(a, url, startup, result, sampler.samples if sampler else [], budget_mb, time.time() - t0)


def phase_report(a, r: dict, memory_ok: bool) -> dict:
    """One phase's figures and checks: cached views at most 3x their idle time (or 4 s), every visitor got its map,
    no error on a page (or, in the fault run, what had finished opens after the restart)."""
    idle = stats([v["seconds"] for v in r["idle"] if v["ok"]])
    cached = stats([v["seconds"] for v in r["cached"] if v["ok"]])
    heavy = stats([v["seconds"] for v in r["heavy"] if v["ok"]])
    everyone = r["idle"] + r["cached"] + r["heavy"] + (r["after_restart"] or [])
    errors = [f"{v['query']}: {v['error']}" for v in everyone if v["error"]]
    limit = max(3 * idle.get("median_s", 0), 4.0)
    if r["killed"]:  # the fault run: visitors connected during the kill lose their session; what finished stays
        checks = {"killed_mid_compute": len(r["killed"]["finished"]) < a.heavy,
                  "finished_maps_served_after_restart": all(v["ok"] for v in r["after_restart"]),
                  "no_errors_after_restart": not [v for v in r["after_restart"] if v["error"]],
                  "memory_under_budget": memory_ok}
    else:
        checks = {"cached_within_3x_idle_or_4s": cached.get("n", 0) > 0 and cached["p95_s"] <= limit,
                  "every_visitor_got_its_map": all(v["ok"] for v in r["heavy"] + r["cached"] + r["idle"]),
                  "no_errors": not errors, "memory_under_budget": memory_ok}
    loaded = cached.get("median_s"), cached.get("p95_s")
    ratio = {"median": round(loaded[0] / idle["median_s"], 2), "p95": round(loaded[1] / idle["median_s"], 2)} \
        if idle.get("median_s") and loaded[0] else None
    return {"readers": r["readers"], "idle_cached": idle, "loaded_cached": cached, "loaded_over_idle": ratio,
            "heavy": heavy, "cached_limit_s": round(limit, 2), "load_average": r["load_average"],
            "loaded_visits_at_s_seconds": [(v["at_s"], v["seconds"]) for v in r["cached"]],
            "heavy_done_s": sorted(v["seconds"] for v in r["heavy"] if v["ok"]),
            "queue_longest_wait_s": max((v["queue_wait_s"] for v in r["heavy"]), default=0.0),
            "queue_deepest_place": max((v["max_place"] for v in r["heavy"]), default=0),
            "errors": errors, "killed": r["killed"], "checks": checks, "passed": all(checks.values())}


def report(a, url: str, startup: float, result: dict, rss: list, budget_mb: int, wall: float) -> int:
    """Figures and the criterion into JSON, a phase at a time (protocol, browser); non-zero when one fails."""
    peak = max((total for *_, total in rss), default=None)  # the server and its worker processes together
    server_peak = max((server for _, server, _ in rss), default=None)
    memory_ok = peak is None or peak <= budget_mb + RUNTIME_MB
    phases = {phase: phase_report(a, r, memory_ok) for phase, r in result.items()}
    clients = {"protocol": "Streamlit protocol (websocket)",
               "browser": "Chromium readers (a fresh context a visit), heavy visitors "
                          + ("in Chromium" if a.heavy_in_browser else "over the protocol")}
    out = {"machine": f"{platform.machine()}, {os.cpu_count()} CPU cores", "load_average": a.load_average,
           "clients": {phase: clients[phase] for phase in phases}, "url": url, "short": a.short,
           "visitors": {"heavy": a.heavy, "cached": a.cached, "browser_readers": a.browser_readers,
                        "model": a.model, "trials": a.trials},
           "startup_s": round(startup, 1), "wall_s": round(wall, 1), "phases": phases,
           "rss_mb": {"peak_with_workers": peak, "peak_server_alone": server_peak, "budget_mb": budget_mb,
                      "runtime_allowance_mb": RUNTIME_MB, "samples_t_server_total": rss},
           "passed": all(ph["passed"] for ph in phases.values())}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(out, indent=1))
    keep = ("idle_cached", "loaded_cached", "loaded_over_idle", "heavy", "queue_longest_wait_s", "errors", "checks")
    print(json.dumps({"phases": {name: {k: ph[k] for k in keep} for name, ph in phases.items()},
                      "rss_peak_mb": peak, "load_average": a.load_average, "wall_s": out["wall_s"], "out": a.out,
                      "passed": out["passed"]}, indent=1))
    return 0 if out["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
