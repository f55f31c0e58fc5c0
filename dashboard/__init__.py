"""The dashboard's helpers, one module per job; the pages in `views/` call these and `induction`.

- `state`: the view state in the session and the URL (written from `dashboard.viewstate.ViewState`)
- `sidebar`: the shared inputs every page starts with
- `progress`: run a library call behind a progress bar, errors as messages
- `library`: the library calls the pages make (maps, ablations, sweeps, ICL)
- `maps`: the clickable map and the ablation picker
- `downloads`: CSV, JSON and figure downloads
- `drilldown`: the head drill-down
- `effects_panels`, `text_panels`: the Effects and Your text pages' panels
- `viewstate`: the whole view state to and from URL query parameters (free of Streamlit)
- `pagestate`: what each page runs for each kind of model, from the compatibility matrix (free of Streamlit)

Nothing here imports torch or transformers, and nothing here builds sequences.
"""
