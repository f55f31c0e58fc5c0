"""`reproduce`: the table's wiring end to end on small random stand-ins, offline rows that say why, the
verdict rules, and the fidelity fixes (dtype, ICL contexts and sampling, the paper protocol's id range)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from induction.config import ConfigError, MapConfig
from induction.engine import compute_map, get_model
from induction.models.loading import default_dtype
from induction.study import reproduce as rep
from induction.study.reported import REPORTED, Reported, judge_head

from .conftest import ROOT

SHAPES = {"tiny": (2, 2), "small": (4, 8), "medium": (8, 8), "base": (12, 12), "large": (24, 16)}


def stand_in(out, layers: int, heads: int):
    """A random BertForMaskedLM of the size's depth and width in heads, with the standard uncased vocabulary."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForMaskedLM

    from induction.models.loading import resolve

    torch.manual_seed(layers * 100 + heads)
    config = BertConfig(num_hidden_layers=layers, num_attention_heads=heads, hidden_size=2 * heads,
                        intermediate_size=4 * heads)
    model = BertForMaskedLM(config)
    model.config.architectures = ["BertForMaskedLM"]
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(resolve("minilm")[0]).save_pretrained(out)
    return str(out)


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory):
    root = tmp_path_factory.mktemp("sizes")
    return {size: stand_in(root / size, *shape) for size, shape in SHAPES.items()}


def test_offline_every_row_is_not_run_with_its_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty Hugging Face cache
    out = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, "-m", "induction", "reproduce", "--json", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr  # nothing that could start failed
    rows = json.loads(out.read_text())["rows"]
    assert len(rows) == len(REPORTED)
    assert {r["status"] for r in rows} == {"not run"}
    assert all(r["measured_score"] is None and "could not load model" in r["reason"] for r in rows)
    assert set(rows[0]) >= {"experiment", "model", "target", "reported_head", "reported_score", "measured_head",
                            "measured_score", "status", "reason"}
    assert "13 not run" in proc.stdout


def test_stand_ins_wire_every_row_to_the_right_measurement(stand_ins, fresh_cache):
    result = rep.reproduce(stand_ins, trials=3, icl_corpus="python-docs", icl_trials=2)
    assert not result.failed and len(result.rows) == len(REPORTED)
    for row, reported in zip(result.rows, REPORTED, strict=True):
        assert (row["model"], row["target"], row["reported_score"]) == (reported.model, reported.target,
                                                                       reported.score)
        if reported.experiment == "icl":  # measured on python-docs: a real number, marked not comparable
            assert row["status"] == "not run" and "not comparable" in row["reason"]
            assert isinstance(row["measured_score"], float)
            continue
        assert row["status"] in ("match", "differs")
        measured = compute_map(MapConfig(model=stand_ins[reported.model], protocol="paper", trials=3))
        assert measured.cached  # the reproduction's own map, from the cache
        top = measured.top_heads(reported.target, 50)
        if reported.head is None:
            assert row["measured_head"] == top[0].name
        else:
            layer, head = (int(x) for x in reported.head[1:].split("H"))
            assert row["measured_score"] == pytest.approx(float(measured.mean(reported.target)[layer, head]))
            assert row["measured_head"] == top[reported.rank - 1].name
    assert result.measured["base"]["shuffled"]["sum"]["head"].startswith("L")  # every experiment ran


def test_a_run_that_fails_is_reported_and_the_others_still_run(stand_ins, monkeypatch, fresh_cache):
    real = rep.compute_map

    def flaky(config, **kwargs):
        if config.setup == "triple":
            raise RuntimeError("out of memory")
        return real(config, **kwargs)

    monkeypatch.setattr(rep, "compute_map", flaky)
    result = rep.reproduce({"tiny": stand_ins["tiny"]}, trials=2)
    assert result.failed == ["tiny triple: RuntimeError: out of memory"]
    assert next(r for r in result.rows if r["model"] == "tiny")["status"] in ("match", "differs")
    from induction.cli.parser import main

    assert main(["reproduce", "--models", f"tiny={stand_ins['tiny']}", "--trials", "2", "--no-cache"]) == 1


def test_verdicts():
    ranking = [("L10H9", 0.70), ("L9H0", 0.60), ("L1H1", 0.2)]
    scores = dict(ranking)
    best = Reported("standard", "base", "prev", "L10H9", 0.68, 1, "")
    second = Reported("standard", "base", "prev", "L9H0", 0.67, 2, "")
    assert judge_head(best, ranking, scores)["status"] == "match"
    assert judge_head(second, ranking, scores)["status"] == "match"  # 0.60 is within 0.1 of 0.67
    far = Reported("standard", "base", "prev", "L1H1", 0.65, 1, "")
    assert judge_head(far, ranking, scores)["status"] == "differs"
    none = Reported("sizes", "tiny", "prev", None, None, 1, "")
    assert judge_head(none, ranking, scores)["status"] == "differs"  # a head at 0.70 is a head
    assert judge_head(none, [("L0H0", 0.1)], {"L0H0": 0.1})["status"] == "match"
    with pytest.raises(Exception, match="unknown size 'huge'"):
        rep.parse_models("tiny,huge")
    assert rep.parse_models("tiny,base=/x") == {"tiny": "tiny", "base": "/x"}


def test_auto_dtype_is_float32_under_the_paper_protocol_on_every_device():
    assert default_dtype("cuda", half_on_cuda=False) == "float32"
    assert default_dtype("cuda") == "float16" and default_dtype("cpu") == "float32"
    result = compute_map(MapConfig(model="toy", trials=2), use_cache=False)
    assert result.to_json()["dtype"] == "float32"  # every result records its dtype
    from induction.analyses.ablation import ablate
    from induction.analyses.text_map import TextConfig, text_map

    assert ablate(MapConfig(model="toy", trials=2), ["L1H0"], use_cache=False).to_json()["dtype"] == "float32"
    words = " ".join(f"t{i:03d}" for i in range(10))
    assert text_map(TextConfig(text=f"{words} {words}"), use_cache=False).to_json()["dtype"] == "float32"


def test_icl_contexts_are_built_as_the_study_built_them():
    from induction.analyses.icl import eligible, load_corpus

    model = get_model("toy")
    docs = [" ".join(f"t{i:03d}" for i in range(200))]
    (short,), _ = eligible(model, docs, 50)
    (long,), _ = eligible(model, docs, 120)
    assert short[0] == model.vocab.cls_id and len(short) == 50 and len(long) == 120
    assert model.vocab.sep_id not in long.tolist()  # [CLS] + 119 word pieces, no closing [SEP]
    np.testing.assert_array_equal(long[:50], short)
    assert load_corpus("python-docs")  # offline corpus still loads


def test_wikipedia_documents_are_sampled_from_the_whole_split():
    from induction.analyses.icl import sample_documents

    split = [{"text": f"doc {i}"} for i in range(100_000)]
    docs = sample_documents(split, seed=3, count=5000)
    picked = [int(d.split()[1]) for d in docs]
    assert len(set(picked)) == 5000 and max(picked) > 90_000  # not the first 5,000 rows
    assert docs == sample_documents(split, seed=3, count=5000)  # seeded
    assert docs != sample_documents(split, seed=4, count=5000)


def test_the_paper_protocol_on_a_tiny_vocabulary_is_a_clear_error():
    from induction.trials.rrt import VocabSpec, build_trials

    vocab = VocabSpec(cls_id=1, sep_id=2, mask_id=3, vocab_size=60, clean_ids=np.arange(4, 60))
    with pytest.raises(ConfigError, match="vocabulary has only 60 ids: use the clean protocol"):
        build_trials("standard", "paper", segment=10, trials=2, seed=0, vocab=vocab)


def test_icl_json_says_which_sign_it_uses(tmp_path):
    from induction.analyses.icl import ICLConfig, icl_score

    from .test_icl import write_docs

    corpus = write_docs(tmp_path / "docs", repeats=True)
    result = icl_score(ICLConfig(model="toy", corpus=corpus, trials=3, short=25, long=100), use_cache=False)
    assert "Loss(short) - Loss(long)" in result.to_json()["sign"] and "opposite sign" in result.to_json()["sign"]


def test_the_studys_first_occurrence_search_differs_only_where_an_id_repeats():
    from induction.study.reported import first_occurrence_targets, shuffled_search_disagreement

    # [SEP] a b c | c a b: masking the middle "a" of the shuffled copy; its neighbours c and b occur once
    ids = [102, 7, 8, 9, 9, 7, 8]
    assert first_occurrence_targets(ids, 5) == (4, 1)  # after the first 9 (position 3) is 4; before 8 is 1
    ids_dup = [102, 9, 8, 9, 9, 7, 8]  # an earlier duplicate of the left neighbour: the search stops there
    assert first_occurrence_targets(ids_dup, 5)[0] == 2
    rates = shuffled_search_disagreement(trials=2000, seed=0)
    assert 0.0 < rates["left_match"] < 0.02 and 0.0 < rates["either"] < 0.04
