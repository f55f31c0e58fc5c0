"""Your text: the same heads on natural text; each repeated token masked in turn."""

import pandas as pd
import streamlit as st

from dashboard import library
from dashboard import text_panels as page
from dashboard.maps import clickable_map
from dashboard.sidebar import sidebar, title
from dashboard.viewstate import MAX_LINK_TEXT
from induction import deploy
from induction.analyses.text_map import DEFAULT_MIN_DISTANCE, TextConfig, corpus_documents, text_targets
from induction.config import head_name
from induction.figures.plots import map_figure, row_figure, tokens_figure

# inputs
state = sidebar()
title("Your text")
kind = library.model_kind(state.model)
st.caption(page.intro(kind))
topics = list(corpus_documents("python-docs"))
st.session_state.w_text_source = page.DOCUMENT if state.doc else page.PASTE
source = st.radio("Text", [page.PASTE, page.DOCUMENT], horizontal=True, key="w_text_source",
                  on_change=page.on_source_change, args=(topics[0],))
if source == page.PASTE:
    st.session_state.setdefault("user_text", state.text)
    limit = page.DEPLOYED_MAX_CHARS if deploy.limits().deployed else page.LOCAL_MAX_CHARS
    text = st.text_area("Your text", key="user_text", height=140, max_chars=limit, on_change=page.on_text_change,
                        help=f"at most {limit:,} characters")
    note = page.wait_note(len(text), library.model_size(state.model))
    if note:
        st.caption(note)
    config_source = dict(text=text)
else:
    st.session_state.w_doc = state.doc if state.doc in topics else topics[0]
    doc = st.selectbox("Document", topics, key="w_doc", on_change=page.on_doc_change)
    config_source = dict(corpus="python-docs", document=doc)
a, b = st.columns(2)
distance = a.number_input("Min distance", 2, 1000, DEFAULT_MIN_DISTANCE, key="text_distance")
targets = text_targets(kind)  # a decoder's text map has the repeat setup's targets
if st.session_state.get("text_target") not in targets:  # another kind's target: this kind's first, set (a popped
    st.session_state.text_target = targets[0]  # key left the radio empty after a model switch)
target = b.radio("Target", targets, horizontal=True, key="text_target")
if source == page.PASTE and len(config_source["text"]) > MAX_LINK_TEXT:
    st.caption(f"A shared link carries the model and settings, not this text (over {MAX_LINK_TEXT} characters).")

# guard + compute
if source == page.PASTE and not config_source["text"].strip():
    st.info("Paste a text in which some tokens repeat, or pick a python-docs document.")
    st.stop()
config = TextConfig(model=state.model, min_distance=int(distance), seed=state.seed,
                    max_occurrences=min(200, deploy.limits().max_trials), **config_source)
result = page.get_text_map(config)
if result is None:
    st.stop()

# render
names = [f"#{k}: '{o['token']}' at {o['position']} (earlier {o['earlier']})" for k, o in enumerate(result.occurrences)]
page.keep_occurrence_in_range(config, len(names))
pick = st.selectbox("Query this occurrence" if kind == "causal" else "Mask this occurrence", range(len(names)),
                    format_func=names.__getitem__, key="text_occurrence")
window_tokens = page.tokens(config)
if window_tokens is not None:  # None: the worker's error, already shown
    st.plotly_chart(tokens_figure(window_tokens, result.occurrences, pick), key="text_tokens", width="stretch",
                    on_select=page.on_token_click, selection_mode="points")
st.caption(f"Click an orange (repeated) token to {'make it the query' if kind == 'causal' else 'mask it'}; light "
           "orange: the earlier occurrences.")
mean, sem = result.stats(target)
left, right = st.columns([3, 2])
with left:
    selected = [(state.layer, state.head)] if state.head_selected() else []
    clickable_map(map_figure(mean, sem, zmin=float(mean.min()), zmax=float(mean.max()), selected=selected,
                             title=f"{state.model} · your text · {target} · {result.trials} occurrences · seed "
                                   f"{state.seed} · baseline {result.baseline:.4f}"))
with right:
    st.dataframe(pd.DataFrame(result.top_heads(target, 8))[["name", "score", "sem", "ratio"]].round(4),
                 hide_index=True)
    st.caption(f"{result.source} · " + ("from the cache" if result.cached else f"computed in {result.elapsed_s:.1f}s"))
if result.found > result.trials:
    st.info(f"The text has {result.found} repeated-token occurrences; {result.trials} of them, drawn at random with "
            f"seed {state.seed}, are scored (the page's limit).")
if not state.head_selected() or state.layer >= result.layers or state.head >= result.heads:
    st.info("Click a head on the map to see its attention on the masked occurrence and the occurrences it gets.")
    st.stop()
name = head_name(state.layer, state.head)
detail = page.occurrence_detail(config, pick, state.layer, state.head)
if detail is not None:
    st.plotly_chart(row_figure(detail, title=f"{name} from occurrence #{pick} (targets in orange)"), width="stretch")
scores = result.per_trial[target][:, state.layer, state.head]
table = pd.DataFrame(result.occurrences).assign(score=scores.round(4), right=scores >= 0.5)
st.markdown(f"**{name}**: {int((scores >= 0.5).sum())} of {len(scores)} occurrences get at least half its "
            f"attention on `{target}`")
st.dataframe(table.sort_values("score", ascending=False), hide_index=True, width="stretch")
