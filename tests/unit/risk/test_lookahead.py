"""A sign-in's "succeeded" stage read with its "before" stage: taken once, only by the
same attempt, bounded; and what it changes for the engine (one read less, same decision)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bastion.bootstrap.risk import default_detectors
from bastion.risk.engine import RiskEngine
from bastion.risk.lookahead import Lookahead, next_stage
from bastion.risk.signals import Agent, LoginSignal, Place, RequestSignal
from bastion.risk.state import Fetched
from support.risk_reading import Reading

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
PARIS = Place("192.0.2.1", "192.0.2.0/24", 3215, "Orange", "FR", 48.8566, 2.3522)
AGENT = Agent(browser="Firefox", browser_major="140", os="Linux", device="desktop")


def before(uid: int | None = 7, login: str = "alice") -> LoginSignal:
    return LoginSignal("t", login, T0, PARIS, AGENT, uid=uid, device="d", device_known=True)


def fetched(n: int) -> Fetched:
    return Fetched(
        float(n), {}, {}, {}, {}, added={("k", 1.0): (1, 1)}, joined={("m", "x", 1.0): 1}
    )


def test_the_next_stage_of_a_known_users_first_stage_only() -> None:
    assert next_stage(before()) == replace(before(), stage="succeeded")
    assert next_stage(before(uid=None)) is None  # an unknown login never succeeds
    assert next_stage(replace(before(), stage="succeeded")) is None
    assert next_stage(replace(before(), stage="failed")) is None
    assert next_stage(RequestSignal("t", 7, T0, PARIS, AGENT)) is None


def test_kept_reads_are_taken_once_and_without_the_first_stages_writes() -> None:
    ahead = replace(before(), stage="succeeded")
    kept = Lookahead()
    kept.keep(ahead, fetched(1))
    found = kept.take(ahead)
    assert found is not None and found.now == 1.0
    assert found.added == {} and found.joined == {}  # made once, by the first stage
    assert kept.take(ahead) is None


def test_only_the_same_attempt_takes_them() -> None:
    ahead = replace(before(), stage="succeeded")
    kept = Lookahead()
    kept.keep(ahead, fetched(1))
    assert kept.take(replace(ahead, login="bob")) is None
    assert kept.take(replace(ahead, at=T0.replace(second=1))) is None
    assert kept.take(replace(ahead, stage="failed")) is None
    assert kept.take(ahead) is not None


def test_the_oldest_are_dropped_past_the_size() -> None:
    kept = Lookahead(size=2)
    signals = [replace(before(login=f"u{n}"), stage="succeeded") for n in range(3)]
    for n, signal in enumerate(signals):
        kept.keep(signal, fetched(n))
    assert len(kept) == 2
    assert kept.take(signals[0]) is None
    assert kept.take(signals[2]) is not None
    with pytest.raises(ValueError):
        Lookahead(size=0)


def test_a_completed_sign_in_reads_the_store_once_in_all() -> None:
    store = Reading()
    engine = RiskEngine(default_detectors(), store)
    first = before()
    engine.assess(first)
    assert store.reads == ["fetch"]
    store.reads.clear()
    engine.assess(replace(first, stage="succeeded"))
    assert store.reads == []  # read with the first stage
    assert len(engine.lookahead) == 0


def test_a_second_stage_on_its_own_reads_for_itself() -> None:
    """The twin: without its first stage (or after the entry was taken) it fetches."""
    store = Reading()
    engine = RiskEngine(default_detectors(), store)
    engine.assess(replace(before(), stage="succeeded"))
    assert store.reads == ["fetch"]


def test_a_wrong_password_leaves_its_entry_to_age_out() -> None:
    engine = RiskEngine(default_detectors(), Reading())
    first = before()
    engine.assess(first)
    engine.assess(replace(first, stage="failed", attempt_tag="ab" * 8))
    assert len(engine.lookahead) == 1  # bounded: dropped once SIZE later attempts came
