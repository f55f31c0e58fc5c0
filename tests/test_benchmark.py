"""The benchmark keeps working: --quick runs it end to end and its maps agree (timings are not asserted)."""

from __future__ import annotations

import json
import subprocess
import sys

from .conftest import ROOT


def run_quick(script: str, out) -> dict:
    """Run benchmarks/<script> --quick, writing its JSON to `out`; the JSON it wrote."""
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--quick", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(out.read_text())


def test_quick_benchmark_runs_and_the_maps_agree(tmp_path):
    out = tmp_path / "quick.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_engine.py"), "--quick", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(out.read_text())
    assert data["max_abs_diff_engine_vs_straightforward"] <= 1e-5
    assert set(data["methods"]) == {"straightforward BertModel", "straightforward BertForMaskedLM", "engine cold",
                                    "engine cold, bfloat16 (opt-in)", "engine warm (median of 20)",
                                    "floor (batched SDPA forward)"}
    assert data["max_abs_diff_engine_bfloat16_vs_straightforward"] < 0.05
    assert "engine/floor" in data["ratios"]


def test_quick_effects_benchmark_runs_and_both_ways_agree(tmp_path):
    data = run_quick("bench_effects.py", tmp_path / "effects.json")
    assert data["max_abs_diff"] <= 1e-5 and data["path"] == "suffix"


def test_quick_capture_benchmark_runs_and_both_paths_agree(tmp_path):
    data = run_quick("bench_capture.py", tmp_path / "capture.json")
    assert data["max_abs_diff"] <= 1e-5 and set(data["ms_per_trial"]) == {"interface", "fallback"}


def test_quick_causal_benchmark_runs_and_the_maps_agree(tmp_path):
    data = run_quick("bench_causal.py", tmp_path / "causal.json")
    assert data["max_abs_diff"] <= 1e-5 and data["queries_per_trial"] == data["segment"]


def test_quick_sweep_benchmark_runs_both_executors_with_the_same_numbers(tmp_path):
    data = run_quick("bench_sweep.py", tmp_path / "sweep.json")
    assert data["tasks"] == 2 and data["same_numbers"] is True


def test_quick_sizes_benchmark_maps_random_weights_in_each_size_shape(tmp_path):
    out = tmp_path / "sizes.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_engine.py"), "--sizes", "--quick",
                           "--json", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(out.read_text())
    assert set(data["per_model_s"]) == {"tiny", "small"} and data["trials"] == 2


def test_every_benchmark_script_has_a_quick_mode_that_a_test_runs():
    """A new benchmark without a tested quick mode would break silently, as bench_sweep.py once did."""
    tested = (ROOT / "tests" / "test_benchmark.py").read_text()
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        assert "--quick" in script.read_text(), script.name
        assert script.name in tested, f"{script.name} has no quick-mode test"


def test_quick_dashboard_benchmark_reaches_the_map_and_the_drilldown(tmp_path):
    data = run_quick("bench_dashboard.py", tmp_path / "dashboard.json")
    assert set(data["median"]) == {"ready_s", "first_map_s", "click_s", "second_click_s", "library_map_loaded_s",
                                   "library_detail_s"}
    assert data["trials"] == 4 and data["repeats"] == 1
