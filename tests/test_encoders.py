"""Other encoder families go through the same capture path and agree with the straightforward reference."""

from __future__ import annotations

import numpy as np
import pytest

from induction.config import MapConfig
from induction.engine import compute_map, get_model, make_trials
from induction.reference import load_eager, straightforward_scores


def _save(kind: str, out) -> str:
    import torch
    from transformers import (
        DistilBertConfig,
        DistilBertForMaskedLM,
        ElectraConfig,
        ElectraForMaskedLM,
        RobertaConfig,
        RobertaForMaskedLM,
    )

    from induction.toys.toy_bert import VOCAB_SIZE, save_tokenizer

    torch.manual_seed(0)
    if kind == "roberta":
        model = RobertaForMaskedLM(RobertaConfig(vocab_size=VOCAB_SIZE, hidden_size=32, num_hidden_layers=2,
                                                 num_attention_heads=4, intermediate_size=64, pad_token_id=0,
                                                 max_position_embeddings=130))
    elif kind == "distilbert":
        model = DistilBertForMaskedLM(DistilBertConfig(vocab_size=VOCAB_SIZE, dim=32, n_layers=2, n_heads=4,
                                                       hidden_dim=64, max_position_embeddings=128))
    else:
        model = ElectraForMaskedLM(ElectraConfig(vocab_size=VOCAB_SIZE, embedding_size=16, hidden_size=32,
                                                 num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                                                 max_position_embeddings=128))
    model.config.architectures = [type(model).__name__]
    model.save_pretrained(out)
    save_tokenizer(out)
    return str(out)


@pytest.mark.parametrize("kind", ["roberta", "distilbert", "electra"])
def test_encoder_family_agrees_with_reference(kind, tmp_path):
    path = _save(kind, tmp_path / kind)
    config = MapConfig(model=path, setup="standard", trials=4, segment=10)
    result = compute_map(config, use_cache=False)
    model = get_model(path)
    assert model.mlm is not None and (result.layers, result.heads) == (2, 4)
    expected = straightforward_scores(load_eager(path), make_trials(config, model), "standard")
    for target, ref in expected.items():
        np.testing.assert_allclose(result.per_trial[target], ref, atol=1e-5)
