"""Issue 40, one vocabulary: docs/method.md's glossary is generated from the Literal types and the JSON keys, and
every key of every JSON the command line writes (each command run on toy, toy-gpt or a model trained here) has its
one meaning there."""

from __future__ import annotations

import json

import pytest

from induction.glossary import JSON_KEYS, covered, glossary_markdown, names

from .conftest import ROOT, assert_generated_doc

TEXT = " ".join(f"t{i:03d}" for i in [*range(100, 130), *range(100, 130)])
COMMANDS = {
    "map-encoder": ["map", "--model", "toy", "--dump-trials"],
    "map-decoder": ["map", "--model", "toy-gpt", "--dump-trials"],
    "map-masks": ["map", "--model", "toy", "--masks", "2"],
    "ablate": ["ablate", "--model", "toy", "--heads", "L1H0"],
    "effects": ["effects", "--model", "toy", "--pairs-with", "L1H0", "--dump-trials"],
    "effects-decoder": ["effects", "--model", "toy-gpt"],
    "roles-encoder": ["roles", "--model", "toy"],
    "roles-decoder": ["roles", "--model", "toy-gpt"],
    "roles-series": ["roles", "--series", "trained-gpt"],
    "text-encoder": ["text", "--model", "toy", "--text", TEXT, "--dump-trials"],
    "text-decoder": ["text", "--model", "toy-gpt", "--text", TEXT],
    "sweep": ["sweep", "--models", "toy,toy-gpt,no-org/no-model"],
    "sweep-depth": ["sweep", "--depth", "--models", "trained-gpt-2x4,trained-bert-2x4"],
    "icl-decoder": ["icl", "--model", "trained-gpt", "--short", "6", "--long", "60", "--curve"],
    "icl-encoder": ["icl", "--model", "trained-bert", "--short", "6", "--long", "60", "--variant", "all-tokens"],
    "reproduce": ["reproduce", "--models", "tiny", "--icl-corpus", "python-docs"],
}
TRIALS = {"text-encoder": [], "text-decoder": []}  # text has no --trials


def _keys(value, found: set) -> set:
    if isinstance(value, dict):
        for key, inner in value.items():
            found.add(key)
            _keys(inner, found)
    elif isinstance(value, list):
        for inner in value:
            _keys(inner, found)
    return found


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_json_key_the_cli_writes_is_in_the_glossary(name, tmp_path, capsys, fresh_cache, monkeypatch):
    from induction.cli import main

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = tmp_path / f"{name}.json"
    trials = TRIALS.get(name, ["--trials", "2"])
    code = main([*COMMANDS[name], *trials, "--json", str(out)])
    assert code in (0, 1), capsys.readouterr().err  # sweep: its unknown model fails its task, the rest run
    keys = _keys(json.loads(out.read_text()), set())
    missing = sorted(k for k in keys if not covered(k))
    assert not missing, f"{name}: JSON keys without a glossary entry: {missing}"


def test_the_glossary_in_the_docs_is_generated_from_the_literals_and_keys():
    method = ROOT / "docs" / "method.md"
    marker = "<!-- glossary: generated, do not edit by hand -->\n"
    head = method.read_text().split(marker)[0]
    assert_generated_doc(method, head + marker + glossary_markdown())


def test_one_spelling_a_concept():
    """Item 5: a role and a target with the same meaning are spelled alike; the induction role is not named like
    the repeat target it does not measure for an encoder."""
    listed = names()
    assert "previous_token" in listed["role"] and "previous_token" in listed["target (per setup)"]
    assert not any("-" in role for role in listed["role"])
    assert "induction" not in listed["role"] and "prefix_matching" in listed["role"]
    assert all(" " not in key and key == key.lower() for key in JSON_KEYS)


def test_an_encoders_prefix_matching_is_its_standard_prev_not_the_repeat_induction_target():
    """Item 5: an encoder's induction head (the toy's L1H0) is one by the standard map's `prev`; the repeat map's
    `induction` target reads another position. The role says what it measures, and old spellings still read."""
    import numpy as np

    from induction.analyses.roles import head_roles
    from induction.config import MapConfig
    from induction.engine import compute_map

    roles = head_roles("toy", trials=6)
    standard = compute_map(MapConfig(model="toy", setup="standard", trials=6))
    np.testing.assert_array_equal(roles.scores["prefix_matching"], standard.mean("prev"))
    np.testing.assert_array_equal(roles.scores["induction"], roles.scores["prefix_matching"])  # the old spelling
    np.testing.assert_array_equal(roles.scores["previous-token"], roles.scores["previous_token"])
    assert "prefix_matching" in roles.roles(1, 0)


def test_heads_loss_clean_and_targets_mean_one_thing_each():
    """Item 6: JSON `heads` was an int (map, effects), a list of names (ablate), a list of dicts (roles);
    `loss_clean` per trial in EffectsResult, a scalar in its JSON; the map JSON's `targets` held scores."""
    from induction.analyses.ablation import ablate
    from induction.analyses.effects import effects
    from induction.analyses.roles import head_roles
    from induction.config import MapConfig
    from induction.engine import compute_map

    config = MapConfig(model="toy", trials=3)
    result = compute_map(config, use_cache=False)
    effect = effects(config, use_cache=False)
    ablation = ablate(config, "L1H0", use_cache=False)
    roles = head_roles("toy", trials=3)
    for payload in (result.to_json(), effect.to_json(), ablation.to_json(), roles.to_json()):
        assert payload["heads"] == 2 and payload["layers"] == 2
    assert result.to_json()["targets"] == list(result.targets)  # names, as InductionMap.targets
    assert result.to_json()["mean"]["prev"] == result.mean("prev").round(6).tolist()
    for loss in (effect.loss_clean, ablation.loss_clean, effect.to_json()["loss_clean"],
                 ablation.to_json()["loss_clean"]):
        assert isinstance(loss, float)
    assert effect.loss_clean == ablation.loss_clean  # the same clean loss on the same trials
    assert ablation.to_json()["ablated_heads"] == ["L1H0"]
    assert [h["name"] for h in roles.to_json()["per_head"]] == ["L0H0", "L0H1", "L1H0", "L1H1"]
