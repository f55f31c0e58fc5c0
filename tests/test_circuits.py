"""The weight readers of every family and TransformerLens's conventions: each reader reproduces its model's own
attention (patterns, head outputs, the norms it folds); composition and copying agree with a dense restatement of
TransformerLens's fold_ln / center_writing_weights / center_unembed and all_composition_scores, written here from
the Hugging Face modules, not from the project's reader; the random baseline; `induction roles` on every family
without a traceback."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from induction.analyses.circuits import (
    ROTARY_OFFSET,
    attention_inputs,
    composition_scores,
    copying_scores,
    random_composition,
    read_circuits,
)
from induction.analyses.roles import head_roles, shuffled_copy
from induction.engine import get_model
from induction.models.families import ROTARY, WEIGHT_READERS
from induction.toys.toy_bert import VOCAB_SIZE, save_tokenizer

from .families import save_family

ENCODERS = ("bert", "roberta", "xlm-roberta", "electra", "albert", "distilbert", "roformer")
DECODERS = ("gpt2", "gpt_neo", "gpt_neox", "opt", "llama", "qwen2", "mistral")
SMALL = dict(vocab_size=VOCAB_SIZE, bos_token_id=101, eos_token_id=102, pad_token_id=0, initializer_range=0.2)


def _vary_gammas(model, seed: int = 0) -> None:
    """Every norm's gamma drawn from U(0.5, 1.5) (betas stay 0), so a gamma folded in the wrong place shows."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if "norm" in type(m).__name__.lower() and getattr(m, "weight", None) is not None:
                m.weight.copy_(0.5 + torch.rand(m.weight.shape, generator=g))


def _save(model, out) -> str:
    _vary_gammas(model)
    model.config.architectures = [type(model).__name__]
    model.save_pretrained(out)
    save_tokenizer(out)
    return str(out)


def save_decoder(family: str, out, **overrides) -> str:
    """A small random decoder of `family` (grouped-query attention where the family has it), gammas varied."""
    import transformers

    common = dict(hidden_size=32, num_hidden_layers=3, num_attention_heads=4, max_position_embeddings=128, **SMALL)
    made = {
        "gpt2": lambda: transformers.GPT2LMHeadModel(transformers.GPT2Config(
            n_embd=32, n_layer=3, n_head=4, n_positions=128, tie_word_embeddings=False, **SMALL)),
        "gpt_neo": lambda: transformers.GPTNeoForCausalLM(transformers.GPTNeoConfig(
            hidden_size=32, num_layers=3, num_heads=4, attention_types=[[["global", "local"], 1], [["global"], 1]],
            window_size=8, max_position_embeddings=128, **SMALL)),
        "gpt_neox": lambda: transformers.GPTNeoXForCausalLM(transformers.GPTNeoXConfig(
            intermediate_size=64, **common)),
        "opt": lambda: transformers.OPTForCausalLM(transformers.OPTConfig(
            hidden_size=32, num_hidden_layers=3, num_attention_heads=4, ffn_dim=64, word_embed_proj_dim=32,
            max_position_embeddings=128, **SMALL)),
        **{name: (lambda cls=cls, conf=conf: cls(conf(intermediate_size=64, num_key_value_heads=2, **common)))
           for name, cls, conf in (("llama", transformers.LlamaForCausalLM, transformers.LlamaConfig),
                                   ("qwen2", transformers.Qwen2ForCausalLM, transformers.Qwen2Config),
                                   ("mistral", transformers.MistralForCausalLM, transformers.MistralConfig))},
    }
    torch.manual_seed(0)
    model = made[family]()
    for key, value in overrides.items():
        setattr(model.config, key, value)
    return _save(model, out)


def save_encoder(family: str, out) -> str:
    from transformers import AutoModelForMaskedLM

    path = save_family(family, out)
    model = AutoModelForMaskedLM.from_pretrained(path)
    _vary_gammas(model)
    model.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("families")
    return {**{f: save_encoder(f, root / f) for f in ENCODERS}, **{f: save_decoder(f, root / f) for f in DECODERS}}


# ---- the family table ----------------------------------------------------------------------------------------------

def test_every_family_the_issue_names_has_a_reader_in_the_family_table_and_convbert_has_none():
    assert set(ENCODERS) | set(DECODERS) <= set(WEIGHT_READERS)
    assert "convbert" not in WEIGHT_READERS
    assert {"roformer", "gpt_neox", "llama", "mistral", "qwen2"} == ROTARY


# ---- each reader reproduces its model's attention -------------------------------------------------------------------

# Restated here from transformers' modules, not from the reader: per family, the module whose first input is the
# attention's input, and the Linear that maps the concatenated head outputs to the stream.
_BERT = (lambda b, l: b.encoder.layer[l].attention.self, lambda b, l: b.encoder.layer[l].attention.output.dense)
_ALBERT_LAYER = lambda b, l: b.encoder.albert_layer_groups[0].albert_layers[0]  # noqa: E731 - one group
_LLAMA = (lambda b, l: b.layers[l].self_attn, lambda b, l: b.layers[l].self_attn.o_proj)
MODULES = {
    "bert": _BERT, "roberta": _BERT, "xlm-roberta": _BERT, "electra": _BERT, "roformer": _BERT,
    "albert": (lambda b, l: _ALBERT_LAYER(b, l).attention, lambda b, l: _ALBERT_LAYER(b, l).attention.dense),
    "distilbert": (lambda b, l: b.transformer.layer[l].attention,
                   lambda b, l: b.transformer.layer[l].attention.out_lin),
    "gpt2": (lambda b, l: b.h[l].attn, lambda b, l: b.h[l].attn.c_proj),
    "gpt_neo": (lambda b, l: b.h[l].attn.attention, lambda b, l: b.h[l].attn.attention.out_proj),
    "gpt_neox": (lambda b, l: b.layers[l].attention, lambda b, l: b.layers[l].attention.dense),
    "opt": (lambda b, l: b.decoder.layers[l].self_attn, lambda b, l: b.decoder.layers[l].self_attn.out_proj),
    "llama": _LLAMA, "qwen2": _LLAMA, "mistral": _LLAMA,
}
PRE_NORM = {"gpt2", "gpt_neo", "gpt_neox", "opt", "llama", "qwen2", "mistral"}


def _no_rotation(module, args, kwargs):
    """Rotary families attend with every rotation the identity (relative offset 0 everywhere): what W_QK is."""
    if "position_embeddings" in kwargs and kwargs["position_embeddings"] is not None:
        cos, sin = kwargs["position_embeddings"]
        kwargs["position_embeddings"] = (torch.ones_like(cos), torch.zeros_like(sin))
    if kwargs.get("sinusoidal_pos") is not None:  # RoFormer: [sin | cos] halves
        pos = kwargs["sinusoidal_pos"]
        half = pos.shape[-1] // 2
        kwargs["sinusoidal_pos"] = torch.cat([torch.zeros_like(pos[..., :half]), torch.ones_like(pos[..., half:])], -1)
    return args, kwargs


@pytest.mark.parametrize("family", [*ENCODERS, *DECODERS])
def test_each_reader_reproduces_its_models_attention_patterns_head_outputs_and_norms(family, models):
    from transformers import AutoModel

    loaded = get_model(models[family])
    c = read_circuits(loaded)
    eager = AutoModel.from_pretrained(models[family], attn_implementation="eager").eval()
    reads_in, writes = MODULES[family]
    names = {id(m): n for n, m in loaded.encoder.named_modules()}  # the direct-logit copy reads the same modules
    assert [names[id(m)] for m in attention_inputs(loaded)] == \
        [dict((id(m), n) for n, m in eager.named_modules())[id(reads_in(eager, l))] for l in range(c.layers)]
    inputs, outputs = [], []
    handles = []
    for l in range(c.layers):
        handles.append(reads_in(eager, l).register_forward_pre_hook(_no_rotation, with_kwargs=True))
    for module in {id(m): m for m in (reads_in(eager, l) for l in range(c.layers))}.values():
        handles.append(module.register_forward_pre_hook(
            lambda m, a, k: inputs.append((a[0] if a else k["hidden_states"]).double()), with_kwargs=True))
    for module in {id(m): m for m in (writes(eager, l) for l in range(c.layers))}.values():
        handles.append(module.register_forward_hook(lambda m, a, out: outputs.append((a[0].double(), out.double()))))
    ids = torch.from_numpy(np.random.default_rng(0).integers(110, VOCAB_SIZE, (2, 12)))
    with torch.no_grad():
        run = eager(input_ids=ids, output_attentions=True, output_hidden_states=True)
    for h in handles:
        h.remove()
    assert len(inputs) == len(outputs) == c.layers
    causal = family in DECODERS
    scale = 1.0 if family == "gpt_neo" else c.q.shape[3] ** -0.5
    mask = np.triu(np.full((12, 12), -np.inf), 1) if causal else np.zeros((12, 12))
    for l in range(c.layers):
        x = inputs[l].numpy()  # [B, S, d]
        q = x[:, None] @ c.q[l][None] + c.q_bias[l][None, :, None]  # [B, H, S, dh]
        k = x[:, None] @ c.k[l][None] + c.k_bias[l][None, :, None]
        v = x[:, None] @ c.v[l][None] + c.v_bias[l][None, :, None]
        local = family == "gpt_neo" and eager.h[l].attn.attention_type == "local"  # keys within the window only
        window = np.tril(np.full((12, 12), -np.inf), -eager.config.window_size) if local else 0.0
        logits = scale * q @ np.swapaxes(k, -1, -2) + mask + window  # [B, H, S, S]
        pattern = np.exp(logits - logits.max(-1, keepdims=True))
        pattern /= pattern.sum(-1, keepdims=True)
        np.testing.assert_allclose(pattern, run.attentions[l].double().numpy(), atol=2e-5)
        z, y = (t.numpy() for t in outputs[l])  # [B, S, H*dh], [B, S, d]
        heads = pattern @ v  # [B, H, S, dh]
        np.testing.assert_allclose(z, heads.transpose(0, 2, 1, 3).reshape(z.shape), atol=2e-5)
        np.testing.assert_allclose(y, np.einsum("bhsk,hkd->bsd", heads, c.o[l]) + c.o_bias[l], atol=2e-5)
        gammas = c.reads(l)
        if not gammas:  # ALBERT's and ELECTRA's first layer reads the projected embedding, which no norm touched
            assert family in ("albert", "electra") and l == 0
            continue
        (gamma,) = gammas
        if family in PRE_NORM:  # the input is the stream through the folded norm, up to a positive scale per row
            folded = run.hidden_states[l].double().numpy()
            folded = ((folded - folded.mean(-1, keepdims=True)) if c.centred else folded) * gamma
            cos = (x * folded).sum(-1) / np.linalg.norm(x, axis=-1) / np.linalg.norm(folded, axis=-1)
            np.testing.assert_allclose(cos, 1.0, atol=1e-6)
        else:  # post-LN: the input is a LayerNorm's output (beta 0): divided by its gamma it is centred
            assert np.abs((x / gamma).mean(-1)).max() < 1e-5 * np.abs(x).max()
    assert (c.rotary == ROTARY_OFFSET) == (family in ROTARY)


def test_grouped_query_heads_read_their_shared_key_value_heads(models):
    """Llama with 4 query heads and 2 key/value heads: heads 0, 1 share key/value head 0 (repeat_interleave)."""
    c = read_circuits(get_model(models["llama"]))
    np.testing.assert_array_equal(c.k[:, 0], c.k[:, 1])
    np.testing.assert_array_equal(c.v[:, 2], c.v[:, 3])
    assert not np.allclose(c.k[:, 1], c.k[:, 2])


# ---- TransformerLens's definitions, restated densely ---------------------------------------------------------------

def _tl_gpt2(path: str) -> dict:
    """GPT-2's weights as TransformerLens holds them after fold_ln, center_writing_weights and center_unembed,
    restated from the Hugging Face modules: W_Q etc. [L, H, d, dh] (c_attn's columns: queries, keys, values, head
    h at h*dh..), ln_1's gamma folded in and the result centred over d_model; W_O [L, H, dh, d] centred over
    d_model; W_E centred; W_U with ln_f's gamma folded in, centred over d_model and over the vocabulary."""
    from transformers import GPT2LMHeadModel

    m = GPT2LMHeadModel.from_pretrained(path)
    n = lambda t: t.detach().double().numpy()  # noqa: E731
    d, H = m.config.n_embd, m.config.n_head
    out = {name: [] for name in ("W_Q", "W_K", "W_V", "W_O")}
    for block in m.transformer.h:
        w, g = n(block.attn.c_attn.weight), n(block.ln_1.weight)  # [d, 3d], [d]
        for i, name in enumerate(("W_Q", "W_K", "W_V")):
            part = w[:, i * d:(i + 1) * d].reshape(d, H, d // H).transpose(1, 0, 2) * g[None, :, None]
            out[name].append(part - part.mean(axis=1, keepdims=True))
        o = n(block.attn.c_proj.weight).reshape(H, d // H, d)
        out["W_O"].append(o - o.mean(axis=-1, keepdims=True))
    out = {k: np.stack(v) for k, v in out.items()}
    e = n(m.transformer.wte.weight)
    out["W_E"] = e - e.mean(-1, keepdims=True)
    u = n(m.lm_head.weight).T * n(m.transformer.ln_f.weight)[:, None]
    u = u - u.mean(0, keepdims=True)
    out["W_U"] = u - u.mean(-1, keepdims=True)
    return out


def _tl_llama(path: str) -> dict:
    """A Llama's weights as TransformerLens holds them: RMSNorm's gamma folded in without centring (fold_ln with
    center_weights=False), nothing centred over d_model (no LayerNorm), key/value heads repeat_interleave'd."""
    from transformers import LlamaForCausalLM

    m = LlamaForCausalLM.from_pretrained(path)
    n = lambda t: t.detach().double().numpy()  # noqa: E731
    H, KV = m.config.num_attention_heads, m.config.num_key_value_heads
    out = {name: [] for name in ("W_Q", "W_K", "W_V", "W_O")}
    for layer in m.model.layers:
        a, g = layer.self_attn, n(layer.input_layernorm.weight)
        for name, proj, heads in (("W_Q", a.q_proj, H), ("W_K", a.k_proj, KV), ("W_V", a.v_proj, KV)):
            w = n(proj.weight).reshape(heads, -1, g.shape[0]).transpose(0, 2, 1) * g[None, :, None]  # [h, d, dh]
            out[name].append(np.repeat(w, H // heads, axis=0))
        out["W_O"].append(n(a.o_proj.weight).T.reshape(H, -1, g.shape[0]))
    out = {k: np.stack(v) for k, v in out.items()}
    out["W_E"] = n(m.model.embed_tokens.weight)
    u = n(m.lm_head.weight).T * n(m.model.norm.weight)[:, None]
    out["W_U"] = u - u.mean(-1, keepdims=True)
    return out


def _tl_composition(w: dict) -> dict[str, np.ndarray]:
    """HookedTransformer.all_composition_scores(mode), densely: left = OV = W_V W_O of every head, right = QK
    (= W_Q W_K^T), QK^T or OV of every head; ||left right||_F / (||left||_F ||right||_F) for each pair; kept
    where the left head's layer is earlier (TransformerLens writes 0 elsewhere, the project NaN)."""
    ov = w["W_V"] @ w["W_O"]  # [L, H, d, d]
    qk = w["W_Q"] @ np.swapaxes(w["W_K"], -1, -2)  # [L, H, d, d]
    right = {"Q": qk, "K": np.swapaxes(qk, -1, -2), "V": ov}
    L, H = ov.shape[:2]
    out = {}
    for mode, r in right.items():
        scores = np.full((L, H, L, H), np.nan)
        for l1 in range(L):
            for l2 in range(l1 + 1, L):
                for h1 in range(H):
                    for h2 in range(H):
                        left, rr = ov[l1, h1], r[l2, h2]
                        scores[l1, h1, l2, h2] = np.linalg.norm(left @ rr) / np.linalg.norm(left) / np.linalg.norm(rr)
        out[mode] = scores
    return out


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_composition_agrees_with_a_dense_restatement_of_transformerlens(family, models):
    scores = composition_scores(read_circuits(get_model(models[family])))
    reference = _tl_composition((_tl_gpt2 if family == "gpt2" else _tl_llama)(models[family]))
    for mode in "KQV":
        np.testing.assert_allclose(scores[mode], reference[mode], atol=1e-6, equal_nan=True)
        assert np.isfinite(scores[mode][0, :, 1:]).all() and np.isnan(scores[mode][1:, :, :1]).all()


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_copying_agrees_with_transformerlens_full_ov_circuit_eigenvalues(family, models):
    """TransformerLens's copying score: the eigenvalues of the full OV circuit W_E W_V W_O W_U ([V, V]),
    sum(lambda) / sum(|lambda|)."""
    w = (_tl_gpt2 if family == "gpt2" else _tl_llama)(models[family])
    score, _ = copying_scores(read_circuits(get_model(models[family])))
    torch.set_num_threads(1)
    for l in range(score.shape[0]):
        for h in range(score.shape[1]):
            full = w["W_E"] @ w["W_V"][l, h] @ w["W_O"][l, h] @ w["W_U"]  # [V, V]
            lam = torch.linalg.eigvals(torch.from_numpy(full)).numpy()
            assert score[l, h] == pytest.approx(lam.sum().real / np.abs(lam).sum(), abs=1e-6)


def test_the_random_baseline_is_the_score_of_random_matrices_and_near_the_issues_figure():
    draws = random_composition(64, 32, draws=4, seed=3)
    rng = np.random.default_rng(3)
    v, q, k = (rng.standard_normal((64, 32)) for _ in range(3))
    o = rng.standard_normal((32, 64))
    ov, qk = v @ o, q @ k.T
    assert draws[0] == pytest.approx(np.linalg.norm(ov @ qk) / np.linalg.norm(ov) / np.linalg.norm(qk), rel=1e-9)
    assert 0.1 < random_composition(64, 32).mean() < 0.15  # the issue: random matrices score about 0.12-0.14


# ---- roles on every family -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("family", [*ENCODERS, *DECODERS])
def test_roles_on_every_family_have_copying_composition_and_a_baseline_beside_every_pair(family, models):
    result = head_roles(models[family], trials=2)
    assert not result.notes, result.notes
    assert result.copying is not None and np.isfinite(result.copy_logit).all()
    payload = json.loads(json.dumps(result.to_json()))
    comp = payload["composition"]
    assert comp["rotary"] == (ROTARY_OFFSET if family in ROTARY else None)
    assert 0 < comp["random_mean"] < 1 and comp["strong_above"] > comp["random_mean"] and comp["random_draws"] > 1
    assert all(p["random_mean"] == comp["random_mean"] and p["random_sd"] == comp["random_sd"] for p in comp["pairs"])
    for kind, pairs in comp["strongest"].items():
        by_name = {(p["from"], p["to"]): p for p in comp["pairs"]}
        assert all(by_name[tuple(pair)][kind] > comp["strong_above"] for pair in pairs)


def test_a_family_without_a_reader_keeps_its_behavioural_roles_in_one_line(tmp_path, capsys):
    from induction.cli.parser import main

    path = save_family("convbert", tmp_path / "convbert")
    out = tmp_path / "roles.json"
    assert main(["roles", "--model", path, "--trials", "2", "--json", str(out)]) == 0
    payload = json.loads(out.read_text())
    assert payload["composition"] is None and len(payload["per_head"]) == 2 * 2
    note = payload["notes"]["composition"]
    assert "no weight reader is written for" in note and "(convbert)" in note and "\n" not in note
    assert "Traceback" not in capsys.readouterr().err


def test_a_roformer_with_rotary_values_is_refused_for_ov_scores_in_one_line(tmp_path):
    from transformers import RoFormerConfig, RoFormerForMaskedLM

    from .families import BASE

    model = RoFormerForMaskedLM(RoFormerConfig(**{**BASE, "rotary_value": True}))
    result = head_roles(_save(model, tmp_path / "rv"), trials=2)
    assert result.composition is None and result.copying is None
    assert "rotary_value=True" in result.notes["composition"] and "\n" not in result.notes["composition"]


def test_any_failure_while_reading_weights_is_a_note_and_the_cli_does_not_traceback(models, monkeypatch, capsys):
    from induction.analyses import circuits
    from induction.cli.parser import main

    def broken(loaded):
        raise ValueError("operands could not be broadcast together\nwith shapes (2,2,8,8) (2,2,16,16)")

    monkeypatch.setitem(circuits.READERS, "distilbert", broken)
    assert main(["roles", "--model", models["distilbert"], "--trials", "2", "--no-cache"]) == 0
    captured = capsys.readouterr()
    assert "no composition scores: reading the weights of" in captured.out and "ValueError" in captured.out
    assert "Traceback" not in captured.err


def test_a_failure_in_the_direct_logit_copy_is_a_note_and_the_roles_come_back(models, monkeypatch):
    from induction.analyses import roles

    def broken(*args):
        raise RuntimeError("shape mismatch")

    monkeypatch.setattr(roles, "_copy_chunk", broken)
    result = head_roles(models["gpt2"], trials=2, use_cache=False)
    assert result.copy_logit is None and "RuntimeError: shape mismatch" in result.notes["copy_logit"]
    assert result.composition is not None and len(result.role_map()) == 3


# ---- an encoder's duplicate role -----------------------------------------------------------------------------------

def test_the_shuffled_copy_points_duplicate_and_prefix_matching_at_different_positions():
    from induction.config import MapConfig
    from induction.engine import make_trials
    from induction.runs import resolve_run

    run = resolve_run(MapConfig(model="toy", setup="repeat", trials=6))
    batch = make_trials(run, get_model("toy"))
    shuffled = shuffled_copy(batch, seed=0)
    ids, queries, dup = shuffled.input_ids, shuffled.mask_index, shuffled.target_index["duplicate"]
    rows = np.arange(len(ids))[:, None]
    np.testing.assert_array_equal(ids[rows, dup], ids[rows, queries])  # the query's own token's earlier instance
    left = ids[rows, queries - 1]  # the token before each query; prefix matching attends after its earlier instance
    first = ids[:, 1:1 + queries.shape[1]]
    prefix_target = np.array([[1 + list(first[t]).index(left[t, q]) + 1 if left[t, q] in first[t] else -1
                               for q in range(queries.shape[1])] for t in range(len(ids))])
    assert (prefix_target != dup).mean() > 0.8  # they coincide only where the permutation keeps neighbours
    np.testing.assert_array_equal(np.sort(ids[:, queries[0]], 1), np.sort(first, 1))  # a permutation of the copy


def test_no_encoder_induction_head_is_labelled_duplicate_on_the_toy():
    result = head_roles("toy", trials=8)
    for head in (0, 1):
        assert "prefix_matching" in result.roles(1, head) and "duplicate" not in result.roles(1, head)
