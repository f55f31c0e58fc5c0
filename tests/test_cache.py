"""The disk cache: hits skip the model, parameters miss, corrupt or pickled entries are recomputed,
two processes compute a missing key once."""

from __future__ import annotations

import multiprocessing as mp
import os
import stat
import time

import numpy as np
import pytest

from induction import engine
from induction.cache import ResultCache, decode, encode, make_key, open_cache
from induction.config import MapConfig
from induction.engine import compute_map
from induction.runs import map_key, resolve_run


def _key(config):
    return map_key(resolve_run(config))


def test_second_call_is_served_without_running_the_model(random_bert, fresh_cache, monkeypatch):
    config = MapConfig(model=random_bert, trials=4, segment=8)
    first = compute_map(config)
    assert first.cached is False

    def boom(*args, **kwargs):
        raise AssertionError("the model ran on a cache hit")

    monkeypatch.setattr(engine, "capture", boom)
    second = compute_map(config)
    assert second.cached is True
    np.testing.assert_array_equal(second.per_trial["prev"], first.per_trial["prev"])
    with pytest.raises(AssertionError, match="the model ran"):
        compute_map(MapConfig(model=random_bert, trials=4, segment=8, seed=1))  # a changed parameter misses


@pytest.mark.parametrize("change", [{"trials": 5}, {"seed": 9}, {"segment": 9}, {"setup": "triple"},
                                    {"protocol": "paper"}, {"dtype": "bfloat16"}])
def test_every_parameter_is_in_the_key(random_bert, change):
    base = MapConfig(model=random_bert, trials=4, segment=8)
    assert _key(base) != _key(MapConfig(**{**base.__dict__, **change}))


def test_corrupted_entry_is_recomputed(random_bert, fresh_cache):
    config = MapConfig(model=random_bert, trials=3, segment=8)
    clean = compute_map(config)
    store = open_cache().store
    key = _key(config)
    blob = store.get(key)
    store.set(key, blob[:-40])  # truncated
    with pytest.warns(UserWarning, match="unreadable"):
        again = compute_map(config)
    assert again.cached is False
    np.testing.assert_array_equal(again.per_trial["prev"], clean.per_trial["prev"])
    store.set(key, blob[:50] + bytes([blob[50] ^ 1]) + blob[51:])  # one flipped bit
    with pytest.warns(UserWarning, match="checksum"):
        assert compute_map(config).cached is False


class _Exploit:
    def __reduce__(self):
        return (os.system, (f"touch {os.environ['INDUCTION_CACHE_DIR']}/PWNED",))


def test_a_pickled_entry_is_never_unpickled(random_bert, fresh_cache):
    from diskcache import Cache

    config = MapConfig(model=random_bert, trials=3, segment=8)
    compute_map(config)
    key = _key(config)
    plain = Cache(str(fresh_cache))  # diskcache's default Disk pickles: what an attacker would write
    plain.set(key, _Exploit())
    plain.close()
    with pytest.warns(UserWarning, match="pickled value"):
        result = compute_map(config)
    assert result.cached is False
    assert not (fresh_cache / "PWNED").exists()


def test_cache_directory_is_owner_only(tmp_path):
    cache = ResultCache(tmp_path / "c")
    assert stat.S_IMODE(os.stat(cache.directory).st_mode) == 0o700


def test_encode_roundtrip_and_meta():
    meta, arrays = {"seq_len": 5}, {"a": np.arange(6, dtype=np.float32).reshape(2, 3)}
    m, a = decode(encode(meta, arrays))
    assert m == meta and (a["a"] == arrays["a"]).all()
    assert make_key("map", x=1) != make_key("map", x=2)


def _compute_in_process(directory: str, log: str) -> None:
    cache = ResultCache(directory)

    def compute():
        with open(log, "a") as fh:
            fh.write("computed\n")
        time.sleep(1.0)
        return {"n": 1}, {"x": np.ones(3)}

    meta, arrays, _cached = cache.compute_once("map:shared-key", compute)
    assert meta == {"n": 1} and arrays["x"].sum() == 3


def test_two_processes_compute_a_missing_key_once(tmp_path):
    log = tmp_path / "log.txt"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_compute_in_process, args=(str(tmp_path / "c"), str(log))) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    assert log.read_text().count("computed") == 1


def test_precomputed_tier_is_read_first_and_never_written(tmp_path):
    image = ResultCache(tmp_path / "precomputed")
    image.put("map:standard", {"n": 1}, {"x": np.ones(2)})
    before = sorted(p.name for p in (tmp_path / "precomputed").rglob("*"))
    served = ResultCache(tmp_path / "runtime", precomputed=tmp_path / "precomputed")
    meta, _ = served.get("map:standard")
    assert meta == {"n": 1} and "map:standard" not in served.store
    meta, _arrays, cached = served.compute_once("map:new", lambda: ({"n": 2}, {"x": np.zeros(1)}))
    assert cached is False and "map:new" in served.store and "map:new" not in image.store
    assert sorted(p.name for p in (tmp_path / "precomputed").rglob("*")) == before


def test_the_precomputed_tier_is_read_without_write_access(tmp_path):
    """A deployed image's tier belongs to root: it is opened read-only and never needs to be written."""
    import sqlite3

    image = ResultCache(tmp_path / "precomputed")
    image.put("map:small", {"n": 1}, {"x": np.ones(3)})
    image.put("map:large", {"n": 2}, {"x": np.arange(100_000, dtype=np.float64)})  # stored as a file
    image.store.close()
    files = {p: p.read_bytes() for p in (tmp_path / "precomputed").rglob("*") if p.is_file()}
    served = ResultCache(tmp_path / "runtime", precomputed=tmp_path / "precomputed")
    assert served.get("map:small")[0] == {"n": 1}
    assert served.get("map:large")[1]["x"].sum() == sum(range(100_000))
    assert {p: p.read_bytes() for p in files} == files  # byte for byte unchanged
    readonly = sqlite3.connect(f"{(tmp_path / 'precomputed' / 'cache.db').as_uri()}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):  # the connection it reads through cannot write
        readonly.execute("DELETE FROM Cache")
    readonly.close()


def test_a_sealed_tier_has_no_write_ahead_log_and_is_world_readable(tmp_path):
    import sqlite3
    import stat

    from induction.cache import seal

    image = ResultCache(tmp_path / "tier")
    image.put("map:x", {"n": 3}, {"x": np.ones(2)})
    image.store.close()
    seal(tmp_path / "tier")
    with sqlite3.connect(tmp_path / "tier" / "cache.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert not (tmp_path / "tier" / "locks").exists()
    assert all(p.stat().st_mode & stat.S_IROTH and not p.stat().st_mode & stat.S_IWOTH
               for p in (tmp_path / "tier").rglob("*"))
    served = ResultCache(tmp_path / "runtime", precomputed=tmp_path / "tier")
    assert served.get("map:x")[0] == {"n": 3}
    assert not list((tmp_path / "tier").glob("cache.db-*"))  # reading left no -wal or -shm beside it
