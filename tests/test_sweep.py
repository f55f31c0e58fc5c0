"""Sweeps: on a local Ray cluster and in this process, the same numbers, written to the cache under the keys
a single `map` uses; a model that cannot load fails alone; checkpoint series expand and name their steps."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from induction.config import MapConfig
from induction.engine import compute_map
from induction.sweep import MULTIBERTS_STEPS, checkpoint_seed, checkpoint_step, expand_models, run_sweep, tasks_for

from .conftest import ROOT

MODELS, SETUPS, SEEDS = ["toy", "minilm"], ["standard", "triple"], [0, 1]


def test_a_sweep_on_a_local_ray_cluster(tmp_path, monkeypatch):
    pytest.importorskip("ray")
    cache = tmp_path / "cache"
    out = tmp_path / "sweep.json"
    env = {**os.environ, "INDUCTION_CACHE_DIR": str(cache), "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    proc = subprocess.run([sys.executable, "-m", "induction", "sweep", "--models", "toy,minilm,no-org/no-model",
                           "--setups", "standard,triple", "--seeds", "0,1", "--trials", "6", "--ray", "local",
                           "--json", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stderr[-3000:]  # one model failed: non-zero, after all the others ran
    result = json.loads(out.read_text())
    assert result["executor"] == "ray" and len(result["runs"]) == 12
    good = [r for r in result["runs"] if r["model"] in MODELS]
    bad = [r for r in result["runs"] if r["model"] == "no-org/no-model"]
    assert all(r["status"] == "ok" and r["top_head"] and not r["cached"] for r in good) and len(good) == 8
    assert all(r["status"] == "failed" and "could not load model 'no-org/no-model'" in r["error"] for r in bad)
    assert set(result["runs"][0]) == set(result["runs"][-1]) == {
        "model", "step", "setup", "target", "segment", "trials", "seed", "status", "error", "top_head", "top_score",
        "baseline", "cached", "elapsed_s"}

    # the same sweep in this process gives identical numbers, and a later `map` is served from the Ray results
    monkeypatch.setenv("INDUCTION_CACHE_DIR", str(cache))
    local = run_sweep(tasks_for(MODELS, SETUPS, SEEDS, protocol="clean", trials=6), use_cache=False)
    assert local["executor"] == "local"
    assert [(r["top_head"], r["top_score"]) for r in local["runs"]] == [(r["top_head"], r["top_score"]) for r in good]
    config = MapConfig(model="toy", setup="triple", trials=6, seed=1)
    served = compute_map(config)
    assert served.cached is True
    fresh = compute_map(config, use_cache=False)
    np.testing.assert_array_equal(served.per_trial["earlier"], fresh.per_trial["earlier"])
    again = run_sweep(tasks_for(["toy"], ["standard"], [0], protocol="clean", trials=6))
    assert again["runs"][0]["cached"] is True


def test_checkpoint_series_expand_and_name_their_steps():
    series = expand_models("toy,multiberts:seeds=0-4:steps=all")
    assert series[0] == "toy" and len(series) == 1 + 5 * len(MULTIBERTS_STEPS)
    assert "google/multiberts-seed_3-step_20k" in series and "google/multiberts-seed_0-step_2000k" in series
    assert expand_models("multiberts:seeds=1:steps=0,100") == ["google/multiberts-seed_1-step_0k",
                                                               "google/multiberts-seed_1-step_100k"]
    assert checkpoint_step("google/multiberts-seed_3-step_20k") == 20_000
    assert checkpoint_step("/tmp/toy-run/seed_2/step_000500") == 500 and checkpoint_seed("/x/seed_2/step_5") == 2
    assert checkpoint_step("toy") is None
    with pytest.raises(Exception, match="cannot read"):
        expand_models("multiberts:seeds=zero")


def test_a_revision_is_part_of_the_model_and_its_cache_key(random_bert):
    import dataclasses

    from dashboard.viewstate import from_query
    from induction.models.loading import describe, hub_source, resolve
    from induction.runs import map_key, resolve_run

    assert resolve("google/multiberts-seed_0@v1") == ("google/multiberts-seed_0@v1", False)
    assert hub_source("google/multiberts-seed_0@v1") == ("google/multiberts-seed_0", {"revision": "v1"})
    assert hub_source(random_bert) == (random_bert, {})
    run = resolve_run(MapConfig(model=random_bert, trials=2, segment=6))
    other = dataclasses.replace(run, info=dataclasses.replace(describe(random_bert), source="org/m@v2"))
    first = dataclasses.replace(run, info=dataclasses.replace(describe(random_bert), source="org/m@v1"))
    assert map_key(first) != map_key(other)
    assert from_query({"model": "org/m@v1"})[0].model == "org/m@v1"  # a link may carry a revision
