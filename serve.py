"""The dashboard's server: `streamlit run serve.py` serves app.py, and loads the default model (and computes
its default map, from the cache when it is there) before the first visitor arrives.

Why a second file: Streamlit runs app.py once per session, so nothing in it can run at server start;
an `st.App` with a lifespan hook can. The Makefile, the image and the browser tests start this.
"""

import asyncio
from contextlib import asynccontextmanager

import streamlit as st

from induction.models.hub import quiet_environment

quiet_environment()


@asynccontextmanager
async def lifespan(app):
    from dashboard.library import warm_up

    await asyncio.to_thread(warm_up)  # before the server accepts connections
    yield


app = st.App("app.py", lifespan=lifespan)
