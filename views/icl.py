"""In-context learning score: Loss(short context) - Loss(long context), and the ICL curve."""

import streamlit as st

from dashboard import library
from dashboard.downloads import to_json_text
from dashboard.sidebar import sidebar, title
from induction import deploy
from induction.analyses.icl import (
    CAUSAL_VARIANTS,
    CURVE_LENGTHS,
    ENCODER_VARIANTS,
    SIGN,
    ICLConfig,
    default_corpus,
    sign,
)
from induction.figures.plots import curve_figure, distribution_figure
from induction.losses import loss_name
from induction.models.registry import KNOWN_MODELS, OFFLINE_MODELS
from induction.training.series import SERIES
from induction.trials.corpus import PYTHON_DOCS, PYTHON_DOCS_HELD_OUT, PYTHON_DOCS_TRAIN

NAMED_CORPORA = (PYTHON_DOCS, PYTHON_DOCS_HELD_OUT, PYTHON_DOCS_TRAIN, "wikipedia-simple")
TRAINED = tuple(m for m in OFFLINE_MODELS if m in SERIES)  # trained here on python-docs' training topics
TOYS = tuple(m for m in OFFLINE_MODELS if KNOWN_MODELS[m].source.startswith("bundled:") and m not in TRAINED)

# inputs
state = sidebar()
title("In-context learning")
no_head = [m for m in OFFLINE_MODELS if m not in TOYS and library.mlm_note(m)]
st.info(f"**What works here.** The score needs a model with a trained LM head and a corpus its tokenizer reads. "
        f"Offline, {', '.join(TOYS)} (hand-set) read only their own tokens (t100 t101 …): they score a folder of "
        f".txt files written in those tokens, not the named corpora"
        + (f"; {', '.join(TRAINED)} (trained here, one token a character, on python-docs' training topics) score "
           f"{PYTHON_DOCS_HELD_OUT} offline (paragraphs of the python-docs topics they never trained on), with "
           "contexts their 64 positions hold (for example 6 and 60 tokens)" if TRAINED else "")
        + (f"; {', '.join(no_head)} has no trained masked-LM head and gives no number" if no_head else "")
        + ". BERT tiny..large (the study's models) score python-docs once their weights are in the local Hugging "
          "Face cache or the Hub is reachable.")
kind = library.model_kind(state.model)
variants = CAUSAL_VARIANTS if kind == "causal" else ENCODER_VARIANTS
if kind == "causal":
    st.caption(f"A decoder's score: **next-token**, {sign('next-token')}.")
else:
    st.caption(f"{SIGN}. Default variant: **masked** (the masked token's loss, as the reference study describes); "
               "**all-tokens** is what the study's code computed (mean loss over every position), which gave 0.2555 "
               "for bert-base-uncased.")
a, b, c = st.columns(3)
own_corpus = default_corpus(state.model)  # never a model's training text (a checkpoint's name or folder too)
corpus = a.text_input("Corpus", own_corpus, help=f"{PYTHON_DOCS} (offline; {PYTHON_DOCS_HELD_OUT} and "
                      f"{PYTHON_DOCS_TRAIN} are its held-out and training topics), wikipedia-simple (needs network "
                      "and the datasets package), or a .txt file / folder of .txt files", key="icl_corpus")
if st.session_state.get("icl_variant") not in variants:
    st.session_state.pop("icl_variant", None)
variant = b.selectbox("Variant", variants, key="icl_variant")
replace = c.checkbox("Sample documents with replacement", key="icl_replace")
d, e, f = st.columns(3)
long_default = min(500, library.max_positions(state.model))  # the study's 50/500 where the model fits them
short = d.number_input("Short context (tokens)", 3, 4096, min(50, long_default // 4), key="icl_short")
long = e.number_input("Long context (tokens)", 4, 4096, long_default, key="icl_long")
curve = f.checkbox(f"ICL curve ({loss_name(kind)} vs context length)", key="icl_curve")

# guard: said before anything runs
note = library.mlm_note(state.model)
if note:
    st.error(note)
    st.stop()
if own_corpus == PYTHON_DOCS_HELD_OUT and corpus in (PYTHON_DOCS, PYTHON_DOCS_TRAIN):
    st.warning(f"{state.model} trained on python-docs' training topics: a score on {corpus} is measured on text it "
               f"has seen. {PYTHON_DOCS_HELD_OUT} holds the topics it never saw.")
if state.model in TOYS and corpus in NAMED_CORPORA:
    st.error(f"{state.model} reads only its own tokens (t100 t101 …), not the English text of {corpus}: type the "
             "path of a folder of .txt files written in those tokens, or choose a BERT size.")
    st.stop()
if deploy.limits().deployed and corpus not in NAMED_CORPORA:
    st.error("This server only offers the named corpora.")
    st.stop()

# compute: the result stays until an input changes
config = ICLConfig(model=state.model, corpus=corpus, variant=variant, trials=state.trials, seed=state.seed,
                   short=int(short), long=int(long), replace=replace,
                   curve=tuple(n for n in CURVE_LENGTHS if n <= long) if curve else ())
if st.button("Compute ICL score", type="primary"):
    st.session_state.icl_result = (config, library.get_icl(config))
kept = st.session_state.get("icl_result")
if not kept or kept[0] != config or kept[1] is None:
    st.stop()
result = kept[1]

# render
left, right = st.columns(2)
left.metric("ICL gain (nats), positive when context helps", f"{result.gain:.4f}", f"± {result.sem:.4f} (s.e.)",
            delta_color="off")
right.metric(f"{result.definition}, {variant}", f"{result.mean:.4f}", f"± {result.sem:.4f} (s.e.)",
             delta_color="off")
st.caption(f"{len(result.per_trial)} trials · {result.eligible_documents} eligible documents · "
           f"{result.skipped_documents} shorter documents skipped · corpus {result.config.corpus}, hash "
           f"{result.corpus_hash}")
with st.expander("The documents of the trials"):
    st.write(", ".join(result.documents))
run = f"{state.model} · {result.config.corpus} · {variant} · {len(result.per_trial)} trials · seed {state.seed}"
st.plotly_chart(distribution_figure(result.gain_per_trial, baseline=0.0, title=f"per-trial gain · {run}",
                                    x_title="loss saved by the longer context in one trial (nats; positive when "
                                            "context helps)",
                                    line_label="no help from context"), width="stretch")
if result.curve and len(result.curve) < 2:  # one point is no curve
    st.caption(f"The ICL curve needs two context lengths; only {next(iter(result.curve))} tokens fits {state.model}.")
elif result.curve:
    lengths = list(result.curve)
    what = "next-token loss of token n" if variant == "next-token" else "masked-token loss"
    st.plotly_chart(curve_figure(lengths, {what: ([result.curve[n][0] for n in lengths],
                                                                 [result.curve[n][1] for n in lengths])},
                                 x_title="token n" if variant == "next-token" else "context length (tokens)",
                                 y_title="loss", title=f"ICL curve · {run}"), width="stretch")
st.download_button("ICL result (JSON)", to_json_text(result.to_json()), "icl.json", "application/json")
