"""The shared sidebar: every input of the view, written once; the URL follows it."""

from __future__ import annotations

import streamlit as st

from dashboard.viewstate import ViewState
from induction import deploy
from induction.config import CAUSAL_SETUPS, MASK_PIECES, MAX_SEED, PROTOCOLS, SETUP_TARGETS, UNITS, targets_for
from induction.models.hub import hub_reachable
from induction.models.kinds import setups_for
from induction.models.registry import KNOWN_MODELS, OFFLINE_MODELS, checkpoint_folder, spec_of
from induction.training.series import series_of

from .state import clear_head, copy_to, current_page, current_state, init_state, sync_url

OTHER = "other (Hugging Face id or folder)…"


def _targets(setup: str, unit: str) -> tuple[str, ...]:
    return targets_for(setup, unit)


def _chose(*fields: str) -> None:
    """The user set these fields: a later model change keeps (or restores) them where the new model runs them."""
    s = st.session_state
    s.setdefault("chosen", {}).update({field: s[field] for field in fields})


def _on_setup_change() -> None:
    if st.session_state.w_setup != st.session_state.setup:
        st.session_state.setup = st.session_state.w_setup
        st.session_state.target = _targets(st.session_state.setup, st.session_state.unit)[0]
    _chose("setup")


def _on_unit_change() -> None:
    s = st.session_state
    s.unit = s.w_unit
    if s.unit == "word":
        s.setup = "standard"  # the word unit has the standard setup's targets
    s.target = _targets(s.setup, s.unit)[0]
    _chose("unit")


def _on_model_change() -> None:
    choice = st.session_state.w_model
    st.session_state.custom_model = choice == OTHER  # keep the free-text field open until it is used
    if choice != OTHER:
        st.session_state.model = choice
        clear_head()
        fit_to_model(restore=True)
        if st.session_state.pop("_rescale_auto", False):  # ticked by the app for the last model's null map
            st.session_state.rescale = False


def kind_of(model: str) -> str | None:
    """'encoder' or 'causal' for a named model or a checkpoint of a series trained here; None for a free id or
    folder (known once it loads)."""
    spec = spec_of(model) or KNOWN_MODELS.get(series_of(model) or "")
    return spec.kind if spec else None


def _defaults(kind: str | None) -> dict:
    """The settings a model of this kind starts from: the study's standard setup, or repeat for a decoder."""
    if kind == "causal":
        return {"setup": CAUSAL_SETUPS[0], "protocol": "clean", "unit": "token", "masks": 1,
                "target": SETUP_TARGETS[CAUSAL_SETUPS[0]][0]}
    base = ViewState()
    return {"setup": base.setup, "protocol": base.protocol, "unit": base.unit, "masks": base.masks,
            "target": base.target}


def _runs(kind: str | None, field: str, value) -> bool:
    """Whether a model of this kind runs this value of a setting (a decoder: repeat, clean, tokens, one query)."""
    if field == "setup":
        return value in setups_for(kind or "encoder")
    return kind != "causal" or value == _defaults("causal")[field]


def fit_to_model(restore: bool = False) -> None:
    """Settings the model cannot run become its defaults; with `restore` (a model change) every setting goes back
    to the user's own choice where the model runs it, else to this model's default. Each change is said."""
    s = st.session_state
    kind, chosen = kind_of(s.model), s.setdefault("chosen", {})
    defaults, changed = _defaults(kind), []
    for field in ("setup", "protocol", "unit", "masks"):
        value = getattr(s, field)
        if _runs(kind, field, value) and not restore:
            continue
        mine = chosen.get(field)
        want = mine if mine is not None and _runs(kind, field, mine) else defaults[field]
        if want != value:
            changed.append(f"{field} {value} → {want}")
            setattr(s, field, want)
    targets = _targets(s.setup, s.unit)
    if s.target not in targets:
        mine = chosen.get("target")
        s.target = mine if mine in targets else defaults["target"] if defaults["target"] in targets else targets[0]
    if changed:
        why = (f"{s.model} is a decoder: it runs only {' or '.join(CAUSAL_SETUPS)} (no [MASK], clean protocol, "
               "tokens)" if kind == "causal" else f"back to your choices or {s.model}'s defaults")
        s.setdefault("notices", []).append(f"The app changed {', '.join(changed)}: {why}.")


def use_repeat() -> None:
    """The repeat setup, as a user's choice (a button offers it)."""
    s = st.session_state
    s.setup, s.protocol, s.unit, s.masks = "repeat", "clean", "token", 1
    s.target = SETUP_TARGETS["repeat"][0]
    _chose("setup", "protocol", "unit", "masks")


def _on_custom_model() -> None:
    text = (st.session_state.w_model_custom or "").strip()
    if text.startswith("~"):
        import os

        text = os.path.expanduser(text)
    if text:
        st.session_state.model = text
        clear_head()


def chosen_copy(field: str, widget: str):
    """copy_to, and the field counts as the user's choice."""
    copy = copy_to(field, widget)

    def callback() -> None:
        copy()
        _chose(field)

    return callback


def _on_rescale_change() -> None:
    st.session_state.rescale = st.session_state.w_rescale
    st.session_state._rescale_auto = False  # the user's choice now: it stays across models


def _on_segment_change() -> None:
    st.session_state.segment = None if st.session_state.w_segment_auto else int(st.session_state.w_segment)


def _model_label(name: str) -> str:
    """The model and a short note in words (no markdown backticks, which a select box prints as they are; no
    parenthesised detail, which the narrow box cuts anyway)."""
    if name == OTHER or name not in KNOWN_MODELS:
        return name
    note = KNOWN_MODELS[name].note.replace("`", "")
    short = note.split(" (")[0].split(": ")[0]
    return f"{name} — {short[:56].rstrip()}{'…' if len(short) > 56 else ''}"


def title(text: str) -> None:
    """The page's title, then any notices about the link that opened it (shown once, under the title). What the
    app changed in the setup is said on a page that reads the setup (kept for the next one elsewhere)."""
    st.title(text)
    s = st.session_state
    notices = s.pop("notices", [])
    reads_setup = "setup" in PAGE_INPUTS.get(current_page() or "", ALL_INPUTS) and current_page() != "about"
    s._shown = [n for n in notices if reads_setup or not n.startswith("The app changed")]
    s.notices = [n for n in notices if n not in s._shown]
    for notice in s._shown:  # kept for a rerun that would lose them (maps.null_notice)
        st.warning(notice)


def page_setup(state: ViewState, model: str | None = None) -> ViewState:
    """The view as this page runs it on `model` (the view's by default): the kind's default setup and target where
    the view's do not apply (said once, under the title), or a stop where the page has nothing for that kind.
    One table decides (dashboard.pagestate, from the compatibility matrix)."""
    import dataclasses

    from dashboard import library
    from dashboard.pagestate import fit

    model = model or state.model
    kind = kind_of(model) or library.model_kind(model)
    fitted = fit(current_page() or "map", kind, state.setup, state.target, state.unit, model=model)
    if fitted.note:
        st.info(fitted.note)
    if not fitted.runs:
        st.stop()
    return dataclasses.replace(state, setup=fitted.setup, target=fitted.target, unit=fitted.unit)


# pages that read only some of the shared inputs (url path -> the inputs they read); the others are hidden
# there, so a page's own choice (Your text's target) never sits beside a sidebar one that does nothing
PAGE_INPUTS = {"text": ("model", "seed"), "icl": ("model", "trials", "seed"), "reproduce": ("trials", "seed")}
ALL_INPUTS = ("model", "setup", "trials", "seed", "segment", "rescale")


def _model_inputs(s, options: list[str]) -> None:
    """The model box, and the free-text field of a Hugging Face id or folder (the page waits for it)."""
    st.selectbox("Model", options, key="w_model", on_change=_on_model_change, format_func=_model_label)
    if s.w_model == OTHER:
        s.setdefault("w_model_custom", "" if s.model in KNOWN_MODELS else s.model)
        st.text_input("Hugging Face id or local folder", key="w_model_custom", on_change=_on_custom_model)
        if not (s.w_model_custom or "").strip():  # nothing of the previous model stays on screen
            st.info("Type a Hugging Face id (org/name) or the path of a model folder, then press Enter.")
            st.stop()
        from dashboard import library

        problem = library.folder_problem(s.model)  # a folder: checked before anything loads
        if problem:
            st.error(problem)
            st.stop()


def _setup_inputs(s) -> None:
    """Setup, protocol, target, unit (and the word unit's pieces): what the map pages read."""
    st.selectbox("Setup", setups_for(kind_of(s.model) or "encoder"), key="w_setup", on_change=_on_setup_change)
    st.selectbox("Protocol", PROTOCOLS, key="w_protocol", on_change=chosen_copy("protocol", "w_protocol"),
                 help="clean: [CLS] + copies + [SEP], ordinary tokens only. paper: the reference study's "
                      "[SEP] + copies, ids from [100, 20000).")
    st.selectbox("Target", _targets(s.setup, s.unit), key="w_target", on_change=chosen_copy("target", "w_target"))
    st.radio("Unit", UNITS, horizontal=True, key="w_unit", on_change=_on_unit_change,
             help="word: segments of whole words of the model's tokenizer (from python-docs), word-level targets")
    if s.unit == "word":
        st.radio("Mask pieces", MASK_PIECES, horizontal=True, key="w_piece", on_change=copy_to("piece", "w_piece"),
                 help="which pieces of the chosen word are masked: all (each a query), the first or the last")


def sidebar() -> ViewState:
    """Every input of the view, in the sidebar; returns the current state (the URL follows it)."""
    init_state()
    fit_to_model()  # a link may name a setup the model cannot run
    s, limits = st.session_state, deploy.limits()
    inputs = PAGE_INPUTS.get(current_page() or "", ALL_INPUTS)
    options = list(limits.allowed_models or KNOWN_MODELS)
    if checkpoint_folder(s.model) is not None and s.model not in options:  # a checkpoint opened on Training dynamics
        options.insert(0, s.model)
    if limits.allowed_models is None:
        options.append(OTHER)
    s.w_model = OTHER if s.get("custom_model") or s.model not in options else s.model
    s.w_setup, s.w_protocol, s.w_target = s.setup, s.protocol, s.target
    s.w_unit, s.w_piece = s.unit, s.piece
    s.w_trials, s.w_seed, s.w_rescale = s.trials, s.seed, s.rescale
    s.w_segment_auto = s.segment is None
    s.w_segment = s.segment or 16
    with st.sidebar:
        if not limits.deployed and not hub_reachable():  # a deployed image offers what it holds
            st.info(f"Hugging Face Hub not reachable: the offline models ({', '.join(OFFLINE_MODELS)}) work; "
                    "others need weights already in the local Hugging Face cache.")
        if "model" in inputs:
            _model_inputs(s, options)
        if "setup" in inputs:
            _setup_inputs(s)
        if "trials" in inputs:
            st.number_input("Trials", 1, limits.max_trials, key="w_trials", on_change=copy_to("trials", "w_trials"))
        if "seed" in inputs:
            st.number_input("Seed", 0, MAX_SEED, key="w_seed", on_change=copy_to("seed", "w_seed"))
        if "segment" in inputs:
            st.checkbox("Default segment length", key="w_segment_auto", on_change=_on_segment_change,
                        help="paper: 200 (150 for triple); clean: the model's default")
            if not s.w_segment_auto:
                st.number_input("Segment length", 1, limits.max_segment, key="w_segment",
                                on_change=_on_segment_change)
        if "rescale" in inputs:
            st.checkbox("Rescale colours to the data", key="w_rescale", on_change=_on_rescale_change)
        if inputs != ALL_INPUTS:
            st.caption("This page reads only the inputs above; the map pages' setup, target and segment are kept "
                       "for them.")
    state = current_state()
    sync_url(state)
    with st.sidebar:
        st.caption("Link to this view (copy with the button on its right):")
        link_to_copy(share_link(state))
        if state.local_model():
            st.caption("A link to this view does not carry the local folder: whoever opens it picks the model.")
        if not s.get("_narrow_checked"):  # once a session (and once a tab): the user may open it again
            s._narrow_checked = True
            collapse_when_narrow()
    return state


NARROW = 1000  # below this width (a laptop's half screen, 800 px) the sidebar starts closed: the maps get the room


def collapse_when_narrow() -> None:
    """Close the sidebar on a narrow window (Streamlit itself only does so below 768 px), once per browser tab."""
    st.html(f"""<script>
      (function () {{
        const doc = window.parent.document || document;
        if (window.parent.innerWidth >= {NARROW} || sessionStorage.getItem("induction-narrow")) return;
        sessionStorage.setItem("induction-narrow", "1");
        (function go(n) {{
          const button = doc.querySelector('[data-testid="stSidebarCollapseButton"] button');
          if (button) {{ button.click(); }} else if (n > 0) {{ setTimeout(() => go(n - 1), 100); }}
        }})(50);
      }})();
    </script>""", unsafe_allow_javascript=True, width="content")


def link_to_copy(link: str) -> None:
    """The whole link in a read-only box (wrapped, as the code block showed it) with a copy button, in plain HTML.
    Not `st.code`: a code block makes every page load Streamlit's syntax highlighter (1.5 MB of JavaScript), about
    a second of a fresh browser tab's main thread on a 2-core machine before the map is drawn, for one line of text
    that needs no highlighting (issue 34)."""
    from html import escape

    st.html(f"""<div class="induction-link" style="display:flex;gap:0.3rem;align-items:center">
      <textarea class="induction-link-text" readonly rows="{min(8, 1 + len(link) // 26)}"
        aria-label="Link to this view" style="flex:1;min-width:0;font-family:monospace;font-size:0.75rem;
        padding:0.35rem;border:1px solid rgba(128,128,128,0.4);border-radius:0.3rem;background:transparent;
        color:inherit;resize:none;word-break:break-all;overflow:auto">{escape(link)}</textarea>
      <button class="induction-link-copy" type="button" title="Copy the link" style="align-self:start;
        font-size:0.8rem;padding:0.35rem 0.6rem;border:1px solid rgba(128,128,128,0.4);border-radius:0.3rem;
        background:transparent;
        color:inherit;cursor:pointer">Copy</button>
    </div>
    <script>
      (function () {{
        const doc = window.parent.document || document;
        if (doc.inductionCopyLink) return;  // one listener per tab, for every rerun's box
        doc.inductionCopyLink = true;
        doc.addEventListener("click", function (event) {{
          const button = event.target.closest && event.target.closest(".induction-link-copy");
          const text = event.target.closest && event.target.closest(".induction-link-text");
          if (text) text.select();
          if (!button) return;
          const box = button.parentElement.querySelector(".induction-link-text");
          const done = () => {{ button.textContent = "Copied"; setTimeout(() => button.textContent = "Copy", 1500); }};
          if (navigator.clipboard && window.isSecureContext) {{
            navigator.clipboard.writeText(box.value).then(done);
          }} else {{  // plain http on another host: no clipboard API
            box.select();
            if (doc.execCommand("copy")) done();
          }}
        }});
      }})();
    </script>""", unsafe_allow_javascript=True)


def shared_link_in(html_bodies) -> str | None:
    """The link a page's sidebar offers to copy, read back from its HTML (for tests and tools)."""
    import re
    from html import unescape

    for body in html_bodies:
        found = re.search(r'class="induction-link-text"[^>]*>([^<]*)</textarea>', body, re.S)
        if found:
            return unescape(found.group(1))
    return None


def share_link(state: ViewState) -> str:
    """This page's address with the view in its query: what a colleague opens to see the same view."""
    from urllib.parse import urlencode

    base = (st.context.url or "").split("?")[0]
    return f"{base}?{urlencode(state.to_query(current_page()))}"
