"""The dashboard's server: `streamlit run serve.py` serves app.py, and loads the default model (and computes
its default map, from the cache when it is there) before the first visitor arrives: in a worker when there is
a pool (then this process loads no model at all).

When deployed (or when INDUCTION_COMPUTE_WORKERS asks), it also starts the pool of worker processes that run
heavy computations outside this process (induction/compute_workers.py), so they cannot hold up the pages.

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
    from induction import compute_workers, deploy

    pool = compute_workers.start_server_pool(compute_workers.workers_wanted(deploy.limits().deployed))
    if pool is None:
        await asyncio.to_thread(warm_up)  # before the server accepts connections
    else:  # in a worker: the server process itself holds no model
        await asyncio.to_thread(pool.run, warm_up, (), {})
    yield
    if pool is not None:
        pool.close()


app = st.App("app.py", lifespan=lifespan)
