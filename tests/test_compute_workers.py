"""Heavy computations in worker processes: the same results, errors as messages, a caller who gives up frees the
worker, and a cached map never leaves the page's thread."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from induction import admission, compute_workers
from induction.config import InductionError, MapConfig


@pytest.fixture()
def pool(fresh_cache):
    """One worker (spawned after fresh_cache set the cache directory, so it shares this test's cache)."""
    p = compute_workers.Pool(1)
    yield p
    p.close()


def test_a_map_computed_in_a_worker_equals_the_one_computed_here_and_reports_progress(pool, random_bert):
    from induction.engine import compute_map

    config = MapConfig(model=random_bert, trials=3, segment=8)
    seen: list[tuple[int, int]] = []
    result, notes = pool.run(compute_map, (config,), {}, on_progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (3, 3) and notes == []
    here = compute_map(config, use_cache=False)
    for target in here.targets:
        np.testing.assert_allclose(result.per_trial[target], here.per_trial[target], atol=1e-6)
    assert compute_map(config).cached  # the worker stored it in the cache this process reads


def test_an_unreadable_model_in_a_worker_is_a_clear_message_and_the_worker_stays(pool, random_bert, tmp_path):
    from induction.engine import compute_map

    broken = tmp_path / "broken"
    shutil.copytree(random_bert, broken)
    for weights in broken.glob("*.safetensors"):
        weights.write_bytes(b"not a safetensors file")
    pid = pool.pids()
    with pytest.raises(InductionError) as err:
        pool.run(compute_map, (MapConfig(model=str(broken), trials=2, segment=8),), {})
    assert "\n" not in str(err.value) and "Traceback" not in str(err.value)
    assert pool.pids() == pid and pool.restarts == 0  # its own error: the worker serves the next call
    assert pool.run(compute_map, (MapConfig(model=random_bert, trials=2, segment=8),), {})[0].trials == 2


def test_a_caller_who_gives_up_kills_its_worker_and_a_fresh_one_takes_its_place(pool, random_bert):
    from induction.engine import compute_map

    before = pool.pids()

    def give_up() -> None:
        raise admission.Cancelled("the visitor left")

    with pytest.raises(admission.Cancelled):
        pool.run(compute_map, (MapConfig(model=random_bert, trials=200, segment=64),), {}, on_wait=give_up,
                 poll_s=0.01)
    assert pool.restarts == 1 and pool.pids() != before and len(pool.pids()) == 1
    assert pool.run(compute_map, (MapConfig(model=random_bert, trials=2, segment=8),), {})[0].trials == 2


def test_only_an_uncached_computation_leaves_the_page_thread(random_bert, fresh_cache):
    from dashboard.progress import Offload, _offload
    from induction.engine import compute_map

    config = MapConfig(model=random_bert, trials=2, segment=8)
    with pytest.raises(Offload), admission.gated(_offload):
        compute_map(config)  # not cached: the first heavy section sends it elsewhere
    compute_map(config)
    with admission.gated(_offload):
        assert compute_map(config).cached  # cached: served here, the gate never called


def test_the_server_starts_workers_when_deployed_or_asked(monkeypatch):
    monkeypatch.setenv("INDUCTION_MAX_COMPUTE", "2")
    monkeypatch.setattr(admission, "_ADMISSION", None)
    monkeypatch.delenv("INDUCTION_COMPUTE_WORKERS", raising=False)
    assert compute_workers.workers_wanted(deployed=False) == 0
    assert compute_workers.workers_wanted(deployed=True) == 2
    monkeypatch.setenv("INDUCTION_COMPUTE_WORKERS", "0")
    assert compute_workers.workers_wanted(deployed=True) == 0
    monkeypatch.setenv("INDUCTION_COMPUTE_WORKERS", "1")
    assert compute_workers.workers_wanted(deployed=False) == 2
    assert compute_workers.server_pool() is None  # nothing started outside serve.py


def map_on_a_full_disk(config: MapConfig, progress=None):
    """compute_map in a worker whose cache cannot write (the disk is full): run there by the test below."""
    from induction.cache import open_cache
    from induction.engine import compute_map

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    open_cache().store.set = full
    return compute_map(config, progress=progress)


def test_a_full_disk_in_a_worker_returns_the_map_with_its_warning(pool, random_bert):
    result, notes = pool.run(map_on_a_full_disk, (MapConfig(model=random_bert, trials=2, segment=8, seed=9),), {})
    assert result.trials == 2
    assert len(notes) == 1 and "No space left on device" in notes[0]  # the page shows it as a warning


def test_the_about_page_says_where_computations_run(monkeypatch):
    from types import SimpleNamespace

    from dashboard.library import server_load

    assert "worker process" not in server_load()  # no pool: they run in the server process
    worker = {"pid": 41, "busy": True, "rss_mb": 612.4, "models": [{"model": "minilm", "mb": 86.7, "in_use": 1}],
              "loaded_mb": 86.7, "budget_mb": 2048}
    monkeypatch.setattr(compute_workers, "_POOL", SimpleNamespace(size=1, restarts=2, report=lambda: [worker]))
    about = server_load()
    assert "1 worker process(es)" in about and "restarted 2 time(s)" in about and "loads no model" in about
    assert "| 41 | computing | minilm | 87 | 612 |" in about  # the workers' models and memory


def test_a_trained_series_dynamics_and_icl_scores_come_back_from_a_worker(pool):
    """What the Training dynamics page offloads: every checkpoint's map, then every checkpoint's ICL score."""
    from induction.analyses.dynamics import dynamics, icl_series, series_models

    models = series_models("trained-gpt")[:3]
    template = MapConfig(setup="repeat", trials=3)
    result, _ = pool.run(dynamics, (models, template, "induction", None), {"compute_missing": True})
    assert [r["step"] for r in result["rows"]] == [0, 150, 300] and result["missing"] == []
    assert result == dynamics(models, template, "induction", None)  # now read from the cache, here
    icl, _ = pool.run(icl_series, (models,), {"trials": 3})
    assert [p["step"] for p in icl] == [0, 150, 300] and all(np.isfinite(p["mean"]) for p in icl)


def warns_twice(progress=None):
    """Run in a worker by the test below: a warning of the project's own code and a third-party one."""
    import warnings

    warnings.warn("3 of 8 checkpoints have no map yet", UserWarning, stacklevel=1)
    import torch

    warnings.warn_explicit("torch noise", UserWarning, torch.__file__, 1)
    warnings.warn("a deprecated call (for developers)", FutureWarning, stacklevel=1)
    return 7


def test_every_warning_of_the_projects_code_comes_back_from_a_worker(pool):
    result, notes = pool.run(warns_twice, (), {})
    assert result == 7 and notes == ["3 of 8 checkpoints have no map yet"]  # third-party and developer noise left out


def sleeps(seconds: float, progress=None):
    import time

    time.sleep(seconds)
    return seconds


def test_closing_the_pool_ends_busy_workers_too(fresh_cache):
    import threading

    pool = compute_workers.Pool(2)
    outcome: list = []

    def call() -> None:
        try:
            outcome.append(pool.run(sleeps, (600,), {}))
        except compute_workers.WorkerDied as exc:
            outcome.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    while len(pool.pids()) != 1 and caller.is_alive():  # one worker taken, one idle
        caller.join(0.05)
    busy = next(iter(pool._busy)).process
    pool.close()
    caller.join(30)
    assert not caller.is_alive() and isinstance(outcome[0], compute_workers.WorkerDied)
    assert not busy.is_alive() and pool.pids() == []
    with pytest.raises(compute_workers.WorkerDied):
        pool.run(sleeps, (0,), {})


def test_in_a_deployed_server_with_workers_a_drilldown_loads_no_model_in_the_server(pool, monkeypatch):
    """The map and the head's drill-down both come from the worker: the server process's model memo stays empty,
    and the About page lists the worker's model."""
    from streamlit.testing.v1 import AppTest

    from dashboard.library import server_load
    from induction import engine
    from induction.model_memory import ModelMemo

    from .conftest import ROOT

    monkeypatch.setenv("INDUCTION_DEPLOYED", "1")
    monkeypatch.setattr(compute_workers, "_POOL", pool)
    monkeypatch.setattr(engine, "_MODELS", ModelMemo())
    monkeypatch.setattr(admission, "_ADMISSION", admission.Admission(slots=1))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=240)
    for key, value in {"model": "toy", "trials": 4, "seed": 3, "layer": 1, "head": 0}.items():
        at.query_params[key] = str(value)
    at.run()
    assert not at.exception and not at.error, (at.exception, at.error)
    assert "Head L1H0" in [h.value for h in at.subheader]
    assert any("score" in m.value and "over 4 trials" in m.value for m in at.markdown)  # the drill-down's line
    assert engine.loaded_models()["models"] == []  # nothing loaded in this (the server's) process
    assert [m["model"] for m in pool.report()[0]["models"]] == ["toy"]
    about = server_load()
    assert "| idle | toy |" in about and "Models in memory" not in about  # the workers', not the server's


def test_the_workers_share_the_servers_one_budget(fresh_cache, random_bert):
    """Each worker counts its models in the pool's shared ledger against the whole budget (not a share each)."""
    from induction.engine import compute_map

    budget = 512 * 2**20
    shared = compute_workers.Pool(1, budget=budget)
    try:
        assert shared.ledger.total() == 0
        shared.run(compute_map, (MapConfig(model=random_bert, trials=2, segment=8),), {})
        [worker] = shared.report()
        assert worker["budget_mb"] == 512 and worker["models"]  # the whole budget, its model listed
        assert abs(shared.ledger.total() / 2**20 - worker["loaded_mb"]) < 0.1  # what it holds is in the ledger
        shared.ledger.bind(0).want(10 * 2**20)  # a wait for room left behind by a worker killed while waiting
    finally:
        shared.close()
    assert shared.ledger.total() == 0  # an ended worker's row is freed
    assert shared.ledger.bind(0).wanted() == 0  # and the others no longer shed their models for it


def test_deployed_mode_offers_by_default_only_the_models_that_fit_the_budget(monkeypatch):
    from induction import deploy

    monkeypatch.setenv("INDUCTION_DEPLOYED", "1")
    monkeypatch.delenv("INDUCTION_ALLOWED_MODELS", raising=False)
    monkeypatch.setenv("INDUCTION_MODEL_MEMORY_MB", "700")
    offered = deploy.limits().allowed_models
    assert {"toy", "minilm", "tiny", "base"} <= set(offered)
    assert "large" not in offered and "roberta-large" not in offered  # 1.3 GB of weights alone
    monkeypatch.setenv("INDUCTION_MODEL_MEMORY_MB", "4096")
    assert "large" in deploy.limits().allowed_models


def test_in_a_server_with_workers_the_text_page_loads_no_model_in_the_server(pool, monkeypatch):
    """The text map, its tokens (a whole model's tokenizer) and the selected head's occurrence come from the worker."""
    from induction import engine
    from induction.model_memory import ModelMemo

    from .page_checks import open_page

    monkeypatch.setattr(compute_workers, "_POOL", pool)
    monkeypatch.setattr(engine, "_MODELS", ModelMemo())
    monkeypatch.setattr(admission, "_ADMISSION", admission.Admission(slots=1))
    at = open_page("views/text.py", timeout=300, model="minilm", doc="for", layer=1, head=0)
    assert not at.error, [e.value for e in at.error]
    assert len(at.get("plotly_chart")) == 3  # the tokens, the map and the head's attention from the occurrence
    assert engine.loaded_models()["models"] == []


def _niceness_of(pid: int) -> int:
    import os

    return os.getpriority(os.PRIO_PROCESS, pid)


def test_workers_compute_at_a_lower_priority_than_the_server_so_readers_keep_the_cores(pool, random_bert):
    """Computing is background work, reading a cached map is interactive: on a 2-core machine the workers yield
    the cores to the server's page runs (and a reader's browser) whenever those want them (issue 34)."""
    import os

    from induction.engine import compute_map

    if not hasattr(os, "getpriority"):
        pytest.skip("no process priorities on this platform")
    pool.run(compute_map, (MapConfig(model=random_bert, trials=1, segment=8),), {})  # the worker has started
    here = _niceness_of(os.getpid())
    (pid,) = pool.pids()
    worker = _niceness_of(pid)
    assert worker == min(19, here + compute_workers.LOWEST_PRIORITY)  # os.nice adds to the server's own
    assert worker > here or here == 19  # lower than the server, unless the server is already at the bottom
