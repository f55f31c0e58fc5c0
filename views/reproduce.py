"""Reproduce the study: every experiment for each size, what the study reported beside what was measured."""

import pandas as pd
import streamlit as st

from dashboard import library
from dashboard.downloads import to_json_text
from dashboard.sidebar import sidebar, title
from induction.study.reported import SCORE_TOLERANCE, SIZES_ORDER

STATUS = {"match": "match", "differs": "differs", "not run": "not run"}  # words: no emoji font needed

# inputs
state = sidebar()
title("Reproduce the study")
st.caption("The paper protocol (`[SEP]` + copies, ids from [100, 20000), segment 200/150) on BERT Tiny..Large, "
           f"{state.trials} trials, seed {state.seed}; a reported head matches when it is among the measured top 5 "
           f"and its score is within ±{SCORE_TOLERANCE}. The ICL rows use the study's all-tokens variant.")
here, why = library.loadable(SIZES_ORDER)
if why:  # said before the button: what a run can give on this machine
    reason = next(iter(why.values())).split(": ", 1)[-1].split(". ")[0]
    st.info(f"**What works here.** {', '.join(why)} cannot load on this machine ({reason}): their rows would be "
            "*not run*. " + (f"{', '.join(here)} can run. " if here else "No BERT size can run, so nothing would "
            "be measured; the method itself runs offline on the toy (Induction map page, protocol *paper*). ")
            + "With network the sizes download on first use.")
a, b = st.columns([3, 1])
sizes = a.multiselect("Sizes", SIZES_ORDER, default=list(here or SIZES_ORDER), key="repro_sizes")
corpus = b.selectbox("ICL corpus", ["wikipedia-simple", "python-docs"], key="repro_corpus",
                     help="the study's corpus needs the Hub; python-docs works offline (rows marked not comparable)")
inputs = (tuple(sizes), state.trials, state.seed, corpus)

# guard + compute: the last result stays until an input changes
if st.button("Run the reproduction", type="primary"):
    st.session_state.repro = (inputs, library.get_reproduction(sizes, state.trials, state.seed, corpus))
kept = st.session_state.get("repro")
if not kept or kept[0] != inputs or kept[1] is None:
    st.info("Models that cannot load (no network) give rows marked *not run* with the reason, never a number. "
            "With network the BERT sizes download on first use; maps already computed come from the cache.")
    st.stop()
result = kept[1]

# render
rows = pd.DataFrame(result.rows)
counts = rows["status"].value_counts()
st.markdown(" · ".join(f"**{counts.get(s, 0)}** {label}" for s, label in STATUS.items()))
rows["status"] = rows["status"].map(STATUS)
st.dataframe(rows[["experiment", "model", "target", "reported_head", "reported_score", "measured_head",
                   "measured_score", "status", "reason"]], hide_index=True, width="stretch")
for failure in result.failed:
    st.error(f"failed: {failure}")
st.download_button("Reproduction (JSON)", to_json_text(result.to_json()), "reproduction.json", "application/json")
