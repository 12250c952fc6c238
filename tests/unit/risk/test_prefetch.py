"""Reads declared up front: `Prefetched` answers them from one fetch and passes the rest to
the store; the shipped detectors declare every read their stages make, and declaring changes
no decision."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bastion.bootstrap.risk import default_detectors
from bastion.risk.detector import Signal
from bastion.risk.engine import RiskEngine
from bastion.risk.findings import Assessment
from bastion.risk.prefetch import Prefetched, origin
from bastion.risk.signals import Agent, LoginSignal, Place, RequestSignal
from bastion.risk.state import Count, Fetched, LastSeen, Reads
from bastion.risk.state_memory import MemoryRiskState
from support.risk_reading import Reading

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
NOW = T0.timestamp()
SEEN = LastSeen(NOW - 60, "203.0.113.7", 64500, "CH", 46.2, 6.1)


class Undeclared(MemoryRiskState):
    """A store that fetches nothing: every read goes to it one call at a time."""

    def fetch(self, reads: Reads, now: float) -> Fetched:
        return Fetched(now, {}, {}, {}, {})


def view() -> tuple[Reading, Prefetched]:
    store = Reading()
    store.hit("a", NOW, 60)
    store.set_flag("up", NOW + 60)
    store.bump("u:7", "f", "v")
    store.set_last_seen("l", SEEN)
    reads = Reads((Count("hits", "a", 60.0),), ("up",), (("u:7", "f", "v"),), ("l",))
    fetched = store.fetch(reads, NOW)
    store.reads.clear()
    return store, Prefetched(store, fetched)


def test_declared_reads_are_answered_without_the_store() -> None:
    store, state = view()
    assert state.counts([Count("hits", "a", 60.0)], NOW) == [1]
    assert state.total("a", NOW, 60) == 1
    assert state.flags_until(["up"], NOW) == [NOW + 60]
    assert state.flag_until("up", NOW) == NOW + 60
    assert state.frequency("u:7", "f", "v") == (1.0, 1.0)
    assert state.last_seen("l") == SEEN
    assert store.reads == []


def test_a_read_not_declared_goes_to_the_store() -> None:
    store, state = view()
    assert state.counts([Count("hits", "a", 60.0), Count("hits", "b", 60.0)], NOW) == [1, 0]
    assert state.flags_until(["up", "down"], NOW) == [NOW + 60, None]
    assert state.frequency("u:7", "f", "w") == (0.0, 1.0)
    assert state.last_seen("other") is None
    assert store.reads == ["counts", "flags_until", "frequencies", "last_seen"]


def test_a_read_at_another_time_goes_to_the_store() -> None:
    store, state = view()
    assert state.total("a", NOW + 61, 60) == 0  # the window slid past the hit
    assert state.flag_until("up", NOW + 61) is None
    assert store.reads == ["counts", "flags_until"]


def test_a_write_is_seen_by_the_reads_after_it() -> None:
    store, state = view()
    assert state.hit("a", NOW, 60) == 2
    assert state.total("a", NOW, 60) == 2
    state.set_flag("up", NOW + 600)
    assert state.flag_until("up", NOW) == NOW + 600
    state.bump("u:7", "f", "w")  # another value of the feature: the total moves too
    assert state.frequency("u:7", "f", "v") == (1.0, 2.0)
    later = replace(SEEN, at=NOW)
    state.set_last_seen("l", later)
    assert state.last_seen("l") == later
    assert store.reads == ["counts", "flags_until", "frequencies", "last_seen"]


def test_members_are_dropped_by_a_member_added() -> None:
    store = MemoryRiskState()
    state = Prefetched(store, store.fetch(Reads(counts=(Count("members", "m", 60.0),)), NOW))
    assert state.members("m", NOW, 60) == 0
    assert state.add_member("m", "x", NOW, 60) == 1
    assert state.members("m", NOW, 60) == 1


def test_adds_made_with_the_fetch_answer_the_stage_call() -> None:
    store = Reading()
    store.hit("a", NOW, 60)
    reads = Reads(adds=(("a", 60.0, 2), ("b", 60.0, 0)))
    state = Prefetched(store, store.fetch(reads, NOW))
    store.reads.clear()
    assert state.total("a", NOW, 60) == 1  # before the stage's call: as before the event
    assert state.hits([("a", 60.0), ("b", 60.0)], NOW, [2, 0]) == [3, 0]
    assert state.total("a", NOW, 60) == 3  # after it: with the add
    assert store.reads == []
    assert store.total("a", NOW, 60) == 3  # added once, by the fetch
    assert state.hit("a", NOW, 60) == 4  # a later call is the store's


@pytest.mark.parametrize(
    ("keys", "amounts", "at"),
    [
        ([("a", 60.0), ("c", 60.0)], [2, 1], NOW),  # declared and undeclared at once
        ([("a", 60.0), ("b", 60.0)], [1, 0], NOW),  # other amounts
        ([("a", 60.0), ("b", 60.0)], [2, 0], NOW + 1),  # another time
        ([("a", 60.0), ("a", 60.0)], [2, 2], NOW),  # one twice
    ],
)
def test_a_call_that_is_not_the_declared_adds_is_refused(
    keys: list[tuple[str, float]], amounts: list[int], at: float
) -> None:
    store = MemoryRiskState()
    state = Prefetched(store, store.fetch(Reads(adds=(("a", 60.0, 2), ("b", 60.0, 0))), NOW))
    with pytest.raises(ValueError, match="declared"):
        state.hits(keys, at, amounts)
    assert store.total("a", NOW, 60) == 2  # the fetch's add only


def test_each_detector_calls_for_its_own_adds() -> None:
    store = MemoryRiskState()
    reads = Reads(adds=(("a", 60.0, 2),)) + Reads(adds=(("b", 60.0, 1),))
    state = Prefetched(store, store.fetch(reads, NOW))
    assert state.hits([("b", 60.0)], NOW, [1]) == [1]
    assert state.hits([("a", 60.0)], NOW, [2]) == [2]
    assert store.total("a", NOW, 60) == 2 and store.total("b", NOW, 60) == 1


def test_joins_made_with_the_fetch_answer_the_stage_call() -> None:
    store = MemoryRiskState()
    store.add_member("m", "x", NOW, 60)
    state = Prefetched(store, store.fetch(Reads(joins=(("m", "y", 60.0),)), NOW))
    assert state.add_member("m", "y", NOW, 60) == 2
    assert state.members("m", NOW, 60) == 2
    assert store.members("m", NOW, 60) == 2  # joined once, by the fetch
    assert state.add_member("m", "z", NOW, 60) == 3  # an undeclared join is the store's


def test_a_join_at_another_time_is_refused() -> None:
    store = MemoryRiskState()
    state = Prefetched(store, store.fetch(Reads(joins=(("m", "y", 60.0),)), NOW))
    with pytest.raises(ValueError, match="declared"):
        state.add_member("m", "y", NOW + 1, 60)


def test_adds_a_store_left_to_the_stage_go_to_the_store() -> None:
    store = MemoryRiskState()
    state = Prefetched(store, Fetched(NOW, {}, {}, {}, {}))  # as SQL: nothing added
    assert state.hits([("a", 60.0), ("b", 60.0)], NOW, [2, 0]) == [2, 0]
    assert store.total("a", NOW, 60) == 2


def test_the_view_names_its_store() -> None:
    store, state = view()
    assert origin(state) is store
    assert origin(store) is store


# -- the shipped detectors -----------------------------------------------------------------------


def place(rng: random.Random) -> Place:
    country, asn, latitude, longitude = rng.choice(
        [("CH", 3303, 46.2, 6.1), ("FR", 3215, 48.9, 2.3), ("US", 7922, 40.7, -74.0)]
    )
    ip = f"198.51.{rng.randrange(4)}.{rng.randrange(1, 60)}"
    return Place(ip, ip.rsplit(".", 1)[0] + ".0/24", asn, "", country, latitude, longitude)


def traffic(seed: int, count: int) -> list[Signal]:
    """Sign-ins of a few users from a few places, failures and sprays from many addresses,
    and requests of sessions that move: every path of every detector."""
    rng = random.Random(seed)
    agent = Agent(browser="Firefox", browser_major="140", os="Linux", device="desktop")
    signals: list[Signal] = []
    at = T0
    for _ in range(count):
        at += timedelta(seconds=rng.choice([1, 5, 40, 900, 7200]))
        uid = rng.randrange(1, 5)
        where = place(rng)
        kind = rng.random()
        if kind < 0.2:
            signals.append(
                RequestSignal("t", uid, at, where, agent, session=f"s{uid}",
                              device=rng.choice([f"d{uid}", None]), bound_device=f"d{uid}")
            )  # fmt: skip
            continue
        before = LoginSignal("t", f"user{uid}", at, where, agent, uid=uid,
                             device=rng.choice([f"d{uid}", "other", None]),
                             device_known=rng.random() < 0.5)  # fmt: skip
        signals.append(before)
        if kind < 0.6:
            signals.append(replace(before, stage="succeeded"))
        else:
            tag = rng.choice(["t1", "t2", ""])
            signals.append(replace(before, stage="failed", attempt_tag=tag))
    return signals


def run(engine: RiskEngine, signals: list[Signal]) -> list[Assessment]:
    found = []
    for signal in signals:
        assessment = engine.assess(signal)
        found.append(assessment)
        completed = isinstance(signal, LoginSignal) and signal.stage == "succeeded"
        if completed and not assessment.flagged:
            engine.learn(signal)
    return found


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_declaring_reads_changes_no_decision(seed: int) -> None:
    signals = traffic(seed, 400)
    declared = run(RiskEngine(default_detectors(), MemoryRiskState()), signals)
    one_by_one = run(RiskEngine(default_detectors(), Undeclared()), signals)
    assert declared == one_by_one
    assert any(a.flagged for a in declared)  # the traffic reaches the detectors' findings


def test_every_stage_reads_the_store_once() -> None:
    """Whatever the stage, the detectors' assessments and observations read nothing but
    what was fetched at the stage's start (their writes aside; a failure without a
    password tag reads nothing)."""
    store = Reading()
    engine = RiskEngine(default_detectors(), store)
    stages: set[str] = set()
    for signal in traffic(4, 300):
        store.reads.clear()
        engine.assess(signal)
        stage = signal.stage if isinstance(signal, LoginSignal) else "request"
        stages.add(stage)
        assert store.reads in (["fetch"], []), (stage, store.reads)  # []: nothing to read
    assert stages == {"before", "succeeded", "failed", "request"}


def test_a_store_without_the_fetch_is_read_call_by_call() -> None:
    """The twin: the same traffic on a store that fetches nothing reads it many times."""
    store = Reading()
    calls = []
    engine = RiskEngine(default_detectors(), store)
    store.fetch = lambda reads, now: Fetched(now, {}, {}, {}, {})  # type: ignore[method-assign]
    for signal in traffic(4, 50):
        store.reads.clear()
        engine.assess(signal)
        calls.append(len(store.reads))
    assert max(calls) > 1
