"""About / method: what the scores mean and the exact protocol."""

import streamlit as st

from dashboard.sidebar import sidebar, title
from induction import deploy
from induction.config import PAPER_SEGMENT, PAPER_TRIALS, SETUP_TARGETS
from induction.study.reported import STUDY_CITATION
from induction.trials.rrt import PAPER_ID_RANGE

sidebar()  # keeps the view state (and the URL) when passing through this page
title("About the method")
st.markdown(f"""
**The reference study.** {STUDY_CITATION}. This dashboard reproduces its repeated-random-token (RRT)
experiments on BERT and extends them (decoders, ablation, effects, your own text); the **Reproduce the study**
page compares its reported heads with what is measured here.

An **induction head** attends from a token to the place after an earlier occurrence of its context,
and copies. In a bidirectional masked LM we test this behaviourally with **repeated random tokens (RRT)**:
a random segment is repeated, one token of a later copy is replaced by `[MASK]`, and we read the
attention that the `[MASK]` pays to *inductive* positions. One trial is one random sequence, one masked
position and one forward pass; every layer, head and target comes from that same pass. A head's
**induction score** for a target is that attention averaged over trials; the layers x heads map of it is
an **induction map**. Layers and heads are 0-indexed (L9H9 = layer 9, head 9).

| setup | sequence | masked token | targets |
|---|---|---|---|
| standard | segment + segment | in the 2nd copy | `prev`: same token in the 1st copy; `prev_before` / `prev_after`: the positions just before / after it |
| shuffled | segment + shuffle(segment) | in the 2nd copy, with both neighbours there | `left_match`: after the earlier instance of the left neighbour; `right_match`: before the earlier instance of the right neighbour; `sum` |
| triple | segment x 3 | in the middle copy | `earlier`: its instance in the 1st copy; `later`: in the 3rd copy |
| repeat | (BOS or `[CLS]`) + segment + segment | nothing: every token of the 2nd copy is a query | `induction`: the token after its earlier instance (the Induction Mosaic's score); `duplicate`: the earlier instance itself; `previous_token`: the position just before the query |

**Causal (decoder-only) models** (GPT-2, Pythia, OPT, Llama-style, the bundled `toy-gpt`) run only the
**repeat** setup: they have no `[MASK]` and each token sees only earlier ones. Encoders run it too, so BERT
and GPT-2 are compared on exactly the same score (the **Mosaic** page). A repeat map is the mean over every
(trial, query) pair; its standard error is over trials. For a causal model the uniform baseline is the mean
of 1 / (p + 1) over the queries (a query at position p sees p + 1 positions); ablation and effects read the
next-token loss on the second copy instead of the masked-token loss.

**Protocols.**
- **paper** reproduces the reference study: ids uniform in [{PAPER_ID_RANGE[0]}, {PAPER_ID_RANGE[1]}) (special
  ids in that range not excluded, as in the study), sequence = `[SEP]` + copies (no `[CLS]`, no trailing
  `[SEP]`, default attention mask and token types), segment {PAPER_SEGMENT['standard']} for standard and
  shuffled, {PAPER_SEGMENT['triple']} for triple, {PAPER_TRIALS} trials, mask id from the tokenizer (103 for
  BERT). The masked position is uniform over the named copy (the study's off-by-one is not reproduced).
- **clean** (default): ids from the model's vocabulary without special or `[unusedN]` tokens, distinct
  within a segment so "the earlier instance" is unique; sequence = `[CLS]` + copies + `[SEP]`; segment length
  your choice, checked against the model's positions.

Every run takes a seed; trial *t* is built from (seed, *t*), so results reproduce exactly on the same device
and 50 trials are the first 50 of 100.

**Reading a score.** Each cell shows the mean over trials and, on hover, its standard error. The
**uniform baseline** is 1 / (number of attended positions): what a head that spreads attention evenly
would score (about 0.0025 for a 401-token sequence). A score many times the baseline is signal.

**Known answers.** The reference study found strong heads only in the last layers of BERT-base
(L10H9, L9H0, L9H6 for the previous instance; L9H9 for the token before, L8H2 for the token after).
The bundled `toy` model is the project's known-answer model: a 2-layer, 2-head BERT whose weights are
**set by hand** (`python -m induction.toys.toy_bert`), not trained: L0H0 is a previous-token head and L0H1 a
next-token head; L1H0 is an induction head keyed on the left neighbour and L1H1 one keyed on the right
neighbour, both copying the attended token into what the MLM head reads. Its induction heads score far
above the baseline, while the same architecture freshly initialised has no head above 3x the baseline.
(Training one on 2 CPU cores did not give a clean induction head; `induction/toys/toy_bert.py` keeps that loop.)

Targets per setup: {", ".join(f"{k}: {', '.join(v)}" for k, v in SETUP_TARGETS.items())}.
""")

if deploy.limits().deployed:  # what this server holds and how much it may hold (issue 25)
    from dashboard.library import server_load

    st.subheader("This server")
    st.markdown(server_load())
