"""Bring your own model: an in-memory Hugging Face model gives the maps of the same model saved to a folder, its
fingerprint follows its weights (an edit changes the key, an unchanged copy hits the cache), the caller's model is
left as it was; TransformerLens and nnsight wrappers are unwrapped or refused in one line; the CircuitsVis export
is the drill-down's pattern."""

from __future__ import annotations

import types

import numpy as np
import pytest
import torch

import induction
from induction.analyses.ablation import ablate
from induction.analyses.head_detail import head_detail
from induction.config import ConfigError, MapConfig, ModelLoadError
from induction.engine import compute_map, compute_map_until
from induction.models import memory
from tests.conftest import save_random_bert

SMALL = dict(bos_token_id=101, eos_token_id=102, pad_token_id=0, initializer_range=0.2)


def _toy_tokenizer(folder):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(folder))


@pytest.fixture(scope="module")
def bert(tmp_path_factory):
    """(folder, the same model in memory, its tokenizer): a random BertForMaskedLM with the toy's tokenizer."""
    from transformers import BertForMaskedLM

    folder = save_random_bert(tmp_path_factory.mktemp("byom_bert"), seed=3)
    return str(folder), BertForMaskedLM.from_pretrained(str(folder)), _toy_tokenizer(folder)


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    """(folder, model, tokenizer): a random Llama-style decoder with grouped-query attention."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from induction.toys.toy_bert import VOCAB_SIZE, save_tokenizer

    torch.manual_seed(1)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=VOCAB_SIZE, hidden_size=32, intermediate_size=64,
                                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                         max_position_embeddings=128, **SMALL))
    model.config.architectures = [type(model).__name__]
    folder = tmp_path_factory.mktemp("byom_llama")
    model.save_pretrained(folder)
    save_tokenizer(folder)
    return str(folder), model, _toy_tokenizer(folder)


def _same_map(a, b) -> None:
    assert a.targets == b.targets
    for t in a.targets:
        np.testing.assert_allclose(a.per_trial[t], b.per_trial[t], atol=1e-6)
    np.testing.assert_allclose(a.offsets, b.offsets, atol=1e-6)


@pytest.mark.parametrize("which", ["bert", "llama"])
def test_an_in_memory_model_maps_as_its_folder_does(which, request):
    folder, model, tok = request.getfixturevalue(which)
    mine = compute_map(MapConfig(model=induction.from_model(model, tok), trials=4, segment=10, seed=2),
                       use_cache=False)
    saved = compute_map(MapConfig(model=folder, trials=4, segment=10, seed=2), use_cache=False)
    assert mine.config.setup == saved.config.setup == ("repeat" if which == "llama" else "standard")
    _same_map(mine, saved)
    assert mine.config.model.startswith("memory:") and "@" in mine.config.model  # pinned to the weights
    assert mine.to_frame()["model"].iloc[0] == mine.config.model
    assert mine.to_pandas().equals(mine.to_frame())


def _numbers(frame):
    return frame.select_dtypes("number").fillna(-1.0).to_numpy()


def test_every_analysis_of_an_in_memory_model_equals_its_folder_s(bert, tmp_path):
    """Effects, roles, a text map and the ICL score: the same tidy numbers as the same model saved to a folder."""
    from tests.test_icl import write_docs
    from tests.test_text import toy_words

    folder, model, tok = bert
    mine = induction.from_model(model, tok)
    words = toy_words(40, seed=3)
    text = " ".join(words[:25] + words[5:20] + words[30:40] + words[:10])
    corpus = write_docs(tmp_path / "docs", repeats=True)
    runs = {
        "effects": lambda m: induction.effects(MapConfig(model=m, trials=2, segment=8), use_cache=False),
        "roles": lambda m: induction.head_roles(m, trials=2, use_cache=False),
        "text": lambda m: induction.text_map(induction.TextConfig(model=m, text=text, min_distance=3),
                                             use_cache=False),
        "icl": lambda m: induction.icl_score(induction.ICLConfig(model=m, corpus=corpus, trials=4, short=10,
                                                                 long=60), use_cache=False),
    }
    for name, run in runs.items():
        a, b = run(mine).to_frame(), run(folder).to_frame()
        assert len(a) == len(b) > 0, name
        np.testing.assert_allclose(_numbers(a), _numbers(b), atol=1e-6, err_msg=name)


def test_the_caller_s_model_is_left_as_it_was(bert):
    _, model, tok = bert
    model.train()
    calls = []
    handle = model.register_forward_hook(lambda *a: calls.append(1))
    impl = model.config._attn_implementation
    before = {k: v.clone() for k, v in model.state_dict().items()}
    try:
        config = MapConfig(model=induction.from_model(model, tok), trials=3, segment=8)
        compute_map(config, use_cache=False)
        head_detail(config, 1, 0)
        ablate(config, ["L1H0"], use_cache=False)
        assert model.training and calls == []  # still training; our copy never ran the caller's hook
        assert model.config._attn_implementation == impl
        assert len(model._forward_hooks) == 1
        for k, v in model.state_dict().items():
            assert v.dtype == before[k].dtype and v.device == before[k].device and torch.equal(v, before[k]), k
    finally:
        handle.remove()
        model.eval()


def test_an_edit_changes_the_key_and_an_unchanged_copy_hits_the_cache(bert, fresh_cache):
    import copy

    _, model, tok = bert
    edited = copy.deepcopy(model)
    config = MapConfig(model=induction.from_model(edited, tok), trials=3, segment=8)
    first = compute_map(config)
    assert not first.cached and compute_map(config).cached
    twin = copy.deepcopy(edited)  # another object, the same weights: the same key
    assert compute_map(MapConfig(model=induction.from_model(twin, tok), trials=3, segment=8)).cached
    with torch.no_grad():
        edited.bert.encoder.layer[1].attention.self.query.weight.mul_(3.0)
    again = compute_map(config)
    assert not again.cached and again.fingerprint != first.fingerprint
    assert not np.allclose(again.per_trial["prev"], first.per_trial["prev"])
    with pytest.raises(ModelLoadError, match="has changed since"):  # the first result names the old weights
        head_detail(first.config, 1, 0)


def test_a_model_object_in_the_config_and_the_analyses(llama):
    """A decoder's config names its special ids: the model alone is enough for maps and trials."""
    import copy

    model = copy.deepcopy(llama[1])  # an object registered without a tokenizer
    config = MapConfig(model=model, trials=4, segment=8)
    result = compute_map(config, use_cache=False)
    assert result.kind == "causal" and result.config.model.startswith("memory:LlamaForCausalLM#")
    adaptive = compute_map_until(config, until_sem=1e-9, chunk=2, use_cache=False)
    assert adaptive.trials == 4
    _same_map(adaptive, result)
    detail = head_detail(result.config, 1, 2)
    assert detail.tokens[0].startswith("<")  # no tokenizer: tokens shown as their ids
    assert ablate(config, ["L1H0"], use_cache=False).loss_change is not None
    with pytest.raises(ConfigError, match="tokenizer"):
        induction.text_map(induction.TextConfig(model=model, text="one two one two " * 20))


def test_an_encoder_without_its_tokenizer_is_refused_in_one_line():
    from transformers import BertConfig, BertForMaskedLM

    model = BertForMaskedLM(BertConfig(vocab_size=200, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                       intermediate_size=32, max_position_embeddings=64))
    with pytest.raises(ModelLoadError, match="needs its tokenizer") as caught:
        compute_map(MapConfig(model=model, trials=2), use_cache=False)
    assert "\n" not in str(caught.value)
    with pytest.raises(ConfigError, match="PreTrainedModel"):
        compute_map(MapConfig(model=3.5, trials=2), use_cache=False)  # type: ignore[arg-type]
    from pathlib import Path

    assert memory.model_name(Path("some/folder")) == "some/folder"  # a path is a folder's name, not a model


def test_the_same_object_keeps_its_handle_and_a_gone_model_is_said(bert):
    _, model, tok = bert
    assert induction.from_model(model, tok) == induction.from_model(model) == memory.model_name(model)
    from transformers import BertForMaskedLM

    gone = BertForMaskedLM(model.config)
    handle = induction.from_model(gone, tok)
    del gone
    import gc

    gc.collect()
    with pytest.raises(ModelLoadError, match="no longer exists"):
        compute_map(MapConfig(model=handle, trials=2), use_cache=False)


# Interop: fake wrappers with the class and module names of TransformerLens and nnsight.
def _fake(module: str, name: str, **attrs):
    cls = type(name, (), {"__module__": module})
    obj = cls()
    for k, v in attrs.items():
        setattr(obj, k, v)
    return obj


def test_wrappers_are_unwrapped_or_refused_in_one_line(llama):
    folder, model, tok = llama
    bridge = _fake("transformer_lens.model_bridge.bridge", "TransformerBridge", original_model=model, tokenizer=tok)
    assert memory.unwrap(bridge) == (model, tok)
    nn_model = _fake("nnsight.modeling.language", "LanguageModel", _module=model, tokenizer=tok)
    assert memory.unwrap(_fake("nnsight.models.LanguageModel", "LanguageModel", _model=model)) == (model, None)
    assert memory.unwrap(nn_model) == (model, tok)
    via_bridge = compute_map(MapConfig(model=bridge, trials=3, segment=8, seed=1), use_cache=False)
    saved = compute_map(MapConfig(model=folder, trials=3, segment=8, seed=1), use_cache=False)
    _same_map(via_bridge, saved)  # the bridge's tokenizer was used: the folder's trials
    refusals = {
        _fake("transformer_lens.HookedTransformer", "HookedTransformer"): "TransformerBridge",
        _fake("transformer_lens.HookedEncoder", "HookedEncoder"): "Hugging Face model it was made from",
        _fake("nnsight.modeling.language", "LanguageModel"): "holds no Hugging Face model",
        _fake("peft.peft_model", "PeftModelForCausalLM"): "merge_and_unload",
    }
    for wrapper, hint in refusals.items():
        with pytest.raises(ConfigError, match=hint) as caught:
            compute_map(MapConfig(model=wrapper, trials=2), use_cache=False)
        assert "\n" not in str(caught.value)


def test_a_bridge_s_wrapped_modules_are_read_back_under_the_class_s_names(gpt2):
    """What TransformerBridge does to the model it holds, by hand: modules wrapped as `_original_component` with an
    alias beside them, and a zero bias added; the state read back is the model's own, so is its fingerprint."""
    import copy

    from induction.models.loading import describe

    folder, model = gpt2
    wrapped = copy.deepcopy(model)

    class Component(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self._original_component = inner
            self.alias = inner  # a second name for the same module (TransformerLens's ln1, attn.q, ...)

    wrapped.transformer.wte = Component(wrapped.transformer.wte)
    wrapped.transformer.h[0] = Component(wrapped.transformer.h[0])
    wrapped.lm_head.bias = torch.nn.Parameter(torch.zeros(wrapped.lm_head.out_features))
    state = memory.plain_state(wrapped)
    assert sorted(state) == sorted(model.state_dict())
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    tok = _toy_tokenizer(folder)
    assert describe(induction.from_model(wrapped, tok)).fingerprint == describe(
        induction.from_model(model, tok)).fingerprint
    with torch.no_grad():
        wrapped.lm_head.bias.fill_(1.0)
    with pytest.raises(ModelLoadError, match="before it was wrapped"):
        memory.plain_state(wrapped)


def test_an_nnsight_model_not_dispatched_is_refused(llama):
    _, model, _ = llama
    meta = types.SimpleNamespace(is_meta=True)
    inner = _fake("transformers.models.llama", "LlamaForCausalLM", config=model.config,
                  state_dict=lambda: {}, parameters=lambda: iter([meta]))
    lazy = _fake("nnsight.modeling.language", "LanguageModel", _model=inner)
    with pytest.raises(ConfigError, match="dispatch=True"):
        memory.unwrap(lazy)


@pytest.fixture(scope="module")
def gpt2(tmp_path_factory):
    """(folder, model): a random GPT-2 with the toy's tokenizer (an architecture TransformerLens bridges)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from induction.toys.toy_bert import VOCAB_SIZE, save_tokenizer

    torch.manual_seed(2)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=VOCAB_SIZE, n_embd=32, n_layer=2, n_head=4, n_positions=128,
                                       **SMALL))
    model.config.architectures = [type(model).__name__]
    folder = tmp_path_factory.mktemp("byom_gpt2")
    model.save_pretrained(folder)
    save_tokenizer(folder)
    return str(folder), model


@pytest.mark.skipif(not __import__("importlib").util.find_spec("transformer_lens"),
                    reason="transformer-lens is not installed (optional: pip install .[interop])")
def test_a_real_transformer_bridge(gpt2):
    """TransformerLens 4's bridge wraps the modules of the model it holds (and sets a BOS on the tokenizer it is
    given): the map of the model inside it, with the folder's tokenizer, is the folder's."""
    import copy

    from transformer_lens.model_bridge import TransformerBridge

    folder, model = gpt2
    bridge = TransformerBridge.boot_transformers(folder, hf_model=copy.deepcopy(model),
                                                 tokenizer=_toy_tokenizer(folder))
    config = dict(trials=3, segment=8, seed=5)
    mine = compute_map(MapConfig(model=induction.from_model(bridge, _toy_tokenizer(folder)), **config),
                       use_cache=False)
    _same_map(mine, compute_map(MapConfig(model=folder, **config), use_cache=False))
    assert compute_map(MapConfig(model=bridge, **config), use_cache=False).kind == "causal"  # its own tokenizer


@pytest.mark.skipif(not __import__("importlib").util.find_spec("nnsight"),
                    reason="nnsight is not installed (optional: pip install .[interop])")
def test_a_real_nnsight_language_model(llama):
    from nnsight import LanguageModel

    folder, model, tok = llama
    wrapped = LanguageModel(model, tokenizer=tok)
    mine = compute_map(MapConfig(model=wrapped, trials=3, segment=8, seed=4), use_cache=False)
    _same_map(mine, compute_map(MapConfig(model=folder, trials=3, segment=8, seed=4), use_cache=False))


def test_the_circuitsvis_export_is_the_drilldown_s_pattern():
    config = MapConfig(model="toy", setup="standard", trials=3)
    data = induction.circuitsvis_attention(compute_map(config), 1, [0, 1], trial=2)
    detail = head_detail(config, 1, 1, trial=2)
    attention = np.asarray(data["attention"])
    assert attention.shape == (2, len(detail.tokens), len(detail.tokens))
    np.testing.assert_allclose(attention[1], detail.pattern)
    assert data["tokens"] == detail.tokens and data["head_names"] == ["L1H0", "L1H1"]
    assert data["tokens"][data["query"]] == "[MASK]"
    np.testing.assert_allclose(attention.sum(axis=-1), 1.0, atol=1e-5)  # every query row is a distribution
    import json

    assert json.loads(json.dumps(data)) == data
    # the toy's induction head L1H0: the [MASK] attends most to the token after the earlier instance
    assert int(np.argmax(attention[0][data["query"]])) == detail.target_index["prev"]


def test_the_circuitsvis_html_renders_or_says_what_to_install():
    try:
        import circuitsvis.attention  # noqa: F401
        installed = True
    except ImportError:
        installed = False
    config = MapConfig(model="toy", setup="standard", trials=1)
    if not installed:
        with pytest.raises(ConfigError, match="pip install circuitsvis"):
            induction.circuitsvis_attention(config, 1, 0, html=True)
    else:
        page = induction.circuitsvis_attention(config, 1, 0, html=True)["html"]
        assert "<script" in page and "[MASK]" in page  # CircuitsVis's view, with the trial's tokens


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
def test_a_run_on_the_gpu_leaves_the_caller_s_model_on_the_cpu(bert):
    folder, model, tok = bert
    config = dict(trials=3, segment=8, device="cuda", dtype="float32")
    mine = compute_map(MapConfig(model=induction.from_model(model, tok), **config), use_cache=False)
    assert all(p.device.type == "cpu" for p in model.parameters())
    saved = compute_map(MapConfig(model=folder, **config), use_cache=False)
    for t in mine.targets:
        np.testing.assert_allclose(mine.per_trial[t], saved.per_trial[t], atol=1e-5)
