"""Benchmark: how long the dashboard keeps a new user waiting, server-side, from an empty cache.

    python benchmarks/bench_dashboard.py              # 3 fresh processes, 50 trials (the landing view)
    python benchmarks/bench_dashboard.py --quick      # 1 process, 4 trials (the test suite runs this)

Each repeat starts a fresh Python process with an empty cache (nothing imported, nothing loaded) and measures:
- ready: `streamlit run serve.py` started until /_stcore/health answers (serve.py's lifespan has imported the
  library, loaded the toy and computed its default map before the server accepts anyone);
- first map: the app's script, run as a server runs it (Streamlit's AppTest: the same script, session state
  and widgets, without the browser) from process start until the landing page has drawn the toy map;
- click: a click on a head (the widget state a browser sends) until the rerun has drawn its drill-down;
- second click: another head (its one-trial detail not memoized yet).
The baseline in the same process: the library calls those pages make (`compute_map` from an empty cache with
the model in memory, then `head_detail`): the first map's difference is imports and the model's load; the
click's, "page - library", is what the dashboard adds to a click. Medians over the repeats; writes
benchmarks/results/dashboard.json. Nothing here is asserted: timings are read, never tested.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def child(trials: int) -> dict:
    """One fresh process: the landing page, a click, another click; and the library calls alone."""
    started = time.perf_counter()
    sys.path.insert(0, str(ROOT))
    import json as _json

    from streamlit.proto.WidgetStates_pb2 import WidgetState
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    at.query_params["trials"] = str(trials)
    at.run()
    first_map = time.perf_counter() - started
    assert not at.exception and at.get("plotly_chart"), "the landing page did not draw the map"

    def click(layer: int, head: int) -> float:
        chart = at.get("plotly_chart")[0]
        states = at._tree.get_widget_states()
        point = {"curve_number": 1, "point_number": 0, "point_index": 0, "x": head, "y": layer,
                 "customdata": [layer, head, 0.5, 0.01]}
        ws = WidgetState(id=chart.proto.id)
        ws.string_value = _json.dumps({"selection": {"points": [point], "point_indices": [0], "box": [],
                                                     "lasso": []}})
        states.widgets.append(ws)
        t = time.perf_counter()
        at._run(states)
        took = time.perf_counter() - t
        assert at.subheader and at.subheader[0].value == f"Head L{layer}H{head}", "the click drew no drill-down"
        return took

    first_click, second_click = click(1, 1), click(0, 1)

    from induction.analyses.head_detail import head_detail
    from induction.config import MapConfig
    from induction.engine import compute_map

    os.environ["INDUCTION_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench-dashboard-lib-")  # empty again
    config = MapConfig(model="toy", trials=trials, seed=3)  # another seed: no memo shared with the page
    t = time.perf_counter()
    compute_map(config)
    library_map = time.perf_counter() - t
    t = time.perf_counter()
    head_detail(config, 1, 0, trial=0)
    library_detail = time.perf_counter() - t
    return {"first_map_s": first_map, "click_s": first_click, "second_click_s": second_click,
            "library_map_loaded_s": library_map, "library_detail_s": library_detail}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ready_seconds(cache: str) -> float:
    """`streamlit run serve.py` on 127.0.0.1 until its health check answers (the toy map computed by then)."""
    port = _free_port()
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "serve.py"), "--server.address",
                             "127.0.0.1", "--server.port", str(port), "--server.headless", "true"], cwd=ROOT,
                            env={**os.environ, "INDUCTION_CACHE_DIR": cache, "HF_HUB_OFFLINE": "1",
                                 "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - started < 300:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return time.perf_counter() - started
            except OSError:
                time.sleep(0.1)
        raise TimeoutError("the server did not become healthy in 300 s")
    finally:
        proc.terminate()
        proc.wait(30)


def fresh(trials: int) -> dict:
    """One repeat: the server's start, then the page timings in a fresh process, each with an empty cache."""
    env = {**os.environ, "INDUCTION_CACHE_DIR": tempfile.mkdtemp(prefix="bench-dashboard-"), "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, __file__, "--child", "--trials", str(trials)], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=900)
    if out.returncode:
        raise RuntimeError(f"the measuring process failed: {out.stderr[-2000:]}")
    row = json.loads(out.stdout.strip().splitlines()[-1])
    row["ready_s"] = ready_seconds(tempfile.mkdtemp(prefix="bench-dashboard-server-"))
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "dashboard.json"))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.trials)))
        return
    repeats, trials = (1, 4) if args.quick else (args.repeats, args.trials)
    rows = [fresh(trials) for _ in range(repeats)]
    median = {k: round(statistics.median(r[k] for r in rows), 3) for k in rows[0]}
    result = {"trials": trials, "repeats": repeats, "median": median, "runs": rows,
              "dashboard_overhead_click_s": round(median["click_s"] - median["library_detail_s"], 3),
              "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()}}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    m = median
    print(f"server ready (toy map computed): {m['ready_s']:.2f} s · first map drawn: {m['first_map_s']:.2f} s "
          f"(the library's map alone, model in memory: {m['library_map_loaded_s']:.2f} s) · click to drill-down: "
          f"{m['click_s']:.3f} s, another head {m['second_click_s']:.3f} s (library alone "
          f"{m['library_detail_s']:.3f} s) · median of {repeats}, {trials} trials")


if __name__ == "__main__":
    main()
