"""The trained models' vocabulary: five specials, then one token per character of printable ASCII and newline.

Why characters: the python-docs corpus (what the training data's natural text and the ICL score read) is
nearly all ASCII (99.9% of its characters), so a character tokenizer reads it with almost no unknowns, has a
vocabulary small enough for a 64-wide model, and gives repeated random tokens without a word list.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
PAD, UNK, CLS, SEP, MASK = range(len(SPECIALS))
CHARACTERS = (*(chr(c) for c in range(32, 127)), "\n")
TOKENS = SPECIALS + CHARACTERS
FIRST_CHARACTER = len(SPECIALS)
VOCAB_SIZE = len(TOKENS)
_INDEX = {tok: i for i, tok in enumerate(TOKENS)}


def encode(text: str) -> np.ndarray:
    """Character ids of `text` (anything outside the vocabulary is [UNK])."""
    return np.fromiter((_INDEX.get(c, UNK) for c in text), dtype=np.int64, count=len(text))


def save_tokenizer(out: Path, kind: str) -> None:
    """A character-level fast tokenizer: a decoder's starts with [CLS] as its BOS (and ends nothing); an encoder's
    wraps a text in [CLS] ... [SEP] and has [MASK]."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.WordLevel(vocab=dict(_INDEX), unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")  # every character a token
    core.decoder = decoders.Fuse()
    if kind == "causal":
        core.post_processor = processors.TemplateProcessing(single="[CLS] $A", special_tokens=[("[CLS]", CLS)])
        tok = PreTrainedTokenizerFast(tokenizer_object=core, bos_token="[CLS]", eos_token="[SEP]",
                                      unk_token="[UNK]", pad_token="[PAD]")
    else:
        core.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", CLS), ("[SEP]", SEP)])
        tok = PreTrainedTokenizerFast(tokenizer_object=core, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                      sep_token="[SEP]", mask_token="[MASK]")
    tok.save_pretrained(out)
