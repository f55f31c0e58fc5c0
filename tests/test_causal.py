"""Causal (decoder-only) models and the repeat setup: agreement with the one-trial eager reference over every
(trial, query) pair, the toy-gpt known answers, the causal baseline, and clear refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from induction.analyses.ablation import ablate
from induction.analyses.effects import effects
from induction.cli.parser import main
from induction.config import ConfigError, MapConfig, ModelLoadError
from induction.engine import capture, compute_map, get_model, make_trials
from induction.losses import loss_rows
from induction.reference import load_eager, straightforward_scores
from induction.toys.toy_bert import VOCAB_SIZE, save_tokenizer
from induction.toys.toy_gpt import FIRST_WORD, N_WORDS

SMALL = dict(vocab_size=VOCAB_SIZE, bos_token_id=101, eos_token_id=102, pad_token_id=0, initializer_range=0.2)


def _save(model, out) -> str:
    model.config.architectures = [type(model).__name__]
    model.save_pretrained(out)
    save_tokenizer(out)  # the toy's tokenizer: no BOS, so a causal trial starts with the first copy
    return str(out)


@pytest.fixture(scope="module")
def decoders(tmp_path_factory):
    """Small random decoders: GPT-2, Llama-style with grouped-query attention, GPT-NeoX (Pythia), OPT, Qwen2 and
    Mistral through the interface path; GPT-Neo through the fallback path."""
    from transformers import (
        GPT2Config,
        GPT2LMHeadModel,
        GPTNeoConfig,
        GPTNeoForCausalLM,
        GPTNeoXConfig,
        GPTNeoXForCausalLM,
        LlamaConfig,
        LlamaForCausalLM,
        MistralConfig,
        MistralForCausalLM,
        OPTConfig,
        OPTForCausalLM,
        Qwen2Config,
        Qwen2ForCausalLM,
    )

    root = tmp_path_factory.mktemp("decoders")
    torch.manual_seed(0)
    return {
        "gpt2": _save(GPT2LMHeadModel(GPT2Config(n_embd=32, n_layer=2, n_head=4, n_positions=128, **SMALL)),
                      root / "gpt2"),
        "llama": _save(LlamaForCausalLM(LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                                    num_attention_heads=4, num_key_value_heads=2,
                                                    max_position_embeddings=128, **SMALL)), root / "llama"),
        "gpt_neo": _save(GPTNeoForCausalLM(GPTNeoConfig(hidden_size=32, num_layers=2, num_heads=4,
                                                        attention_types=[[["global", "local"], 1]], window_size=8,
                                                        max_position_embeddings=128, **SMALL)), root / "gpt_neo"),
        "gpt_neox": _save(GPTNeoXForCausalLM(GPTNeoXConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                                           intermediate_size=64, max_position_embeddings=128,
                                                           **SMALL)), root / "gpt_neox"),
        "opt": _save(OPTForCausalLM(OPTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, ffn_dim=64,
                                              word_embed_proj_dim=32, max_position_embeddings=128, **SMALL)),
                     root / "opt"),
        **{name: _save(cls(conf(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                                num_key_value_heads=2, max_position_embeddings=128, **SMALL)), root / name)
           for name, cls, conf in (("qwen2", Qwen2ForCausalLM, Qwen2Config),
                                   ("mistral", MistralForCausalLM, MistralConfig))},
    }


@pytest.mark.parametrize("family", ["gpt2", "llama", "gpt_neo", "gpt_neox", "opt", "qwen2", "mistral"])
def test_decoder_maps_agree_with_the_one_trial_reference(family, decoders):
    path = decoders[family]
    config = MapConfig(model=path, setup="repeat", trials=3, segment=12, seed=2)
    result = compute_map(config, use_cache=False)
    assert result.kind == "causal" and result.capture_path == ("fallback" if family == "gpt_neo" else "interface")
    model, reference = get_model(path), load_eager(path)
    batch = make_trials(config, model)
    expected = straightforward_scores(reference, batch, "repeat")
    for target, ref in expected.items():
        np.testing.assert_allclose(result.per_trial[target], ref, atol=1e-5, rtol=0, err_msg=f"{family} {target}")
    # every (trial, query) pair: the captured rows are the eager weights of each query
    rows = capture(model, batch)  # [T, L, H, Q, S]
    for t in range(batch.trials):
        with torch.no_grad():
            weights = reference(input_ids=torch.tensor(batch.input_ids[t:t + 1]), output_attentions=True).attentions
        eager = torch.stack(weights, dim=1)[0].numpy()  # [L, H, S, S]
        np.testing.assert_allclose(rows[t], eager[:, :, batch.mask_index[t]], atol=1e-5, rtol=0)
        assert np.all(rows[t][..., batch.mask_index[t][0] + 1:][:, :, 0] == 0)  # the first query sees no later key
    assert result.mean("induction").std() > 1e-3  # wide weights: attention far from uniform


def test_a_causal_model_has_no_standard_setup_and_an_encoder_decoder_is_refused(decoders, tmp_path):
    from transformers import BartConfig, BartForConditionalGeneration

    with pytest.raises(ConfigError, match=r"causal .*repeat"):
        compute_map(MapConfig(model=decoders["gpt2"], setup="standard", trials=2), use_cache=False)
    bart = _save(BartForConditionalGeneration(BartConfig(vocab_size=VOCAB_SIZE, d_model=16, encoder_layers=1,
                                                         decoder_layers=1, encoder_attention_heads=2,
                                                         decoder_attention_heads=2, encoder_ffn_dim=32,
                                                         decoder_ffn_dim=32)), tmp_path / "bart")
    with pytest.raises(ModelLoadError, match="encoder-decoder"):
        compute_map(MapConfig(model=bart, setup="repeat", trials=2), use_cache=False)
    with pytest.raises(ConfigError, match="repeat setup masks nothing"):
        MapConfig(setup="repeat", protocol="paper").validate()


def test_repeat_on_an_encoder_agrees_with_the_reference(random_bert):
    config = MapConfig(model=random_bert, setup="repeat", trials=3, segment=10, seed=1)
    result = compute_map(config, use_cache=False)
    batch = make_trials(config, get_model(random_bert))
    assert batch.input_ids[0, 0] == 101 and batch.input_ids[0, -1] == 102  # [CLS] ... [SEP], nothing masked
    assert (batch.input_ids == batch.original_ids).all()
    expected = straightforward_scores(load_eager(random_bert), batch, "repeat")
    for target, ref in expected.items():
        np.testing.assert_allclose(result.per_trial[target], ref, atol=1e-5, rtol=0)
    assert result.kind == "encoder" and result.baseline == pytest.approx(1 / (2 * 10 + 2))


def test_the_causal_baseline_is_what_uniform_attention_scores(tmp_path):
    """Zero query and key weights: each query spreads evenly over the positions it sees."""
    from transformers import GPT2LMHeadModel

    from induction.toys.toy_gpt import config as toy_config
    from induction.toys.toy_gpt import save_tokenizer as save_gpt_tokenizer

    model = GPT2LMHeadModel(toy_config())
    with torch.no_grad():
        for block in model.transformer.h:
            block.attn.c_attn.weight[:, :2 * model.config.n_embd] = 0.0
            block.attn.c_attn.bias.zero_()
    model.config.architectures = ["GPT2LMHeadModel"]
    model.save_pretrained(tmp_path)
    save_gpt_tokenizer(tmp_path)
    result = compute_map(MapConfig(model=str(tmp_path), setup="repeat", trials=2, segment=6), use_cache=False)
    # BOS + 6 + 6: the queries sit at 7..12 and see 8..13 positions
    assert result.baseline == pytest.approx(np.mean([1 / (p + 1) for p in range(7, 13)]))
    for target in result.targets:
        np.testing.assert_allclose(result.mean(target), result.baseline, atol=1e-6)


def test_toy_gpt_has_its_previous_token_and_induction_heads():
    result = compute_map(MapConfig(model="toy-gpt", setup="repeat", trials=50), use_cache=False)
    assert result.kind == "causal"
    assert result.top_heads("induction", 1)[0].name == "L1H0" and result.mean("induction")[1, 0] >= 0.5
    assert result.top_heads("previous_token", 1)[0].name == "L0H0" and result.mean("previous_token")[0, 0] >= 0.5
    assert result.mean("induction")[1, 0] > 10 * result.baseline
    assert result.mean("duplicate").max() < 3 * result.baseline  # it copies the next token, not the same one


def test_toy_gpt_completes_repeated_sequences():
    model = get_model("toy-gpt")
    batch = make_trials(MapConfig(model="toy-gpt", setup="repeat", trials=20), model)
    assert batch.input_ids[0, 0] == model.vocab.bos_id
    with torch.no_grad():
        logp = torch.log_softmax(model.mlm(input_ids=torch.tensor(batch.input_ids)).logits.float(), dim=-1).numpy()
    positions, targets = loss_rows(batch, "causal")
    second = -np.take_along_axis(logp[np.arange(20)[:, None], positions], targets[..., None], axis=-1).mean()
    segment = positions.shape[1] + 1
    first = positions - segment  # the same places in the first copy: nothing to copy yet
    unseen = -np.take_along_axis(logp[np.arange(20)[:, None], first],
                                 np.take_along_axis(batch.input_ids, first + 1, axis=1)[..., None], axis=-1).mean()
    assert second < 0.05 and unseen > 0.9 * np.log(N_WORDS)


def test_fresh_toy_gpt_has_no_head_and_the_shipped_weights_are_the_script_s(tmp_path):
    from safetensors.torch import load_file
    from transformers import GPT2LMHeadModel

    from induction.models.registry import ASSETS
    from induction.toys.toy_gpt import build, config
    from induction.toys.toy_gpt import save_tokenizer as save_gpt_tokenizer

    torch.manual_seed(0)
    fresh = GPT2LMHeadModel(config())
    fresh.config.architectures = ["GPT2LMHeadModel"]
    fresh.save_pretrained(tmp_path)
    save_gpt_tokenizer(tmp_path)
    result = compute_map(MapConfig(model=str(tmp_path), setup="repeat", trials=50, segment=16), use_cache=False)
    for target in result.targets:
        assert result.mean(target).max() < 3 * result.baseline, target
    shipped = load_file(str(ASSETS / "toy-gpt" / "model.safetensors"))
    for name, tensor in build(0).state_dict().items():
        if name in shipped:
            torch.testing.assert_close(shipped[name], tensor, atol=1e-6, rtol=0)
    assert set(get_model("toy-gpt").vocab.clean_ids.tolist()) == set(range(FIRST_WORD, FIRST_WORD + N_WORDS))


def test_ablation_and_effects_read_the_next_token_loss():
    config = MapConfig(model="toy-gpt", setup="repeat", trials=10)
    induction_head = ablate(config, ["L1H0"], use_cache=False)
    off_head = ablate(config, ["L1H1"], use_cache=False)
    assert induction_head.loss_clean < 0.05 and induction_head.loss_ablated > 4.0
    assert off_head.loss_ablated == pytest.approx(off_head.loss_clean, abs=1e-5)
    result = effects(config, use_cache=False)
    np.testing.assert_allclose(result.effect[1, 0], induction_head.loss_ablated - induction_head.loss_clean,
                               atol=1e-4)
    assert result.effect[0, 0] > 4.0 and abs(result.effect[:, 1]).max() < 1e-4
    with pytest.raises(ConfigError, match="masks nothing"):
        effects(MapConfig(model="toy", setup="repeat", trials=2), use_cache=False)


def test_cli_records_the_kind_and_dumps_query_lists(tmp_path, capsys):
    out = tmp_path / "map.json"
    assert main(["map", "--model", "toy-gpt", "--setup", "repeat", "--trials", "2", "--segment", "5", "--json",
                 str(out), "--dump-trials", "--no-cache"]) == 0
    payload = json.loads(out.read_text())
    assert payload["kind"] == "causal" and payload["setup"] == "repeat"
    trial = payload["trials_dump"][0]
    assert trial["query_index"] == [6, 7, 8, 9, 10]  # BOS + 5 + 5: the second copy
    assert trial["target_index"]["induction"] == [2, 3, 4, 5, 6]
    assert trial["target_index"]["duplicate"] == [1, 2, 3, 4, 5]
    assert trial["target_index"]["previous_token"] == [5, 6, 7, 8, 9]
    assert all(trial["input_ids"][q] == trial["input_ids"][d]
               for q, d in zip(trial["query_index"], trial["target_index"]["duplicate"], strict=True))
    capsys.readouterr()
    assert main(["map", "--model", "toy-gpt", "--trials", "2", "--no-cache"]) == 0  # issue 40: the decoder's setup
    assert "setup=repeat" in capsys.readouterr().out
    assert main(["map", "--model", "toy-gpt", "--setup", "standard", "--trials", "2"]) == 2
    assert "causal" in capsys.readouterr().err


def test_the_drilldown_of_a_repeat_map_reads_a_query_of_the_second_copy():
    from induction.analyses.head_detail import head_detail

    detail = head_detail(MapConfig(model="toy-gpt", setup="repeat", trials=3), 1, 0, trial=2)
    assert detail.query_label == "query" and detail.mask_index == 1 + 16 + 8  # BOS + first copy + half the second
    assert int(np.argmax(detail.row)) == detail.target_index["induction"] == detail.anchor_index + 1
    assert detail.row[detail.mask_index + 1:].sum() == 0  # a causal query sees no later token


@pytest.mark.parametrize("family", ["gpt2", "gpt_neo"])
def test_ablating_a_decoder_head_changes_only_what_lies_above_it(family, decoders):
    """Both capture paths: the attention function (GPT-2) and the output-projection hook (GPT-Neo)."""
    result = ablate(MapConfig(model=decoders[family], setup="repeat", trials=3, segment=8), ["L0H1"], use_cache=False)
    layer0 = result.ablated("induction")[0]
    np.testing.assert_allclose(np.delete(layer0, 1), np.delete(result.clean.mean("induction")[0], 1), atol=1e-6)
    assert np.isnan(layer0[1]) and np.abs(result.diff("induction")[1]).max() > 1e-4  # layer 1 reads layer 0
    assert abs(result.loss_ablated - result.loss_clean) > 1e-4


def test_a_causal_model_is_charged_only_for_its_bos(tmp_path):
    """A decoder's trial is (BOS +) segment + segment: no [CLS]/[SEP] positions are counted against it."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from induction.runs import resolve_run

    config = LlamaConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                         max_position_embeddings=256, **{**SMALL, "bos_token_id": None})
    path = _save(LlamaForCausalLM(config), tmp_path / "llama-no-bos")
    run = resolve_run(MapConfig(model=path, setup="repeat", segment=128, trials=1))
    assert run.config.segment == 128  # 256 positions hold two copies of 128 with no BOS
    batch = make_trials(run, get_model(path))
    assert batch.input_ids.shape[1] == 256
    with pytest.raises(ConfigError, match="needs 258 positions but the model has 256; the longest segment that fits "
                                          "is 128"):
        resolve_run(MapConfig(model=path, setup="repeat", segment=129, trials=1))
    # toy-gpt has a BOS: 128 positions hold BOS + 2 x 63
    with pytest.raises(ConfigError, match="the longest segment that fits is 63"):
        resolve_run(MapConfig(model="toy-gpt", setup="repeat", segment=64, trials=1))
    assert make_trials(resolve_run(MapConfig(model="toy-gpt", setup="repeat", segment=63, trials=1)),
                       get_model("toy-gpt")).input_ids.shape[1] == 127
