"""Head roles through training: on the shipped series (being retrained: no score is hard-coded, only relations) the
K-composition from the previous-token heads into the induction head is reported per checkpoint, above the random
baseline at the final checkpoint and less (or not at all) at the first; a folder of step_N checkpoints is a series."""

from __future__ import annotations

import json
import shutil

import pytest

from induction.analyses.mechanism import mechanism_series
from induction.sweep import checkpoint_folders
from induction.training.series import shipped_series


def _excess(row: dict, strong_above: float) -> float:
    return row["k_composition_max"] - strong_above


@pytest.mark.parametrize("series", ["trained-gpt", "trained-bert"])
def test_k_composition_into_the_induction_head_forms_with_it(series, tmp_path, capsys):
    from induction.cli.parser import main

    out = tmp_path / "series.json"
    assert main(["roles", "--series", series, "--trials", "8", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    payload = json.loads(out.read_text())
    rows = payload["checkpoints"]
    assert len(rows) == len(checkpoint_folders(shipped_series(series)))  # every checkpoint, by step
    assert [r["step"] for r in rows] == sorted(r["step"] for r in rows)
    assert payload["induction_head"].startswith("L1") and payload["previous_token_heads"]  # 2 layers: L0 -> L1
    assert all(h.startswith("L0") for h in payload["previous_token_heads"])
    first, final = rows[0], rows[-1]
    assert [e["from"] for e in final["k_composition"]] == payload["previous_token_heads"]
    assert _excess(final, payload["strong_above"]) > 0  # the trained circuit: clearly above random matrices
    assert _excess(first, payload["strong_above"]) < _excess(final, payload["strong_above"])
    assert final["prefix_matching"] > first["prefix_matching"] and payload["appears"] is not None
    assert "K L0H" in printed and f"->{payload['induction_head']}" in printed and "appears" in printed


def test_a_folder_of_step_checkpoints_is_a_series_and_its_frame_holds_every_measure(tmp_path, capsys):
    from induction.cli.parser import main

    folder = tmp_path / "two"
    folder.mkdir()
    steps = checkpoint_folders(shipped_series("trained-gpt"))
    for checkpoint in (steps[0], steps[-1]):
        shutil.copytree(checkpoint, folder / checkpoint.name)
    assert main(["roles", "--model", str(folder), "--trials", "4"]) == 0
    assert "2 checkpoints" in capsys.readouterr().out
    frame = mechanism_series(str(folder), trials=4).to_frame()
    assert set(frame["measure"]) == {"role", "copying", "composition"} and frame["step"].nunique() == 2
    composition = frame[frame["measure"] == "composition"]
    assert composition["baseline"].notna().all() and composition["target"].str.startswith("K from L0H").all()
