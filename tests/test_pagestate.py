"""Every page x kind x view setup: what the page runs is what the compatibility matrix allows, or the page says it
does not apply, in words (no CLI flag). Issue 39, build 1: page state that follows the model."""

from __future__ import annotations

import re

import pytest

from dashboard.pagestate import PAGE_COMMANDS, fit
from induction.compatibility import TAKES_SETUP, reason
from induction.config import MODEL_KINDS, SETUPS, UNITS, targets_for

from .conftest import ROOT

PAGES = re.findall(r'url_path="(\w+)"', (ROOT / "app.py").read_text())


def test_every_page_of_the_navigation_declares_its_command():
    assert set(PAGES) == set(PAGE_COMMANDS)


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_a_page_runs_only_what_the_matrix_allows_and_says_so_once(page, kind):
    for setup in SETUPS:
        for unit in UNITS:
            if unit == "word" and setup != "standard":
                continue  # the view never holds it (the sidebar's word unit is the standard setup's)
            target = targets_for(setup, unit)[-1]
            got = fit(page, kind, setup, target, unit, model="m")
            command = PAGE_COMMANDS[page]
            assert got.note is None or "--" not in got.note  # words, never a CLI flag
            if command is None:
                assert (got.setup, got.target, got.note, got.runs) == (setup, target, None, True)
                continue
            if not got.runs:
                assert got.note and "applies to encoders only" in got.note
                continue
            allowed = reason(command, kind, got.setup if command in TAKES_SETUP else None, got.unit)
            assert allowed is None, (page, kind, setup, unit, got)
            assert got.target in targets_for(got.setup, got.unit)
            changed = (got.setup, got.target, got.unit) != (setup, target, unit)
            assert changed == (got.note is not None)  # a change is said; an unchanged view says nothing


def test_the_known_cases_of_the_walk():
    masks = fit("masks", "causal", "repeat", "induction", model="trained-gpt")
    assert not masks.runs and "applies to encoders only" in masks.note and "--" not in masks.note
    effects = fit("effects", "encoder", "repeat", "induction", model="toy")
    assert (effects.setup, effects.target) == ("standard", "prev") and "standard setup" in effects.note
    assert fit("masks", "encoder", "triple", "later").note is None
    assert fit("reproduce", "causal", "repeat", "induction").note is None  # the BERT sizes, whatever the view
