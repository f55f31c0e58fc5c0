"""ICL score: the machinery on toy documents the toy understands, corpora, errors, CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from induction.analyses.icl import ICLConfig, icl_score, load_corpus
from induction.config import ConfigError, ModelLoadError

from .conftest import ROOT


def _words(ids) -> str:
    return " ".join(f"t{i:03d}" for i in ids)


def write_docs(folder, *, repeats: bool, n: int = 12, seed: int = 0):
    """Toy documents of 100+ tokens; with `repeats`, the later half repeats spans of the first half."""
    rng = np.random.default_rng(seed)
    folder.mkdir()
    for d in range(n):
        words = rng.choice(256, size=120, replace=False)
        if repeats:
            first = words[:50]
            later = []
            while len(later) < 70:
                start, length = int(rng.integers(0, 24)), int(rng.integers(8, 14))
                later.extend(first[start:start + length])
            words = np.concatenate([first, later[:70]])
        (folder / f"doc{d:02d}.txt").write_text(_words(words))
    return str(folder)


def config(corpus, **kw):
    return ICLConfig(model="toy", corpus=corpus, trials=12, seed=0, short=25, long=100, **kw)


def test_repeated_spans_give_a_positive_score_and_random_text_about_zero(tmp_path):
    rep = icl_score(config(write_docs(tmp_path / "rep", repeats=True)), use_cache=False)
    rnd = icl_score(config(write_docs(tmp_path / "rnd", repeats=False)), use_cache=False)
    assert rep.mean > 1.0 and rep.mean > 3 * rep.sem
    assert abs(rnd.mean) < 0.5
    assert rep.mean > rnd.mean + 1.0


def test_all_tokens_variant_and_curve(tmp_path):
    corpus = write_docs(tmp_path / "rep", repeats=True)
    res = icl_score(config(corpus, variant="all-tokens", curve=(25, 50, 100)), use_cache=False)
    assert len(res.per_trial) == 12 and np.isfinite(res.per_trial).all()
    assert set(res.curve) == {25, 50, 100}
    assert res.curve[100][0] < res.curve[25][0]  # more context (with the repeats) -> lower masked-token loss
    out = res.to_json()
    assert set(out) >= {"model", "corpus", "variant", "trials", "seed", "mean", "sem", "per_trial",
                        "skipped_documents", "curve"}


def test_too_few_documents_is_a_clear_error_unless_replacement(tmp_path):
    corpus = write_docs(tmp_path / "rep", repeats=True, n=3)
    with pytest.raises(ConfigError, match="has 3 documents of at least 100 tokens"):
        icl_score(config(corpus), use_cache=False)
    assert len(icl_score(config(corpus, replace=True), use_cache=False).per_trial) == 12


def test_short_documents_are_skipped_and_counted(tmp_path):
    corpus = tmp_path / "mixed"
    write_docs(corpus, repeats=True, n=12)
    (corpus / "short.txt").write_text(_words(range(10)))
    res = icl_score(config(str(corpus)), use_cache=False)
    assert res.skipped_documents == 1 and res.eligible_documents == 12


def test_model_without_mlm_head_is_refused():
    with pytest.raises(ModelLoadError, match="no trained masked-LM head"):
        icl_score(ICLConfig(model="minilm", trials=2), use_cache=False)


def test_python_docs_corpus_ships_with_python():
    docs = load_corpus("python-docs")
    assert len(docs) > 50 and sum(len(d.split()) > 400 for d in docs) >= 20


def test_bad_inputs(tmp_path):
    with pytest.raises(ConfigError, match="unknown corpus"):
        load_corpus(str(tmp_path / "nothing-here"))
    with pytest.raises(ConfigError, match="does not fit"):
        icl_score(ICLConfig(model="toy", short=50, long=500), use_cache=False)
    with pytest.raises(ConfigError, match="unknown variant"):
        icl_score(ICLConfig(model="toy", variant="half", short=20, long=100), use_cache=False)


def test_cli_icl_json(tmp_path):
    corpus = write_docs(tmp_path / "rep", repeats=True)
    out = tmp_path / "icl.json"
    proc = subprocess.run([sys.executable, "-m", "induction", "icl", "--model", "toy", "--corpus", corpus,
                           "--trials", "5", "--short", "25", "--long", "100", "--curve", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert len(data["per_trial"]) == 5 and data["variant"] == "masked"
    assert set(data["curve"]) == {"25", "50", "100"}


def test_wikipedia_offline_is_a_clear_error(monkeypatch):
    from induction.config import InductionError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(InductionError, match="not reachable from here; python-docs works offline"):
        load_corpus("wikipedia-simple")


def test_python_docs_has_documents_of_500_bert_tokens():
    """The offline default reaches the study's 500-token context with the standard uncased vocabulary."""
    from induction.analyses.icl import eligible
    from induction.engine import get_model

    kept, skipped = eligible(get_model("minilm"), load_corpus("python-docs"), 500)
    assert len(kept) >= 25 and all(len(ids) == 500 and ids[0] == 101 for ids in kept)
    assert skipped > 0


@pytest.mark.parametrize("variant", ["masked", "all-tokens"])
def test_loss_variants_match_the_masked_lm_loss_as_the_study_computed_it(variant):
    """all-tokens: labels are the original ids everywhere (mask included); masked: only the mask is labelled."""
    import torch

    from induction.analyses.icl import _loss
    from induction.engine import get_model

    model = get_model("toy")
    ids = np.asarray([101, *list(range(104, 143))], dtype=np.int64)  # [CLS] + 39 words, no final [SEP]
    pos = 7
    x = torch.tensor(ids).unsqueeze(0)
    x[0, pos] = 103
    labels = torch.tensor(ids).unsqueeze(0)
    if variant == "masked":
        labels = torch.full_like(labels, -100)
        labels[0, pos] = int(ids[pos])
    with torch.no_grad():
        expected = float(model.mlm(input_ids=x, labels=labels).loss)
    assert _loss(model, ids, pos, variant) == pytest.approx(expected, rel=1e-5)


def test_a_corpus_the_tokenizer_cannot_read_is_refused():
    from induction.analyses.icl import ICLConfig, icl_score

    with pytest.raises(ConfigError, match="unknown to the tokenizer of 'toy': it cannot read this corpus"):
        icl_score(ICLConfig(model="toy", corpus="python-docs", trials=2, short=20, long=100), use_cache=False)


def _repeating_corpus(folder, docs: int = 6, seed: int = 0):
    """Documents of toy-gpt's words: a random segment of 40 distinct words said three times."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for d in range(docs):
        words = [f"t{i:03d}" for i in rng.choice(256, 40, replace=False)]
        (folder / f"doc{d}.txt").write_text(" ".join(words * 3))
    return str(folder)


def test_icl_on_a_decoder_is_olssons_next_token_score_with_its_sign(tmp_path):
    from induction.analyses.icl import NEXT_TOKEN_SIGN, ICLConfig, icl_score

    corpus = _repeating_corpus(tmp_path / "corpus")
    result = icl_score(ICLConfig(model="toy-gpt", corpus=corpus, trials=6, short=20, long=100), use_cache=False)
    assert result.config.variant == "next-token"  # the decoder's own default
    assert result.definition == "loss(token 100) - loss(token 20)" and result.sign == NEXT_TOKEN_SIGN
    # token 20 is in the first copy (no context can predict it: ln 256 nats), token 100 in the third (copied)
    assert result.mean < -4.0
    payload = result.to_json()
    assert payload["definition"] == result.definition and "negative when more context helps" in payload["sign"]


def test_icl_on_a_decoder_agrees_with_losses_read_by_hand(tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from induction.analyses.icl import ICLConfig, icl_score
    from induction.models.loading import resolve

    corpus = _repeating_corpus(tmp_path / "corpus", docs=2)
    result = icl_score(ICLConfig(model="toy-gpt", corpus=corpus, trials=2, short=10, long=60, seed=1),
                       use_cache=False)
    path = resolve("toy-gpt")[0]
    model, tok = AutoModelForCausalLM.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)
    expected = []
    for name in sorted((tmp_path / "corpus").glob("*.txt")):
        ids = torch.tensor([[tok.bos_token_id, *tok(name.read_text(), add_special_tokens=False)["input_ids"][:59]]])
        with torch.no_grad():
            logits = model(input_ids=ids).logits[0]
        loss = torch.nn.functional.cross_entropy(logits[:-1], ids[0, 1:], reduction="none")
        expected.append(float(loss[58] - loss[8]))  # token 60's loss minus token 10's
    assert sorted(np.round(result.per_trial, 4)) == sorted(np.round(expected, 4))


def test_icl_refusals_on_a_decoder_say_what_works():
    from induction.analyses.icl import ICLConfig, icl_score

    with pytest.raises(ConfigError, match="its ICL variants are next-token"):
        icl_score(ICLConfig(model="toy-gpt", variant="masked"), use_cache=False)
    with pytest.raises(ConfigError, match=r"does not fit the 128 positions of 'toy-gpt': choose a long context .* "
                                          r"at most 128"):
        icl_score(ICLConfig(model="toy-gpt"), use_cache=False)  # the study's 50/500
    with pytest.raises(ConfigError, match="next-token is for decoder-only models"):
        icl_score(ICLConfig(model="toy", variant="next-token"), use_cache=False)


def test_a_model_trained_here_is_scored_on_held_out_documents_it_never_read():
    """The trained models read python-docs' training topics: by default their ICL reads only the held-out ones
    (restated here: a topic is held out when sha256(name) % 5 == 0), and the JSON names each trial's document."""
    import hashlib

    from induction.analyses.icl import resolve_icl

    result = icl_score(ICLConfig(model="trained-gpt", short=6, long=60, trials=20), use_cache=False)
    assert result.config.corpus == "python-docs-held-out"
    topics = {name.split("#")[0] for name in result.documents}
    assert len(result.documents) == 20 and len(topics) >= 3
    assert all(int(hashlib.sha256(t.encode()).hexdigest(), 16) % 5 == 0 for t in topics)
    data = result.to_json()
    assert data["documents"] == result.documents and "sha256" in data["held_out_rule"]
    # a model not trained here: the whole corpus
    assert resolve_icl(ICLConfig(model="toy", short=10, long=100))[0].corpus == "python-docs"
    seen = icl_score(ICLConfig(model="trained-gpt", corpus="python-docs", short=6, long=60, trials=20))
    assert seen.config.corpus == "python-docs" and seen.to_json()["held_out_rule"] is None


def test_a_checkpoint_written_by_induction_train_anywhere_counts_as_trained_here(tmp_path):
    import shutil

    from induction.analyses.icl import resolve_icl
    from induction.training.series import shipped_series

    shutil.copytree(shipped_series("trained-bert") / "step_0", tmp_path / "run" / "step_0")
    config = ICLConfig(model=str(tmp_path / "run" / "step_0"), short=6, long=60)
    assert resolve_icl(config)[0].corpus == "python-docs"
    shutil.copy(shipped_series("trained-bert") / "training_log.json", tmp_path / "run")
    assert resolve_icl(config)[0].corpus == "python-docs-held-out"


# issue 40: the curve's draws, one sign, the fit error's advice, no Hub default


@pytest.mark.parametrize(("model", "variant"), [("toy", "masked"), ("toy", "all-tokens"), ("toy-gpt", None)])
def test_asking_for_a_curve_leaves_the_headline_trials_bit_identical(tmp_path, model, variant):
    """Item 1: the curve draws its documents and positions from its own generator, so every trial of the headline is
    the same with and without it (before, the curve's masked positions came from the trials' generator)."""
    corpus = write_docs(tmp_path / "rep", repeats=True)
    plain = icl_score(ICLConfig(model=model, corpus=corpus, variant=variant, trials=12, short=25, long=60),
                      use_cache=False)
    with_curve = icl_score(ICLConfig(model=model, corpus=corpus, variant=variant, trials=12, short=25, long=60,
                                     curve=(25, 50, 100)), use_cache=False)
    assert np.array_equal(plain.per_trial, with_curve.per_trial)
    assert plain.mean == with_curve.mean and set(with_curve.curve) == {25, 50, 100}


def test_the_headline_of_a_trained_model_is_the_same_with_and_without_the_cli_curve(tmp_path, capsys):
    """Item 1 on the issue's own example (trained-bert on python-docs), through the CLI's --curve."""
    from induction.cli import main

    outs = []
    for extra in ([], ["--curve"]):
        out = tmp_path / f"icl{len(extra)}.json"
        assert main(["icl", "--model", "trained-bert", "--trials", "8", "--short", "6", "--long", "60", "--no-cache",
                     "--json", str(out), *extra]) == 0
        outs.append(json.loads(out.read_text()))
    assert outs[0]["per_trial"] == outs[1]["per_trial"] and outs[0]["gain"] == outs[1]["gain"]
    assert "curve" in outs[1] and "curve" not in outs[0]


def test_the_gain_has_one_sign_for_both_kinds():
    """Item 3: `mean` keeps each variant's convention (a decoder's next-token score is negative when context helps);
    `gain` is the loss saved by the longer context, positive when context helps, for an encoder and a decoder."""
    gpt = icl_score(ICLConfig(model="trained-gpt", trials=10, short=6, long=60), use_cache=False)
    bert = icl_score(ICLConfig(model="trained-bert", trials=10, short=6, long=60), use_cache=False)
    assert gpt.config.variant == "next-token" and bert.config.variant == "masked"
    assert gpt.mean < 0 < gpt.gain and bert.mean > 0 and bert.gain > 0  # context helps both
    np.testing.assert_array_equal(gpt.gain_per_trial, -gpt.per_trial)
    np.testing.assert_array_equal(bert.gain_per_trial, bert.per_trial)
    for result in (gpt, bert):
        out = result.to_json()
        assert out["gain"] == result.gain and out["sem"] == result.sem and "positive when" in out["gain_definition"]


def _suggested(message: str) -> tuple[int, int]:
    import re

    match = re.search(r"short=(\d+), long=(\d+)", message)
    assert match, message
    return int(match.group(1)), int(match.group(2))


@pytest.mark.parametrize("model", ["trained-gpt", "trained-bert"])
def test_the_fit_error_suggests_lengths_that_fit_and_they_work(model):
    """Item 4: the suggestion is computed from the model's positions (not a fixed 10/100, which fails on 64
    positions), in a Python caller's terms, and the suggested config runs."""
    with pytest.raises(ConfigError, match="does not fit the 64 positions") as refused:
        icl_score(ICLConfig(model=model, trials=3), use_cache=False)
    assert "--" not in str(refused.value)
    short, long = _suggested(str(refused.value))
    assert long <= 64 and short < long
    result = icl_score(ICLConfig(model=model, trials=3, short=short, long=long), use_cache=False)
    assert len(result.per_trial) == 3 and np.isfinite(result.gain)


def test_the_cli_fit_error_gives_flags_that_work(tmp_path, capsys):
    """Item 4 for the command line: the same advice as flags, and those flags run."""
    import re

    from induction.cli import main

    assert main(["icl", "--model", "trained-gpt", "--trials", "2", "--no-cache"]) == 2
    err = capsys.readouterr().err
    match = re.search(r"--short (\d+) --long (\d+)", err)
    assert match and "short=" not in err, err
    assert main(["icl", "--model", "trained-gpt", "--trials", "2", "--no-cache", "--short", match.group(1),
                 "--long", match.group(2)]) == 0
    assert "gain:" in capsys.readouterr().out


def test_icl_config_names_its_model():
    """Item 4: no default model (the old one, bert-base, needed the Hub); the CLI asks for --model too."""
    from induction.cli.parser import build_parser

    with pytest.raises(TypeError, match="model"):
        ICLConfig()
    with pytest.raises(SystemExit):
        build_parser().parse_args(["icl"])


def test_the_icl_page_proposes_held_out_text_for_a_checkpoint_named_without_a_path(fresh_cache):
    """A checkpoint of a series trained here, named `trained-gpt@step_500` (the name a click on Training dynamics
    opens), is scored on the held-out topics like its series' final model; a depth series too; a model trained
    elsewhere on python-docs. The page's corpus box proposes the same, and warns when the training text is typed."""
    from induction.analyses.icl import default_corpus

    from .page_checks import open_page

    assert default_corpus("trained-gpt@step_500") == default_corpus("trained-bert-4x4") == "python-docs-held-out"
    assert default_corpus("toy") == "python-docs" and default_corpus("no-such-model") == "python-docs"
    at = open_page("views/icl.py", model="trained-gpt@step_500", trials=5)
    assert at.text_input(key="icl_corpus").value == "python-docs-held-out"
    at.text_input(key="icl_corpus").set_value("python-docs-train").run()
    assert any("text it has seen" in w.value for w in at.warning)
