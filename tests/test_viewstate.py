"""URL query parameters <-> view state: round trips, and hostile links fall back with notices."""

from __future__ import annotations

import pytest

from dashboard.viewstate import ViewState, from_query


def test_round_trip_of_a_full_state():
    state = ViewState(model="prajjwal1/bert-small", setup="triple", protocol="paper", target="later", trials=120,
                      seed=7, segment=90, layer=3, head=5, rescale=True, ablate=((1, 2), (0, 3)), mode="mean")
    parsed, notices = from_query(state.to_query())
    assert parsed == state and notices == []


def test_defaults_when_empty():
    state, notices = from_query({})
    assert state == ViewState() and notices == []


@pytest.mark.parametrize("params, fragment", [
    ({"trials": "1000000000"}, "trials=1000000000: must be between"),
    ({"trials": "-3"}, "ignored trials=-3: must be between 1 and"),
    ({"trials": "ten"}, "write a whole number"),
    ({"seed": "1e9"}, "write a whole number"),
    ({"segment": "0"}, "segment=0"),
    ({"setup": "quadruple"}, "choose one of standard"),
    ({"target": "sideways"}, "target='sideways'"),
    ({"protocol": "x" * 5000}, "protocol="),
    ({"model": "../../etc"}, "not a model name"),
    ({"model": "/etc/passwd"}, "not a model name"),
    ({"model": "a" * 5000}, "not a model name"),
    ({"model": "bert base; rm -rf"}, "not a model name"),
    ({"layer": "3"}, "both layer and head"),
    ({"layer": "x", "head": "1"}, "layer='x'"),
    ({"ablate": "L1H1,bogus"}, "ablate entry 'bogus'"),
    ({"mode": "half"}, "mode='half'"),
    ({"page": "1", "utm_source": "x"}, "unknown parameter"),
])
def test_malformed_parameters_fall_back_with_a_notice(params, fragment):
    state, notices = from_query(params)
    assert any(fragment in n for n in notices), notices
    default = ViewState()
    for name in params:
        if name in ("layer", "head"):
            assert state.layer is None and state.head is None
        elif name == "ablate":
            assert state.ablate == ((1, 1),)
        elif hasattr(default, name):
            assert getattr(state, name) == getattr(default, name)


def test_target_follows_the_setup():
    state, notices = from_query({"setup": "shuffled"})
    assert state.target == "left_match" and notices == []


def test_allow_list_and_caps():
    state, notices = from_query({"model": "my-org/huge", "trials": "500"}, allowed_models=("toy", "base"),
                                max_trials=200)
    assert state.model == "toy" and state.trials == 50
    assert any("this server offers toy, base" in n for n in notices)


def test_text_and_document_in_a_link():
    from dashboard.viewstate import MAX_LINK_TEXT

    state, notices = from_query({"text": "t001 t002 t001", "doc": "for"})
    assert (state.text, state.doc, notices) == ("t001 t002 t001", "for", [])
    assert state.to_query()["doc"] == "for" and "text" not in state.to_query()  # the document wins
    state, notices = from_query({"text": "x" * (MAX_LINK_TEXT + 1), "doc": "../etc"})
    assert state.text == "" and state.doc == "" and len(notices) == 2


def test_page_only_settings_stay_out_of_other_pages_links():
    state = ViewState(ablate=((1, 0),), mode="mean", pair=(0, 1), doc="for", masks=2, span="contiguous",
                      model2="toy-gpt", seed2=3, trial=2)
    assert {"ablate", "mode"} <= set(state.to_query("ablation")) and "pair" not in state.to_query("ablation")
    assert {"pair", "mode"} <= set(state.to_query("effects")) and "ablate" not in state.to_query("effects")
    assert {"masks", "span", "trial"} <= set(state.to_query("map"))  # the Map page honours K masks
    assert "doc" in state.to_query("text") and "doc" not in state.to_query("map")
    assert {"model2", "seed2"} <= set(state.to_query("compare"))
    shared = state.to_query("sizes")
    assert not {"ablate", "mode", "pair", "doc", "masks", "span", "model2", "seed2", "trial"} & set(shared)
    assert shared["model"] == "toy" and {"ablate", "pair", "model2"} <= set(state.to_query())  # no page: all


def test_compare_parameters_round_trip_and_fall_back():
    state = ViewState(model2="toy-gpt", setup2="repeat", seed2=4)
    parsed, notices = from_query(state.to_query("compare"))
    assert parsed == state and notices == []
    parsed, notices = from_query({"model2": "../x", "setup2": "sideways", "seed2": "-1"})
    assert (parsed.model2, parsed.setup2, parsed.seed2) == ("", "", None) and len(notices) == 3
    assert any(n.startswith("ignored model2=") for n in notices)
