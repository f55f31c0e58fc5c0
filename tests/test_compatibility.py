"""Every command on every kind of model, setup, unit and capture path: each cell runs with a checked answer on a
small model of that kind and path, or is refused before any compute with a one-line reason. The walk writes
docs/compatibility.md (regenerate with INDUCTION_UPDATE_DOCS=1) and fails when the committed file is stale."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from induction.compatibility import COMMANDS, cells, reason
from induction.config import InductionError, MapConfig

from .conftest import ROOT, assert_generated_doc

CELLS = cells()
RESULTS: dict[tuple, str] = {}  # cell -> "runs" or the refusal, filled by the walk
DOC = ROOT / "docs" / "compatibility.md"
TRIALS, SEGMENT = 2, 6
ENGLISH = "the cat sat on the mat because the cat liked the mat and the dog sat on the rug " * 2


def _minilm_tokenizer(out):
    from transformers import AutoTokenizer

    from induction.models.loading import resolve

    AutoTokenizer.from_pretrained(resolve("minilm")[0]).save_pretrained(out)  # real WordPiece: words work


def _encoder(root, family: str) -> str:
    import transformers
    from transformers import AutoConfig

    config = AutoConfig.for_model(family, vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                  intermediate_size=64, max_position_embeddings=128, pad_token_id=0,
                                  hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, initializer_range=0.2)
    torch.manual_seed(0)
    model = getattr(transformers, "BertForMaskedLM" if family == "bert" else "DebertaV2ForMaskedLM")(config)
    model.config.architectures = [type(model).__name__]
    model.save_pretrained(root / family)
    _minilm_tokenizer(root / family)
    return str(root / family)


def _gpt_neo(root) -> str:
    from transformers import AutoTokenizer, GPTNeoConfig, GPTNeoForCausalLM

    from induction.models.loading import resolve

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(resolve("toy-gpt")[0])
    model = GPTNeoForCausalLM(GPTNeoConfig(vocab_size=len(tok), hidden_size=32, num_layers=2, num_heads=4,
                                           attention_types=[[["global"], 2]], max_position_embeddings=128,
                                           bos_token_id=tok.bos_token_id, eos_token_id=tok.bos_token_id))
    model.config.architectures = ["GPTNeoForCausalLM"]
    model.save_pretrained(root / "gpt-neo")
    tok.save_pretrained(root / "gpt-neo")
    return str(root / "gpt-neo")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """(kind, capture path) -> a small model folder or name of that kind read through that path."""
    root = tmp_path_factory.mktemp("matrix")
    return {("encoder", "interface"): _encoder(root, "bert"), ("encoder", "fallback"): _encoder(root, "deberta-v2"),
            ("causal", "interface"): "toy-gpt", ("causal", "fallback"): _gpt_neo(root)}


def _corpus(tmp_path, kind: str) -> str:
    folder = tmp_path / "corpus"
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    for d in range(3):
        words = (ENGLISH.split() if kind == "encoder" else [f"t{i:03d}" for i in rng.choice(256, 30, replace=False)])
        (folder / f"doc{d}.txt").write_text(" ".join(words * 3))
    return str(folder)


def _reference_rows(model: str, batch, setup: str):
    from induction.models.loading import resolve
    from induction.reference import load_eager, straightforward_scores

    return straightforward_scores(load_eager(resolve(model)[0]), batch, setup)


def _run(command, kind, setup, unit, model, tmp_path) -> None:
    """Run one cell and check its answer (a reference, an identity that could fail, or a known answer)."""
    from induction.analyses.ablation import ablate
    from induction.analyses.effects import effects
    from induction.analyses.icl import ICLConfig, icl_score
    from induction.analyses.mosaic import tile
    from induction.analyses.text_map import TextConfig, prepare, text_map
    from induction.engine import compute_map, get_model, make_trials
    from induction.study.reproduce import reproduce
    from induction.sweep import run_sweep, tasks_for

    config = MapConfig(model=model, setup=setup or "standard", trials=TRIALS, segment=SEGMENT, seed=1,
                       unit="word" if command == "words" else unit, masks=2 if command == "masks" else 1)
    if command in ("map", "masks"):
        result = compute_map(config, use_cache=False)
        expected = _reference_rows(model, make_trials(result.config, get_model(model)), config.setup)
        for target, ref in expected.items():
            np.testing.assert_allclose(result.per_trial[target], ref, atol=1e-5, rtol=0, err_msg=target)
    elif command == "words" or (command == "map" and unit == "word"):
        result = compute_map(config, use_cache=False)
        assert (result.mean("prev_word") >= result.mean("prev_piece") - 1e-6).all()  # a word holds its piece
    elif command == "ablate":
        result = ablate(config, ["L1H1"], use_cache=False)
        for target in result.clean.targets:  # nothing but the ablated head of the last layer can change
            ablated, clean = result.ablated(target), result.clean.mean(target)
            assert np.isnan(ablated[1, 1])
            keep = ~np.isnan(ablated)
            np.testing.assert_allclose(ablated[keep], clean[keep], atol=1e-6, err_msg=target)
    elif command == "effects":
        result = effects(config, use_cache=False)
        one = ablate(config, ["L0H1"], use_cache=False)
        assert result.effect[0, 1] == pytest.approx(one.loss_ablated - one.loss_clean, abs=1e-4)
    elif command == "text":
        text = ENGLISH if kind == "encoder" else " ".join(f"t{i:03d}" for i in [*range(20), *range(20)])
        text_config = TextConfig(model=model, text=text, max_occurrences=6)
        result = text_map(text_config, use_cache=False)
        batches = prepare(text_config)[1]
        ref = [_reference_rows(model, b, "standard") for b in batches]
        for target in result.targets:
            np.testing.assert_allclose(result.per_trial[target], np.concatenate([r[target] for r in ref]),
                                       atol=1e-5, rtol=0, err_msg=target)
    elif command == "icl":
        result = icl_score(ICLConfig(model=model, corpus=_corpus(tmp_path, kind), trials=3, short=8, long=60,
                                     replace=True), use_cache=False)
        assert result.config.variant == ("next-token" if kind == "causal" else "masked")
        assert np.isfinite(result.per_trial).all() and len(result.per_trial) == 3
        assert result.to_json()["definition"] == result.definition
    elif command == "mosaic":
        mine = tile(config, config.targets()[0], compute=True)
        np.testing.assert_array_equal(mine.mean, compute_map(config).mean(config.targets()[0]))
    elif command == "sweep":
        rows = run_sweep(tasks_for([model], [config.setup], [1], protocol="clean", trials=TRIALS, segment=SEGMENT),
                         use_cache=False)["runs"]
        best = compute_map(config, use_cache=False).top_heads(config.targets()[0], 1)[0]
        assert rows[0]["status"] == "ok" and rows[0]["top_head"] == best.name
    elif command == "reproduce":
        result = reproduce({"tiny": model}, trials=TRIALS, icl_corpus=_corpus(tmp_path, kind), icl_trials=2,
                           use_cache=False)
        assert not result.failed  # a 128-position model cannot hold the paper's segment: rows say so, nothing fails
        assert all(r["status"] in ("match", "differs", "not run") and r["reason"] for r in result.rows)
    else:
        raise AssertionError(f"no check for {command}")


@pytest.mark.parametrize("cell", CELLS, ids=["-".join(str(x) for x in c) for c in CELLS])
def test_every_cell_runs_with_a_checked_answer_or_is_refused_before_compute(cell, models, tmp_path, monkeypatch):
    command, kind, setup, unit, path = cell
    why = reason(command, kind, setup, unit)
    model = models[(kind, path)]
    if why is None:
        _run(command, kind, setup, unit, model, tmp_path)
        RESULTS[cell] = "runs"
        return
    from induction import engine

    def no_compute(*args, **kwargs):
        raise AssertionError("a refused cell reached the model")

    monkeypatch.setattr(engine, "capture", no_compute)
    monkeypatch.setattr(engine, "model_for", no_compute)
    if command == "reproduce":  # the reproduction reports a model it cannot run in its rows, as for a missing one
        from induction.study.reproduce import reproduce

        rows = reproduce({"tiny": model}, trials=TRIALS, icl_trials=2, use_cache=False).rows
        assert all(r["status"] == "not run" for r in rows if r["model"] == "tiny")
        assert any(r["reason"] == why for r in rows), why
        RESULTS[cell] = why
        return
    with pytest.raises(InductionError) as refused:
        _run(command, kind, setup, unit, model, tmp_path)
    message = str(refused.value)
    assert "\n" not in message and len(message) < 400, message
    RESULTS[cell] = why


def matrix(results: dict[tuple, str]) -> str:
    """docs/compatibility.md from what the walk found."""
    lines = ["# Compatibility: every command on every kind of model", "",
             "Generated by `tests/test_compatibility.py` from the config's own `Literal`s (regenerate:",
             "`INDUCTION_UPDATE_DOCS=1`). Each cell ran on a small model of that kind read through that capture",
             "path (encoder: a random BERT or DeBERTa-v2; causal: toy-gpt or a random GPT-Neo) and its answer was",
             "checked (agreement with the eager reference, an identity of the method, or a known answer), or it was",
             "refused before any compute with the reason shown. The rules live in `induction/compatibility.py`.",
             "Both capture paths give the same answer in every cell (interface | fallback).", ""]
    for command in COMMANDS:
        rows = sorted({(k, s, u) for (c, k, s, u, _) in results if c == command}, key=str)
        lines += [f"## {command}", "", "| kind | setup | unit | interface | fallback |", "|---|---|---|---|---|"]
        for kind, setup, unit in rows:
            got = [results[(command, kind, setup, unit, p)] for p in ("interface", "fallback")]
            show = ["runs" if g == "runs" else f"refused: {g}" for g in got]
            lines.append(f"| {kind} | {setup or '-'} | {unit} | {show[0]} | {show[1]} |")
        lines.append("")
    return "\n".join(lines)


def test_the_matrix_in_the_docs_is_what_the_walk_found():
    if len(RESULTS) != len(CELLS):
        pytest.skip("the matrix needs every cell's test to have run in this session")
    assert_generated_doc(DOC, matrix(RESULTS))
