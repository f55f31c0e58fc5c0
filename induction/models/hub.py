"""The Hugging Face Hub: is it reachable, and what to tell a user when it is not.

Why: on machines without network, `from_pretrained` retries for about 20 seconds per
file before failing. Checking reachability once (memoized) lets loading go straight
to the local Hugging Face cache and fail fast with advice that names the way out.
"""

from __future__ import annotations

import os

from induction.deploy import limits
from induction.models.registry import KNOWN_MODELS, OFFLINE_MODELS

_HUB_CHECK: dict[str, tuple[float, bool]] = {}


# An application's defaults for transformers' own output (the per-file "Loading weights" bars and the
# load report that lists an MLM checkpoint's unused head): set by the CLI and the dashboard at start-up,
# before transformers is imported, and only where the user has not set them. The library itself never
# changes logging: in a threaded server that would silence every other thread too.
QUIET_ENVIRONMENT = {"TRANSFORMERS_VERBOSITY": "error", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}


def quiet_environment() -> None:
    for name, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(name, value)


def hub_reachable(timeout: float = 2.0, ttl: float = 60.0) -> bool:
    """Can we open a connection to the Hugging Face Hub? (Memoized for `ttl` seconds.)"""
    import socket
    import time
    from urllib.parse import urlparse

    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        return False
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    checked = _HUB_CHECK.get(host)
    if checked and time.monotonic() - checked[0] < ttl:
        return checked[1]
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        ok = True
    except OSError:
        ok = False
    _HUB_CHECK[host] = (time.monotonic(), ok)
    return ok


def hub_kwargs(source: str) -> dict:
    """Without a reachable hub, read the local Hugging Face cache only (fails fast, no retries)."""
    return {} if os.path.isdir(source) or hub_reachable() else {"local_files_only": True}


def offline_hint(name: str, source: str, reason: str) -> str:
    """One line: what failed and the way out. Offline (HF_HUB_OFFLINE set or the Hub unreachable) a miss is a
    model not in the local Hugging Face cache, and the line says so and names the models that work offline."""
    if limits().deployed:  # a visitor can act on none of the developer advice below
        return f"this server cannot load model {name!r} right now; the other models on offer work"
    if name not in KNOWN_MODELS and "/" not in name and not os.path.isdir(source) and not in_hf_cache(name):
        import difflib  # a bare name the app does not know: most likely a typo, which no network would fix

        hub = "is not reachable from here" if not hub_reachable() else "may be unreachable"
        close = difflib.get_close_matches(name, list(KNOWN_MODELS), n=3, cutoff=0.4)
        return (f"{name!r} is not a model this app knows" + (f" (did you mean {' or '.join(close)}?)" if close else "")
                + f"; as a Hugging Face id it would need the Hub, which {hub}. Pick a known model; these "
                "work offline: " + ", ".join(OFFLINE_MODELS))
    offline = ", ".join(OFFLINE_MODELS)
    if not hub_reachable():
        set_offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False")
        why = "HF_HUB_OFFLINE is set" if set_offline else "the Hugging Face Hub is not reachable from here"
        return (f"could not load model {name!r} ({source}): it is not in the local Hugging Face cache and {why}; "
                f"load it once with network access, or pass a local folder; models that work offline: {offline}")
    return (f"could not load model {name!r} ({source}): {reason.rstrip('.')}; check the name (a known model, "
            f"org/name on the Hub, or a folder); models that work offline: {offline}")


def in_hf_cache(repo_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
    except Exception:
        return False
