"""Where commands meet: --no-cache writes nothing in any mode, effects and map run the same trials, and the
effects line ranks by magnitude."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from induction.cli.parser import main

from .conftest import ROOT

TEXT = " ".join(f"t{i:03d}" for i in [*range(30), *range(30)])  # toy words, each said twice


@pytest.mark.parametrize("argv", [
    ["map", "--model", "toy", "--trials", "3"],
    ["map", "--model", "toy", "--trials", "6", "--until-sem", "0.5"],
    ["map", "--model", "toy-gpt", "--setup", "repeat", "--trials", "2", "--segment", "8"],
    ["ablate", "--model", "toy", "--trials", "3", "--heads", "L1H0"],
    ["effects", "--model", "toy", "--trials", "3"],
    ["effects", "--model", "toy", "--trials", "6", "--until-sem", "0.5"],
    ["effects", "--model", "toy-gpt", "--setup", "repeat", "--trials", "2", "--segment", "8"],
    ["text", "--model", "toy", "--text", TEXT],
])
def test_no_cache_writes_nothing_in_any_mode(argv, fresh_cache):
    from induction.cache import ResultCache

    assert main([*argv, "--no-cache"]) == 0
    assert len(ResultCache(fresh_cache).store) == 0
    assert main(argv) == 0  # the same command with the cache on does write: the check above can fail
    assert len(ResultCache(fresh_cache).store) > 0


def test_effects_and_map_run_the_same_trials_for_a_folder_model(tmp_path):
    folder = tmp_path / "toy-copy"
    shutil.copytree(ROOT / "induction" / "toys" / "assets" / "toy", folder)
    assert main(["map", "--model", str(folder), "--trials", "3", "--json", str(tmp_path / "m.json"),
                 "--dump-trials", "--no-cache"]) == 0
    assert main(["effects", "--model", str(folder), "--trials", "3", "--json", str(tmp_path / "e.json"),
                 "--dump-trials", "--no-cache"]) == 0
    m, e = (json.loads((tmp_path / f"{n}.json").read_text()) for n in "me")
    assert m["segment"] == e["segment"]
    assert m["trials_dump"] == e["trials_dump"] and len(e["trials_dump"]) == 3


def test_the_effects_line_ranks_by_magnitude(capsys, tmp_path):
    assert main(["effects", "--model", "toy", "--trials", "8", "--json", str(tmp_path / "e.json")]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "largest effects" in x)
    printed = [float(part.split()[1].split("±")[0]) for part in line.split(": ", 1)[1].split(", ")]
    assert printed == sorted(printed, key=abs, reverse=True)
    effect = np.asarray(json.loads((tmp_path / "e.json").read_text())["effect"])
    assert abs(printed[0]) == pytest.approx(np.abs(effect).max(), abs=1e-4)


def test_no_cache_writes_nothing_for_icl_either(tmp_path, fresh_cache):
    from induction.cache import ResultCache

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for d in range(2):
        (corpus / f"doc{d}.txt").write_text(" ".join(f"t{(i * 7 + d) % 256:03d}" for i in range(40)) * 2)
    argv = ["icl", "--model", "toy-gpt", "--corpus", str(corpus), "--trials", "2", "--short", "10", "--long", "60"]
    assert main([*argv, "--no-cache"]) == 0
    assert len(ResultCache(fresh_cache).store) == 0
    assert main(argv) == 0
    assert len(ResultCache(fresh_cache).store) > 0
