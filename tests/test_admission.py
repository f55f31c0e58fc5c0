"""Admission control (queue order, one per visitor, cancel frees the slot, cached results bypass) and the
model memory budget (LRU eviction, never a model in use)."""

import threading

import pytest

from induction import admission
from induction.config import MapConfig
from induction.model_memory import ModelMemo


def test_queue_is_first_in_first_out_over_the_slots():
    q = admission.Admission(slots=2)
    a, b, c, d = (q.request(v) for v in "abcd")
    assert [t.place() for t in (a, b, c, d)] == [0, 0, 1, 2]
    b.release()
    assert (c.place(), d.place()) == (0, 1)
    a.release()
    assert d.place() == 0 and q.snapshot()["running"] == 2


def test_a_visitor_runs_one_computation_at_a_time_and_others_pass_it():
    q = admission.Admission(slots=2)
    first, second, other = q.request("v"), q.request("v"), q.request("w")
    assert first.place() == 0 and second.place() >= 1 and other.place() == 0  # w is not held up behind v
    first.release()
    assert second.place() == 0


def test_cancel_while_queued_or_running_frees_the_place_and_the_slot():
    q = admission.Admission(slots=1)
    running, queued, last = q.request("a"), q.request("b"), q.request("c")
    queued.release()  # gives up while waiting
    assert last.place() == 1
    running.release()  # gives up while running (a closed tab)
    assert last.place() == 0 and q.snapshot() == {**q.snapshot(), "running": 1, "queued": 0}
    last.release()
    last.release()  # twice is harmless
    assert q.snapshot()["running"] == 0


def test_admitted_waits_then_frees_the_slot_even_when_the_waiter_gives_up():
    q = admission.Admission(slots=1)
    holder = q.request("a")
    calls = []

    def give_up(ticket):
        calls.append(ticket.place())
        raise admission.Cancelled("closed")

    with pytest.raises(admission.Cancelled), admission.admitted("b", give_up, admission=q, poll_s=0.01):
        pass
    assert calls == [1] and q.snapshot()["queued"] == 0  # the waiter left the queue
    done = threading.Event()

    def later():
        with admission.admitted("c", admission=q, poll_s=0.01):
            done.set()

    worker = threading.Thread(target=later)
    worker.start()
    holder.release()
    worker.join(5)
    assert done.is_set() and q.snapshot()["running"] == 0 and q.longest_wait_s > 0


def test_rate_limit_counts_starts_in_a_sliding_window():
    now = [0.0]
    rate = admission.RateLimit(2, window_s=60, clock=lambda: now[0])
    assert rate.allow("v") == 0 and rate.allow("v") == 0
    assert rate.allow("v") == pytest.approx(60) and rate.allow("w") == 0
    now[0] = 61
    assert rate.allow("v") == 0


def test_cached_maps_never_ask_for_admission_and_computations_do(fresh_cache):
    from induction.engine import compute_map

    config = MapConfig(model="toy", trials=4, segment=10)
    asked = []
    with admission.gated(lambda: asked.append("gate")):
        compute_map(config)
    assert asked == ["gate"]  # the first time it computes: once, however many chunks
    with admission.gated(lambda: asked.append("again")):
        assert compute_map(config).cached
    assert asked == ["gate"]  # from the cache: no wait at all


def test_a_refused_gate_stops_the_computation_before_it_runs(fresh_cache):
    from induction.engine import cached_map, compute_map

    config = MapConfig(model="toy", trials=4, segment=12)

    def refuse():
        raise admission.Cancelled("no slot")

    with pytest.raises(admission.Cancelled), admission.gated(refuse):
        compute_map(config)
    assert cached_map(config) is None  # nothing half-written


def test_lru_evicts_the_least_recently_used_under_the_budget():
    memo = ModelMemo(budget=100, size=lambda m: m)
    for key, size in (("a", 40), ("b", 40)):
        memo.acquire(key, lambda s=size: s)
        memo.release(key)
    memo.acquire("a", lambda: 40)  # a used again: b is now the least recent
    memo.release("a")
    memo.acquire("c", lambda: 40)
    memo.release("c")
    assert "b" not in memo and "a" in memo and "c" in memo and memo.loaded_bytes() == 80


def test_a_model_in_use_is_never_evicted():
    memo = ModelMemo(budget=100, size=lambda m: m)
    memo.acquire("a", lambda: 60)  # held by a computation
    memo.acquire("b", lambda: 60)  # over budget, but a is in use and b is being used
    assert "a" in memo and "b" in memo
    memo.release("b")  # b idle, a still in use: b goes
    assert "a" in memo and "b" not in memo
    memo.release("a")
    memo.acquire("c", lambda: 60)
    memo.release("c")
    assert "a" not in memo and "c" in memo and memo.loaded_bytes() <= 100


def test_the_engine_pins_models_for_a_computation_and_counts_their_bytes(monkeypatch, fresh_cache):
    from induction import engine

    monkeypatch.setattr(engine, "_MODELS", ModelMemo(budget=1))  # nothing fits: only what is in use stays
    with engine.models_in_use():
        model = engine.get_model("toy")
        assert engine.loaded_models()["models"][0]["in_use"] == 1
        toy_bytes = engine._MODELS.loaded_bytes()
        assert toy_bytes >= sum(p.numel() * p.element_size() for p in model.encoder.parameters()) > 0
        engine.get_model("toy-gpt")  # another model loads: the toy, in use, stays
        assert [m["model"] for m in engine.loaded_models()["models"]] == ["toy", "toy-gpt"]
    assert [m["model"] for m in engine.loaded_models()["models"]] == ["toy-gpt"]  # the block ended: LRU goes


def test_an_unreadable_model_ends_in_a_clear_message_and_frees_its_slot(random_bert, fresh_cache, tmp_path):
    import shutil

    from induction.config import InductionError
    from induction.engine import compute_map, models_in_use

    broken = tmp_path / "broken"
    shutil.copytree(random_bert, broken)
    for weights in broken.glob("*.safetensors"):
        weights.write_bytes(b"not a safetensors file")
    q = admission.Admission(slots=1)
    with pytest.raises(InductionError) as err, models_in_use(), admission.admitted("v", admission=q):
        compute_map(MapConfig(model=str(broken), trials=2, segment=8))
    assert "\n" not in str(err.value) and "Traceback" not in str(err.value)
    assert q.snapshot()["running"] == 0  # the next visitor is not held up by the failure
    assert compute_map(MapConfig(model=random_bert, trials=2, segment=8)).trials == 2  # the server goes on


def test_the_queue_limit_is_checked_as_the_ticket_joins():
    q = admission.Admission(slots=1)
    running = q.request("a", max_queue=1)
    q.request("b", max_queue=1)  # waits: the queue now holds its limit
    with pytest.raises(admission.QueueFull):
        q.request("c", max_queue=1)
    assert q.snapshot()["queued"] == 1  # the refused request never joined
    running.release()
    assert q.request("c", max_queue=1).place() == 1  # b runs, c may wait in its place


def test_visitors_racing_for_the_last_place_in_the_queue_get_it_once():
    q = admission.Admission(slots=1)
    q.request("holder")
    start, refused = threading.Barrier(8), []

    def join(visitor: str) -> None:
        start.wait()
        try:
            q.request(visitor, max_queue=3)
        except admission.QueueFull:
            refused.append(visitor)

    threads = [threading.Thread(target=join, args=(f"v{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert q.snapshot()["queued"] == 3 and len(refused) == 5


def test_the_dashboard_refuses_a_full_queue_with_a_notice_and_queues_nothing(monkeypatch):
    import contextlib

    from dashboard import progress
    from induction import deploy

    q = admission.Admission(slots=1)
    q.request("holder")
    q.request("waiting")
    monkeypatch.setattr(admission, "_ADMISSION", q)
    monkeypatch.setattr(deploy, "limits", lambda: deploy.Limits(True, None, 100, 100, None, 1))
    with pytest.raises(progress.Refused, match="busy"), contextlib.ExitStack() as stack:
        progress._gate("a map", "key", stack, in_process=False)()
    assert q.snapshot()["queued"] == 1


def test_the_rate_limit_forgets_visitors_who_left_and_holds_a_bounded_number():
    now = [0.0]
    rate = admission.RateLimit(2, window_s=60, clock=lambda: now[0], max_visitors=50)
    for i in range(200):  # 200 sessions, each one start: only the 50 most recent are kept
        assert rate.allow(f"s{i}") == 0
    assert len(rate) == 50
    now[0] = 61  # everyone's start left the window
    rate.allow("late")
    assert len(rate) == 1
    assert rate.allow("late") == 0 and rate.allow("late") == pytest.approx(60)  # still limits the one it holds


def test_workers_share_one_budget_a_model_loads_only_where_it_fits():
    from induction.model_memory import ModelMemoryFull, SharedLedger

    ledger = SharedLedger(2, budget=100)
    one = ModelMemo(budget=100, size=lambda m: m, ledger=ledger.bind(0))
    two = ModelMemo(budget=100, size=lambda m: m, ledger=ledger.bind(1))
    one.acquire("a", lambda: 60, need=60)  # in use in the first worker
    assert ledger.total() == 60
    two.wait_s = 0.3
    loaded = []
    with pytest.raises(ModelMemoryFull, match="try again"):
        two.acquire("b", lambda: loaded.append("b") or 60, need=60)
    assert loaded == [] and ledger.total() == 60  # refused before loading anything
    assert two.acquire("c", lambda: 30, need=30) == 30 and ledger.total() == 90  # a smaller one fits beside it


def test_a_worker_waiting_for_room_gets_it_when_the_other_sheds_its_unused_models():
    from induction.model_memory import SharedLedger

    ledger = SharedLedger(2, budget=100)
    one = ModelMemo(budget=100, size=lambda m: m, ledger=ledger.bind(0))
    two = ModelMemo(budget=100, size=lambda m: m, ledger=ledger.bind(1))
    one.acquire("a", lambda: 60, need=60)
    one.release("a")  # idle, still loaded and counted

    def shedder() -> None:  # what each worker's background thread does
        while not ledger.bind(0).wanted():
            threading.Event().wait(0.02)
        one.shed()

    helper = threading.Thread(target=shedder)
    helper.start()
    assert two.acquire("b", lambda: 60, need=60) == 60
    helper.join(5)
    assert "a" not in one and ledger.total() == 60 and ledger.bind(1).wanted() == 0


def test_a_model_is_counted_with_its_activations():
    from types import SimpleNamespace

    from induction.model_memory import activation_bytes, model_bytes, parameter_bytes

    base = SimpleNamespace(hidden_size=768, num_hidden_layers=12, intermediate_size=3072, vocab_size=30522,
                           max_position_embeddings=512, num_attention_heads=12)
    assert 400 * 2**20 < parameter_bytes(base) < 480 * 2**20  # BERT-base: 110 M float32 parameters
    assert activation_bytes(base) > 50 * 2**20 and model_bytes(base) == parameter_bytes(base) + activation_bytes(base)


def test_a_model_loading_in_a_server_whose_workers_hold_the_models_is_logged(monkeypatch, caplog, fresh_cache):
    from induction.engine import compute_map

    monkeypatch.setattr(admission, "MODELS_IN_WORKERS", True)
    with caplog.at_level("WARNING", logger="induction.admission"):
        with admission.gated(lambda: None):
            compute_map(MapConfig(model="toy", trials=2, segment=8, seed=1))  # a page's call: through its gate
        assert not caplog.records
        compute_map(MapConfig(model="toy", trials=2, segment=8, seed=2))  # no gate: bypassed the workers
    assert len(caplog.records) == 1 and "outside the compute workers" in caplog.records[0].getMessage()
