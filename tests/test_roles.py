"""Head roles: the known answers of the hand-set toys, no roles in freshly initialised models, the weights read as
the modules compute, the eigenvalue and composition scores against dense computations, and the CLI's JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from induction.analyses import roles as roles_module
from induction.analyses.circuits import (
    COPY_REACH_MIN,
    composition_scores,
    copying_scores,
    fold,
    fold_before,
    folded,
    read_circuits,
)
from induction.analyses.roles import COPY_MIN, ROLES, decide, head_roles
from induction.config import OFFSETS, MapConfig
from induction.engine import compute_map, get_model
from induction.runs import resolve_run

from .conftest import save_random_bert
from .families import save_family


def save_random_gpt2(out, *, seed: int = 0, layers: int = 3, heads: int = 2, hidden: int = 32, **overrides) -> str:
    """A small random GPT-2 (untied unembedding) with toy-gpt's tokenizer."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    from induction.toys.toy_gpt import BOS, PAD, VOCAB_SIZE, save_tokenizer

    torch.manual_seed(seed)
    config = GPT2Config(**{**dict(vocab_size=VOCAB_SIZE, n_positions=128, n_embd=hidden, n_layer=layers, n_head=heads,
                                  bos_token_id=BOS, eos_token_id=BOS, pad_token_id=PAD, tie_word_embeddings=False),
                           **overrides})
    model = GPT2LMHeadModel(config)
    with torch.no_grad():  # gammas away from 1, so a LayerNorm folded in the wrong place would show
        for m in model.modules():
            if isinstance(m, torch.nn.LayerNorm):
                m.weight.uniform_(0.5, 1.5)
    model.config.architectures = [type(model).__name__]
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    save_tokenizer(out)
    return str(out)


def save_fresh_toy(out) -> str:
    """The toy's architecture (BertForMaskedLM, hidden 400, 2 x 2 heads) with its freshly initialised weights."""
    import torch
    from transformers import BertConfig, BertForMaskedLM

    from induction.toys import toy_bert as t

    torch.manual_seed(0)
    config = BertConfig(vocab_size=t.VOCAB_SIZE, hidden_size=t.HIDDEN, num_hidden_layers=2, num_attention_heads=t.HEADS,
                        intermediate_size=4, max_position_embeddings=t.MAX_POSITIONS, pad_token_id=t.PAD)
    model = BertForMaskedLM(config)
    model.config.architectures = ["BertForMaskedLM"]
    model.save_pretrained(out)
    t.save_tokenizer(out)
    return str(out)


def save_fresh_toy_gpt(out) -> str:
    import torch
    from transformers import GPT2LMHeadModel

    from induction.toys import toy_gpt

    torch.manual_seed(0)
    model = GPT2LMHeadModel(toy_gpt.config())
    model.config.architectures = ["GPT2LMHeadModel"]
    model.save_pretrained(out)
    toy_gpt.save_tokenizer(out)
    return str(out)


@pytest.fixture(scope="module")
def random_gpt2(tmp_path_factory) -> str:
    return save_random_gpt2(tmp_path_factory.mktemp("random_gpt2"))


@pytest.fixture(scope="module")
def wide_bert(tmp_path_factory) -> str:
    """A small random BERT (3 layers x 2 heads: the dense references form a [V, V] matrix a head) with gammas
    away from 1."""
    import torch
    from transformers import BertForMaskedLM

    path = save_random_bert(tmp_path_factory.mktemp("wide_bert"), seed=1, heads=2)
    model = BertForMaskedLM.from_pretrained(path)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.LayerNorm):
                m.weight.uniform_(0.5, 1.5)
    model.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def random_models(wide_bert, random_gpt2, tmp_path_factory) -> dict[str, str]:
    """One small random model a supported weight layout: BERT, RoBERTa (BERT-style, its own MLM head), GPT-2."""
    return {"bert": wide_bert, "roberta": save_family("roberta", tmp_path_factory.mktemp("roberta")),
            "gpt2": random_gpt2}


# ---- the known answers ---------------------------------------------------------------------------------------------

def test_toy_roles_are_the_hand_set_circuit():
    result = head_roles("toy", trials=8)
    assert result.kind == "encoder"
    assert result.roles(0, 0) == ["previous_token"] and result.roles(0, 1) == ["next_token"]
    for head in (0, 1):  # the induction heads: prefix matching (the [MASK]'s earlier instance) and copying
        roles = result.roles(1, head)
        assert {"prefix_matching", "copying"} <= set(roles), roles
        assert not {"previous_token", "next_token", "sink", "local"} & set(roles)
        assert result.copying[1, head] > 0.99 and result.copy_logit[1, head] > 10
    assert np.all(result.copying[0] == 0)  # the layer-0 heads write where the MLM head never reads: scored 0
    assert np.all(result.reach[0] < COPY_REACH_MIN) and np.all(result.reach[1] > 0.1)


def test_toy_gpt_roles_are_the_hand_set_circuit():
    result = head_roles("toy-gpt", trials=8)
    assert result.kind == "causal"
    assert result.role_map() == [[["previous_token"], []], [["prefix_matching", "copying"], []]]
    assert result.copying[1, 0] > 0.99 and result.copying[0, 1] == result.copying[1, 1] == 0  # no weights: 0
    assert result.baselines["next_token"] == 0.0  # a decoder's query cannot see the next token


def test_toy_gpt_previous_token_head_k_composes_into_its_induction_head_most():
    k = composition_scores(read_circuits(get_model("toy-gpt")))
    best = k["K"][0, 0, 1, 0]
    others = np.concatenate([np.delete(k["K"][0, :, 1, :].ravel(), 0), k["Q"][0, :, 1, :].ravel(),
                             k["V"][0, :, 1, :].ravel()])
    assert best > 0.1 and best > others.max() + 0.1
    assert np.isnan(k["K"][1, :, 0, :]).all() and np.isnan(k["K"][1, :, 1, :]).all()  # later into earlier: none


@pytest.mark.parametrize("save", [save_fresh_toy, save_fresh_toy_gpt], ids=["toy", "toy-gpt"])
def test_freshly_initialised_toy_architectures_have_no_roles(save, tmp_path):
    result = head_roles(save(tmp_path / "fresh"), trials=8)
    assert result.role_map() == [[[], []], [[], []]], result.role_map()
    assert np.abs(result.copying).max() < COPY_MIN


def test_the_rule_needs_both_the_ratio_the_floor_and_the_standard_error():
    score = np.array([[0.5, 0.5, 0.15, 0.5]])
    sem = np.array([[0.01, 0.2, 0.0, 0.0]])
    assert decide(score, sem, baseline=0.1, floor=0.2).tolist() == [[True, False, False, True]]
    assert decide(score, sem, baseline=0.2, floor=0.2).tolist() == [[False, False, False, False]]  # under 3x
    assert not decide(np.array([[np.nan]]), np.array([[0.0]]), baseline=0.01, floor=0.1).any()


def test_the_query_profile_reads_what_the_map_reads():
    run = resolve_run(MapConfig(model="toy", setup="repeat", trials=4))
    _, arrays = roles_module._compute_extras(run, None)
    per_trial = compute_map(run).per_trial
    np.testing.assert_allclose(arrays["near"][..., OFFSETS.index(-1)], per_trial["previous_token"], atol=1e-6)
    assert float(arrays["base_near"][OFFSETS.index(-1)]) == pytest.approx(compute_map(run).baseline, rel=1e-5)


# ---- the weights: each reader is tested against its model's own attention in tests/test_circuits.py -------------

def test_an_encoder_without_an_mlm_head_has_composition_but_no_copying(tmp_path):
    path = str(save_random_bert(tmp_path / "no_head", mlm=False, layers=2))
    result = head_roles(path, trials=3)
    assert result.copying is None and result.copy_logit is None and "no trained LM head" in result.notes["copying"]
    assert result.composition is not None and np.isfinite(result.composition["K"][0, :, 1, :]).all()


# ---- the dense references ------------------------------------------------------------------------------------------

def _dense_path(gammas, d: int, centre: bool = True) -> np.ndarray:
    """The folded norms as one [d, d] matrix: prod (I - 11^T/d) diag(gamma) (RMSNorm: diag(gamma))."""
    m, centring = np.eye(d), (np.eye(d) - 1.0 / d) if centre else np.eye(d)
    for g in gammas:
        m = m @ centring @ np.diag(g)
    return m


def _dense_copying(c) -> tuple[np.ndarray, np.ndarray]:
    """The eigenvalue score the straightforward way: form the [V, V] token-space OV matrix of the folded weights
    (with a post-LN model's stream norms between) and take all its eigenvalues (LAPACK's geev through torch,
    single-threaded: numpy's multithreaded OpenBLAS takes seconds a matrix on a shared machine)."""
    import torch

    torch.set_num_threads(1)
    f, d = folded(c), c.q.shape[2]
    score, reach = np.zeros((c.layers, c.heads)), np.zeros((c.layers, c.heads))
    for l in range(c.layers):
        read = f.W_E @ _dense_path(c.embed_between(l), d, c.centred)
        write = _dense_path(c.logit_between(l), d, c.centred) @ f.W_U
        for h in range(c.heads):
            ov = f.W_V[l, h] @ f.W_O[l, h]
            lam = torch.linalg.eigvals(torch.from_numpy(read @ ov @ write)).numpy()  # [V]
            score[l, h] = lam.sum().real / np.abs(lam).sum()
            largest = np.linalg.norm(read, 2) * np.linalg.norm(ov) * np.linalg.norm(write, 2)
            reach[l, h] = np.linalg.norm(lam) / largest
    return score, reach


@pytest.mark.parametrize("which", ["bert", "roberta", "gpt2"])
def test_eigenvalue_scores_agree_with_the_dense_vocab_by_vocab_computation(which, random_models):
    c = read_circuits(get_model(random_models[which]))
    assert c.family == which
    assert c.embed.shape[0] > 5 * c.q.shape[2]  # the vocabulary is the big side
    score, reach = copying_scores(c)
    dense_score, dense_reach = _dense_copying(c)
    assert (reach > COPY_REACH_MIN).all()  # random heads reach the logits: every score is compared
    np.testing.assert_allclose(score, dense_score, atol=1e-6)
    np.testing.assert_allclose(reach, dense_reach, rtol=1e-4)
    assert np.abs(score).max() <= 1.0


def test_the_folds_are_the_dense_matrices():
    rng = np.random.default_rng(0)
    gammas = [rng.uniform(0.5, 1.5, 6) for _ in range(3)]
    rows, cols = rng.standard_normal((4, 6)), rng.standard_normal((6, 5))
    np.testing.assert_allclose(fold(rows, gammas), rows @ _dense_path(gammas, 6))
    np.testing.assert_allclose(fold_before(cols, gammas), _dense_path(gammas, 6) @ cols)


@pytest.mark.parametrize("which", ["bert", "roberta", "gpt2"])
def test_composition_scores_agree_with_the_dense_computation(which, random_models):
    c = read_circuits(get_model(random_models[which]))
    scores, f = composition_scores(c), folded(c)
    d, norm = c.q.shape[2], np.linalg.norm
    for l1 in range(c.layers):
        for l2 in range(c.layers):
            for h1 in range(c.heads):
                for h2 in range(c.heads):
                    if l1 >= l2:
                        assert all(np.isnan(scores[k][l1, h1, l2, h2]) for k in "KQV")
                        continue
                    ov1 = f.W_V[l1, h1] @ f.W_O[l1, h1] @ _dense_path(c.between(l1, l2), d)
                    qk2, ov2 = f.W_Q[l2, h2] @ f.W_K[l2, h2].T, f.W_V[l2, h2] @ f.W_O[l2, h2]
                    expected = {"Q": norm(ov1 @ qk2) / (norm(ov1) * norm(qk2)),
                                "K": norm(ov1 @ qk2.T) / (norm(ov1) * norm(qk2)),
                                "V": norm(ov1 @ ov2) / (norm(ov1) * norm(ov2))}
                    for k, value in expected.items():
                        assert scores[k][l1, h1, l2, h2] == pytest.approx(value, rel=1e-6), (k, l1, h1, l2, h2)


def test_the_direct_logit_copy_agrees_with_a_straightforward_computation(random_gpt2):
    """One trial by hand: eager attention weights, the head's output from the modules, every logit formed."""
    import torch
    from transformers import AutoModel

    loaded = get_model(random_gpt2)
    c = read_circuits(loaded)
    unembed = folded(c).W_U
    run = resolve_run(MapConfig(model=random_gpt2, setup="repeat", trials=1, segment=6))
    _, arrays = roles_module._compute_extras(run, None)
    from induction.engine import make_trials

    batch = make_trials(run, loaded)
    eager = AutoModel.from_pretrained(random_gpt2, attn_implementation="eager").eval()
    ids = torch.from_numpy(batch.input_ids)
    with torch.no_grad():
        out = eager(input_ids=ids, output_attentions=True, output_hidden_states=True)
    tokens, queries = batch.input_ids[0], batch.mask_index[0]
    for l, block in enumerate(eager.h):
        with torch.no_grad():
            values = block.attn.c_attn(block.ln_1(out.hidden_states[l]))[0, :, 2 * c.q.shape[2]:].double().numpy()
        for h in range(c.heads):
            dh = c.o.shape[2]
            per_query = []
            for q in queries:
                a = out.attentions[l][0, h, q].double().numpy()  # [S]
                logits = fold((a @ values[:, h * dh:(h + 1) * dh]) @ c.o[l, h], c.logit_between(l)) @ unembed  # [V]
                others = (logits.sum() - logits[tokens]) / (len(logits) - 1)  # [S]: the mean of the other tokens
                per_query.append(float(a @ (logits[tokens] - others)))
            assert arrays["copy_logit"][0, l, h] == pytest.approx(np.mean(per_query), rel=1e-3, abs=1e-5)


# ---- the command line ----------------------------------------------------------------------------------------------

def test_the_cli_writes_every_head_with_its_roles_copying_and_composition(tmp_path, capsys):
    from induction.cli.parser import main

    out = tmp_path / "roles.json"
    assert main(["roles", "--model", "toy-gpt", "--trials", "6", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "L1H0    prefix_matching" in printed
    assert "strongest K-composition: L0H0 -> L1H0 0.125 (random 0.051)" in printed
    assert "strongest Q-composition: none above the random baseline" in printed
    payload = json.loads(out.read_text())
    assert payload["model"] == "toy-gpt" and payload["kind"] == "causal"
    heads = {h["name"]: h for h in payload["per_head"]}
    assert payload["heads"] == 2 and payload["layers"] == 2  # heads: per layer, as in every JSON
    assert list(heads) == ["L0H0", "L0H1", "L1H0", "L1H1"]
    assert heads["L1H0"]["layer"] == 1 and heads["L1H0"]["head"] == 0
    assert heads["L1H0"]["roles"] == ["prefix_matching", "copying"] and heads["L0H0"]["roles"] == ["previous_token"]
    assert heads["L1H0"]["copying"] > 0.99 and heads["L1H0"]["copy_logit"] > 5 and heads["L0H1"]["copying"] == 0
    assert set(heads["L0H0"]["scores"]) == set(ROLES) - {"copying"}
    pairs = payload["composition"]["pairs"]
    best = max(pairs, key=lambda p: p["K"])
    assert len(pairs) == 4 and (best["from"], best["to"]) == ("L0H0", "L1H0")
    assert payload["composition"]["strongest"] == {"K": [["L0H0", "L1H0"]], "Q": [], "V": []}
    assert best["K"] > payload["composition"]["strong_above"] > best["random_mean"]  # issue 40 item 12


def test_the_cli_refuses_a_bad_model_in_one_line(capsys):
    from induction.cli.parser import main

    assert main(["roles", "--model", "./no/such/folder"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err and len(err.strip().splitlines()) == 1


# ---- the page ------------------------------------------------------------------------------------------------------

def _roles_page(**params):
    from .test_app import make_app

    at = make_app(trials=4, **params).run()
    at.switch_page("views/roles.py").run()
    assert not at.exception, at.exception
    return at


def test_the_roles_page_on_the_toy_shows_the_map_scatter_and_composition_and_a_click_opens_the_head():
    from .test_app import charts, click_chart

    at = _roles_page()
    assert at.title[0].value == "Head roles" and len(charts(at)) == 3  # roles map, copying scatter, composition
    assert any("**L0H0** previous_token" in m.value and "**L1H0** prefix_matching, copying" in m.value
               for m in at.markdown)  # an encoder's induction head is not also a duplicate head (shuffled copies)
    at.radio(key="w_composition").set_value("V").run()
    assert not at.exception and any("Strongest: none above the random baseline" in m.value for m in at.markdown)
    assert any("Random matrices of these shapes score" in c.value for c in at.caption)
    click_chart(at, charts(at)[0], 1, 0)
    assert not at.exception
    assert at.title[0].value == "Head drill-down" and at.subheader[0].value == "Head L1H0"
    assert any("Roles (Head roles page): prefix_matching, copying" in c.value for c in at.caption)


def test_the_roles_page_on_the_decoder():
    at = _roles_page(model="toy-gpt", setup="repeat", target="induction")
    assert at.title[0].value == "Head roles" and len(at.get("plotly_chart")) == 3 and not at.error
    assert any("**L0H0** previous_token · **L1H0** prefix_matching, copying" in m.value for m in at.markdown)
    assert any("**L0H0 → L1H0** 0.125 (random 0.051)" in m.value for m in at.markdown)  # K, the radio's first


def test_the_roles_page_on_a_rotary_model_says_where_w_qk_is_read_and_lists_pairs_above_random():
    at = _roles_page(model="trained-gpt", setup="repeat", target="induction")
    assert any("W_QK is the bilinear form at relative offset 0" in c.value for c in at.caption)
    strongest = next(m.value for m in at.markdown if m.value.startswith("Strongest:"))
    assert "→ L1H" in strongest and "(random 0.1" in strongest  # K: layer-0 heads into layer 1, beside random
