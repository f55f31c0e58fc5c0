"""Staying up: concurrent requests compute once, a full disk keeps serving, a killed run loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from induction import engine
from induction.cache import CacheWriteWarning, open_cache
from induction.config import MapConfig
from induction.engine import compute_map

from .conftest import ROOT


def test_two_sessions_asking_for_the_same_map_compute_it_once(random_bert, fresh_cache, monkeypatch):
    calls = []
    real = engine.capture

    def counting(*args, **kwargs):
        calls.append(1)
        time.sleep(0.3)
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "capture", counting)
    config = MapConfig(model=random_bert, trials=4, segment=8, seed=11)
    results = []
    threads = [threading.Thread(target=lambda: results.append(compute_map(config))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 4 and len(calls) == 1
    assert sum(not r.cached for r in results) == 1
    for r in results:
        np.testing.assert_array_equal(r.per_trial["prev"], results[0].per_trial["prev"])


def test_full_disk_returns_the_result_with_a_clear_warning_and_keeps_serving(random_bert, fresh_cache, monkeypatch):
    cached_config = MapConfig(model=random_bert, trials=3, segment=8)
    compute_map(cached_config)
    store = open_cache().store

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "set", full)
    with pytest.warns(CacheWriteWarning, match="No space left on device"):
        fresh = compute_map(MapConfig(model=random_bert, trials=3, segment=8, seed=5))
    assert fresh.trials == 3
    assert compute_map(cached_config).cached is True  # cached maps are still served


def test_cache_has_a_size_limit_and_evicts(tmp_path):
    from induction.cache import ResultCache

    cache = ResultCache(tmp_path / "small", size_limit=600_000)
    blob = np.random.default_rng(0).random(5_000)  # ~40 kB each
    for i in range(30):
        cache.put(f"map:{i}", {"i": i}, {"x": blob})
    cache.store.cull()
    assert cache.store.volume() < 800_000  # 30 entries would be 1.2 MB
    assert cache.get("map:29") is not None and cache.get("map:0") is None


KILL_SCRIPT = """
import sys, time
from induction.config import MapConfig
from induction.engine import compute_map
def progress(done, total):
    print("progress", done, flush=True)
    time.sleep(0.5)
compute_map(MapConfig(model=sys.argv[1], trials=400, segment=8, seed=99), progress=progress)
"""


def test_killing_a_run_mid_computation_loses_nothing_and_leaves_nothing_half_written(random_bert, fresh_cache):
    done = MapConfig(model=random_bert, trials=3, segment=8)
    before = compute_map(done)
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, random_bert], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "INDUCTION_CACHE_DIR": str(fresh_cache)})
    assert proc.stdout.readline().startswith("progress")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    after = compute_map(done)
    assert after.cached is True
    np.testing.assert_array_equal(after.per_trial["prev"], before.per_trial["prev"])
    killed = MapConfig(model=random_bert, trials=400, segment=8, seed=99)
    from induction.cache import ResultCache
    from induction.runs import map_key, resolve_run

    key = map_key(resolve_run(killed))
    assert ResultCache(fresh_cache).get(key) is None  # no half-written entry
    assert compute_map(killed).cached is False  # and its lock died with the process: no hang


def test_a_slow_model_load_does_not_hold_up_other_models(tmp_path, monkeypatch):
    from induction import engine as eng

    from .conftest import save_random_bert

    slow_model = str(save_random_bert(tmp_path / "slow", seed=5))  # not loaded by any other test

    real = eng.load_model
    slow_started, release, toy_done = threading.Event(), threading.Event(), threading.Event()

    def load(info, **kwargs):
        if info.name == slow_model:
            slow_started.set()
            release.wait(60)  # held until the toy has loaded beside it
        return real(info, **kwargs)

    monkeypatch.setattr(eng, "load_model", load)
    slow = threading.Thread(target=lambda: eng.get_model(slow_model))
    slow.start()
    try:
        assert slow_started.wait(30)
        threading.Thread(target=lambda: (eng.get_model("toy"), toy_done.set())).start()
        assert toy_done.wait(30), "loading the toy waited for another model's load"
    finally:
        release.set()
    slow.join(30)
    assert eng.get_model(slow_model) is eng.get_model(slow_model)  # loaded once, shared
