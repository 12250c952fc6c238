"""RiskEvents on SQLite and PostgreSQL: decisions stored with their findings, listed and counted
by filters, charted per action, answered by their own user only ("was this you?"), purged."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bastion.core.database import (
    postgres_create_database,
    postgres_drop_database,
    postgres_engine,
    sqlite_engine,
)
from bastion.errors import AccessError, ValidationError
from bastion.risk.engine import RiskEngine
from bastion.risk.events import RiskEvents, risk_event
from bastion.risk.findings import Action, Assessment, Finding
from bastion.risk.schema import create_risk_tables
from bastion.risk.signals import Agent, LoginSignal, Place, RequestSignal, Stage
from bastion.risk.state_memory import MemoryRiskState
from support.postgres import require_postgres

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
E0 = T0.timestamp()
PLACE = Place("203.0.113.7", "203.0.113.0/24", 64500, "Example Net", "CH", 46.8, 8.2)
CHROME = Agent("Chrome", "120", "Windows", "desktop", digest="ua")
DEVICE = "0123456789abcdef" * 4
NEW_DEVICE = "fedcba9876543210" * 4
PG = pytest.param("postgresql", marks=pytest.mark.postgres)


@contextlib.contextmanager
def sql_engine(backend: str, directory: Path) -> Iterator[sa.Engine]:
    if backend == "sqlite":
        engine = sqlite_engine(directory / "events.sqlite3")
        drop = None
    else:
        url = require_postgres()
        name = f"bastion_test_{uuid.uuid4().hex[:12]}"
        postgres_create_database(url, name)
        engine = postgres_engine(url, name)
        drop = (url, name)
    try:
        create_risk_tables(engine)
        yield engine
    finally:
        engine.dispose()
        if drop is not None:
            postgres_drop_database(*drop)


@pytest.fixture(scope="module")
def pg_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sa.Engine]:
    with sql_engine("postgresql", tmp_path_factory.mktemp("pg")) as engine:
        yield engine


@pytest.fixture(params=["sqlite", PG])
def events(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RiskEvents]:
    if request.param == "sqlite":
        with sql_engine("sqlite", tmp_path) as engine:
            yield RiskEvents(engine)
        return
    engine = request.getfixturevalue("pg_engine")
    try:
        yield RiskEvents(engine)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.delete(risk_event))


def login(
    stage: Stage = "succeeded",
    *,
    uid: int | None = 7,
    minutes: float = 0,
    device: str | None = NEW_DEVICE,
    login: str = "alice",
) -> LoginSignal:
    return LoginSignal(
        tenant="t",
        login=login,
        at=T0 + timedelta(minutes=minutes),
        place=PLACE,
        agent=CHROME,
        stage=stage,
        uid=uid,
        device=device,
        device_known=device == DEVICE,
    )


def request(minutes: float = 0) -> RequestSignal:
    return RequestSignal(
        "t", 7, T0 + timedelta(minutes=minutes), PLACE, CHROME, channel="rpc", device=DEVICE
    )


def decided(action: Action = Action.ALLOW, *findings: Finding) -> Assessment:
    score = min(100.0, sum(f.score for f in findings))
    return Assessment(score, findings, action, tuple(f.reason for f in findings))


NEW = Finding("login_model", "new-device", 22.5, "new device")
FLOOD = Finding("bruteforce", "ip-failures", 0, 'say "hi"', floor=Action.DENY)


def test_recorded_sign_in_reads_back(events: RiskEvents) -> None:
    event_id = events.record(login(), decided(Action.CHALLENGE, NEW, FLOOD))
    [event] = events.list()
    assert event.id == event_id
    assert (event.at, event.kind, event.stage, event.channel) == (E0, "login", "succeeded", None)
    assert (event.uid, event.login, event.ip, event.network) == (
        7, "alice", "203.0.113.7", "203.0.113.0/24"
    )  # fmt: skip
    assert (event.asn, event.as_name, event.country) == (64500, "Example Net", "CH")
    assert (event.device, event.device_known) == (NEW_DEVICE[:16], False)
    assert event.agent == "Chrome 120 on Windows"
    assert (event.score, event.action) == (22.5, Action.CHALLENGE)
    assert event.findings == (NEW, FLOOD)
    assert (event.answer, event.answered_at) == (None, None)


def test_recorded_request_reads_back(events: RiskEvents) -> None:
    events.record(request(), decided(Action.REVOKE, FLOOD))
    [event] = events.list()
    assert (event.kind, event.stage, event.channel, event.login) == ("request", None, "rpc", None)
    assert event.device_known is None


def test_long_login_is_cut(events: RiskEvents) -> None:
    events.record(login(login="x" * 300), decided())
    assert events.list()[0].login == "x" * 64


def test_naive_time_is_refused(events: RiskEvents) -> None:
    naive = LoginSignal("t", "alice", datetime(2026, 1, 5, 9), PLACE, CHROME, stage="failed")
    with pytest.raises(ValidationError, match="timezone"):
        events.record(naive, decided())


def test_list_is_newest_first_with_limit_and_offset(events: RiskEvents) -> None:
    ids = [events.record(login(minutes=m), decided()) for m in range(5)]
    assert [e.id for e in events.list()] == ids[::-1]
    assert [e.id for e in events.list(limit=2, offset=1)] == [ids[3], ids[2]]


def test_list_filters_by_user_action_and_time(events: RiskEvents) -> None:
    mine = events.record(login(minutes=1), decided(Action.DENY, FLOOD))
    events.record(login(minutes=2, uid=8), decided(Action.DENY, FLOOD))
    events.record(login(minutes=3), decided(Action.ALLOW))
    assert [e.id for e in events.list(uid=7, action=Action.DENY)] == [mine]
    assert [e.id for e in events.list(action="deny", since=E0 + 60, until=E0 + 120)] == [mine]
    assert events.list(since=E0 + 240) == []
    assert events.count(uid=7) == 2
    assert events.count(action=Action.DENY) == 2
    assert events.count() == 3


def test_list_filters_by_detector_exactly(events: RiskEvents) -> None:
    model = events.record(login(), decided(Action.ALLOW, NEW))
    events.record(login(), decided(Action.DENY, FLOOD))
    lookalike = Finding("loginXmodel", "x", 1, "r")
    events.record(login(), decided(Action.ALLOW, lookalike))
    assert [e.id for e in events.list(detector="login_model")] == [model]
    assert events.count(detector="login") == 0


def test_detector_filter_ignores_reason_text(events: RiskEvents) -> None:
    sneaky = Finding("bots", "x", 1, 'a reason saying "detector":"login_model"')
    events.record(login(), decided(Action.ALLOW, sneaky))
    assert events.count(detector="login_model") == 0
    assert events.count(detector="bots") == 1


@pytest.mark.parametrize(
    "bad", [{"action": "explode"}, {"limit": 0}, {"limit": 5000}, {"offset": -1}, {"detector": ""}]
)
def test_list_refuses_bad_filters(events: RiskEvents, bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        events.list(**bad)  # type: ignore[arg-type]


def test_timeline_counts_per_action_and_bucket(events: RiskEvents) -> None:
    events.record(login("failed", minutes=0), decided())
    events.record(login("before", minutes=1), decided(Action.DENY, FLOOD))
    events.record(login("before", minutes=1.5), decided(Action.DENY, FLOOD))
    events.record(login(minutes=5), decided(Action.CHALLENGE, NEW))
    events.record(login(minutes=6), decided())  # at the end: outside [since, until)
    slices = events.timeline(E0, E0 + 360, 3)
    assert [start for start, _ in slices] == [E0, E0 + 120, E0 + 240]
    assert slices[0][1] == {"allow": 1, "challenge": 0, "deny": 2, "revoke": 0}
    assert slices[1][1] == {"allow": 0, "challenge": 0, "deny": 0, "revoke": 0}
    assert slices[2][1] == {"allow": 0, "challenge": 1, "deny": 0, "revoke": 0}


@pytest.mark.parametrize(
    ("until", "buckets"), [(E0, 3), (E0 - 1, 3), (E0 + 60, 0), (E0 + 60, 5000)]
)
def test_timeline_refuses_bad_ranges(events: RiskEvents, until: float, buckets: int) -> None:
    with pytest.raises(ValidationError):
        events.timeline(E0, until, buckets)


def test_user_answers_own_sign_in(events: RiskEvents) -> None:
    event_id = events.record(login(), decided())
    answered = events.answer(event_id, 7, True, E0 + 30)
    assert (answered.answer, answered.answered_at) == ("yes", E0 + 30)


def test_user_cannot_answer_someone_elses_sign_in(events: RiskEvents) -> None:
    event_id = events.record(login(), decided())
    with pytest.raises(AccessError):
        events.answer(event_id, 8, False, E0 + 30)
    assert events.list()[0].answer is None


def test_missing_event_is_refused_like_someone_elses(events: RiskEvents) -> None:
    with pytest.raises(AccessError, match="not yours"):
        events.answer(424242, 7, True, E0)


@pytest.mark.parametrize("stage", ["failed", "before"])
def test_unfinished_sign_in_cannot_be_answered(events: RiskEvents, stage: Stage) -> None:
    event_id = events.record(login(stage), decided(Action.DENY, FLOOD))
    with pytest.raises(AccessError):
        events.answer(event_id, 7, True, E0)


def test_request_event_cannot_be_answered(events: RiskEvents) -> None:
    event_id = events.record(request(), decided(Action.REVOKE, FLOOD))
    with pytest.raises(AccessError):
        events.answer(event_id, 7, True, E0)


def test_no_overrides_yes(events: RiskEvents) -> None:
    event_id = events.record(login(), decided())
    events.answer(event_id, 7, True, E0 + 10)
    assert events.answer(event_id, 7, False, E0 + 20).answer == "no"


def test_yes_never_overrides_no(events: RiskEvents) -> None:
    event_id = events.record(login(), decided())
    events.answer(event_id, 7, False, E0 + 10)
    again = events.answer(event_id, 7, True, E0 + 20)
    assert (again.answer, again.answered_at) == ("no", E0 + 10)


def test_pending_lists_unanswered_new_device_sign_ins(events: RiskEvents) -> None:
    pending = events.record(login(minutes=5), decided())
    answered = events.record(login(minutes=4), decided())
    events.answer(answered, 7, True, E0 + 300)
    events.record(login(minutes=3, device=DEVICE), decided())  # a known device
    events.record(login("failed", minutes=3), decided())
    events.record(login(minutes=3, uid=8), decided())
    events.record(login(minutes=-10), decided())  # before `since`
    assert [e.id for e in events.pending_for(7, since=E0)] == [pending]


def test_purge_drops_old_events_only(events: RiskEvents) -> None:
    events.record(login(minutes=0), decided())
    recent = events.record(login(minutes=10), decided())
    assert events.purge(E0 + 300) == 1
    assert [e.id for e in events.list()] == [recent]


def test_engine_records_through_risk_events(events: RiskEvents) -> None:
    engine = RiskEngine([], MemoryRiskState(), events=events)
    engine.assess(login("before"))  # allowed: not recorded
    engine.assess(login("failed"))
    assert [(e.stage, e.action) for e in events.list()] == [("failed", Action.ALLOW)]
