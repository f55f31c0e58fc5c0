"""Tiny randomly initialised models of every encoder family with a masked-LM class in transformers,
enumerated from transformers' own mapping (decoders, encoder-decoders and multimodal models skipped)."""

from __future__ import annotations

from pathlib import Path

from induction.toys.toy_bert import VOCAB_SIZE, save_tokenizer

# What every family's tiny config gets; weights drawn wide (N(0, 0.2)) so attention is far from uniform
# and a missing positional bias would show.
BASE = dict(vocab_size=VOCAB_SIZE, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
            max_position_embeddings=128, initializer_range=0.2, pad_token_id=0, bos_token_id=101, eos_token_id=102,
            cls_token_id=101, sep_token_id=102, mask_token_id=103, hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0)
# Families whose configs name their sizes differently (the mapping gives the families; these make them tiny).
FIXUPS = {
    "mobilebert": dict(embedding_size=32, intra_bottleneck_size=32, true_hidden_size=32, use_bottleneck=False),
    "squeezebert": dict(embedding_size=32),
    "funnel": dict(block_sizes=[1, 1], num_decoder_layers=1, d_model=32, n_head=4, d_head=8, d_inner=64,
                   num_hidden_layers=None, num_attention_heads=None, hidden_size=None, intermediate_size=None,
                   max_position_embeddings=None),
    "reformer": dict(axial_pos_embds_dim=[16, 16], axial_pos_shape=[8, 16], attention_head_size=8),
}


def encoder_families() -> list[str]:
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_MASKED_LM_MAPPING_NAMES

    out = []
    for model_type in sorted(MODEL_FOR_MASKED_LM_MAPPING_NAMES):
        config = AutoConfig.for_model(model_type)
        if config.is_encoder_decoder or getattr(config, "is_decoder", False) or config.sub_configs:
            continue
        out.append(model_type)
    return out


def save_family(model_type: str, out: Path, seed: int = 0) -> str:
    import torch
    import transformers
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_MASKED_LM_MAPPING_NAMES

    kwargs = {k: v for k, v in {**BASE, **FIXUPS.get(model_type, {})}.items() if v is not None}  # None: unset
    config = AutoConfig.for_model(model_type, **kwargs)
    torch.manual_seed(seed)
    model = getattr(transformers, MODEL_FOR_MASKED_LM_MAPPING_NAMES[model_type])(config)
    model.config.architectures = [type(model).__name__]
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    save_tokenizer(out)
    return str(out)
