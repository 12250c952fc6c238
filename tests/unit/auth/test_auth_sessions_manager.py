"""SessionManager rules that need no database: token shape, input checks, rotation limits."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

import pytest

from bastion.auth.sessions import (
    INVALID,
    MemorySessionStore,
    Session,
    SessionManager,
    decode_session,
    encode_session,
)
from bastion.core.clock import FixedClock
from bastion.errors import ConfigError, ValidationError, VerificationError


class SpyStore(MemorySessionStore):
    """A memory store that counts the calls reaching it."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def get(self, token_hash: str) -> Session | None:
        self.calls.append("get")
        return super().get(token_hash)

    def delete(self, token_hash: str) -> bool:
        self.calls.append("delete")
        return super().delete(token_hash)


@pytest.fixture
def store() -> SpyStore:
    return SpyStore()


@pytest.fixture
def manager(store: SpyStore) -> SessionManager:
    return SessionManager(store)


def start(manager: SessionManager, clock: FixedClock, **overrides: Any) -> tuple[str, Session]:
    fields: dict[str, Any] = {
        "device_id": None,
        "ip": "198.51.100.7",
        "user_agent": "test",
        "mfa_pending": True,
        "persistent": True,
    }
    return manager.create(overrides.pop("uid", 3), clock.now(), **(fields | overrides))


def test_create_makes_a_256_bit_token_and_a_separate_sid(
    manager: SessionManager, clock: FixedClock
) -> None:
    token, session = start(manager, clock)
    assert len(token) == 43  # 32 random bytes, URL-safe base64
    assert len(session.sid) == 32 and int(session.sid, 16) >= 0
    assert session.sid not in token
    assert len(session.csrf_token) == 43 and session.csrf_token != token
    assert session.created == session.last_seen == session.auth_time == clock.now().timestamp()


def test_create_makes_a_new_token_each_time(manager: SessionManager, clock: FixedClock) -> None:
    tokens = {start(manager, clock)[0] for _ in range(20)}
    assert len(tokens) == 20


def test_repr_hides_the_csrf_token(manager: SessionManager, clock: FixedClock) -> None:
    token, session = start(manager, clock)
    assert session.csrf_token not in repr(session)
    assert token not in repr(session)
    assert session.sid in repr(session)


@pytest.mark.parametrize("token", ["", "short", "x" * 129, "A" * 42 + "!", "A" * 42 + "\n", 123])
def test_load_refuses_junk_tokens_without_a_lookup(
    manager: SessionManager, store: SpyStore, clock: FixedClock, token: Any
) -> None:
    with pytest.raises(VerificationError, match=INVALID):
        manager.load(token, clock.now())
    assert store.calls == []


def test_load_looks_up_a_well_formed_token(
    manager: SessionManager, store: SpyStore, clock: FixedClock
) -> None:
    with pytest.raises(VerificationError, match=INVALID):
        manager.load("A" * 43, clock.now())
    assert store.calls == ["get"]


def test_revoke_ignores_junk_tokens(manager: SessionManager, store: SpyStore) -> None:
    manager.revoke("not a token")
    assert store.calls == []


def test_create_refuses_a_naive_time(manager: SessionManager) -> None:
    with pytest.raises(ValidationError):
        manager.create(
            3,
            datetime(2026, 1, 1),
            device_id=None,
            ip="",
            user_agent="",
            mfa_pending=False,
            persistent=False,
        )


@pytest.mark.parametrize("uid", [0, -1, True, "3"])
def test_create_refuses_a_bad_uid(manager: SessionManager, clock: FixedClock, uid: Any) -> None:
    with pytest.raises(ValidationError):
        start(manager, clock, uid=uid)


def test_create_accepts_a_positive_uid(manager: SessionManager, clock: FixedClock) -> None:
    assert start(manager, clock, uid=1)[1].uid == 1


def test_create_clips_the_user_agent(manager: SessionManager, clock: FixedClock) -> None:
    _, session = start(manager, clock, user_agent="A" * 5000)
    assert session.user_agent == "A" * 300


def test_rotate_changes_mfa_state_and_auth_time(manager: SessionManager, clock: FixedClock) -> None:
    token, session = start(manager, clock)
    clock.advance(seconds=30)
    _, new = manager.rotate(token, clock.now(), mfa_pending=False, auth_time=clock.now())
    assert not new.mfa_pending
    assert new.auth_time == clock.now().timestamp() > session.auth_time


@pytest.mark.parametrize("name", ["sid", "created", "csrf_token", "last_seen", "colour"])
def test_rotate_refuses_to_set_protected_fields(
    manager: SessionManager, clock: FixedClock, name: str
) -> None:
    token, _ = start(manager, clock)
    with pytest.raises(ValidationError):
        manager.rotate(token, clock.now(), **{name: "x"})
    manager.load(token, clock.now())  # the refused rotation left the token alive


def test_rotate_to_another_user_starts_a_new_session(
    manager: SessionManager, clock: FixedClock
) -> None:
    token, session = start(manager, clock, uid=3)
    clock.advance(minutes=1)
    _, new = manager.rotate(token, clock.now(), uid=4)
    assert new.uid == 4
    assert new.sid != session.sid
    assert new.created == clock.now().timestamp()


def test_rotate_for_the_same_user_keeps_sid_and_created(
    manager: SessionManager, clock: FixedClock
) -> None:
    token, session = start(manager, clock, uid=3)
    clock.advance(minutes=1)
    _, new = manager.rotate(token, clock.now(), uid=3)
    assert (new.sid, new.created) == (session.sid, session.created)


def test_rotate_refuses_data_that_is_not_json(manager: SessionManager, clock: FixedClock) -> None:
    token, _ = start(manager, clock)
    with pytest.raises(ValidationError):
        manager.rotate(token, clock.now(), data={"when": clock.now()})


def test_rotate_refuses_oversized_data(manager: SessionManager, clock: FixedClock) -> None:
    token, _ = start(manager, clock)
    with pytest.raises(ValidationError):
        manager.rotate(token, clock.now(), data={"blob": "x" * 5000})


@pytest.mark.parametrize("name", ["sid", "uid", "created", "csrf_token"])
def test_update_refuses_identity_changes(
    manager: SessionManager, clock: FixedClock, name: str
) -> None:
    token, session = start(manager, clock)
    value: Any = 99 if name in ("uid", "created") else "other"
    with pytest.raises(ValidationError):
        manager.update(token, dataclasses.replace(session, **{name: value}))


def test_update_accepts_a_data_change(manager: SessionManager, clock: FixedClock) -> None:
    token, session = start(manager, clock)
    manager.update(token, dataclasses.replace(session, data={"k": "v"}))
    assert manager.load(token, clock.now()).data == {"k": "v"}


@pytest.mark.parametrize(
    ("idle", "absolute"),
    [(timedelta(0), timedelta(hours=1)), (timedelta(hours=2), timedelta(hours=1))],
)
def test_manager_refuses_inconsistent_lifetimes(idle: timedelta, absolute: timedelta) -> None:
    with pytest.raises(ConfigError):
        SessionManager(MemorySessionStore(), idle=idle, absolute=absolute)


def test_manager_accepts_an_idle_timeout_equal_to_the_lifetime() -> None:
    hour = timedelta(hours=1)
    assert SessionManager(MemorySessionStore(), idle=hour, absolute=hour).idle == 3600


def test_expires_at_is_the_earlier_of_idle_and_absolute(
    manager: SessionManager, clock: FixedClock
) -> None:
    _, session = start(manager, clock)
    assert manager.expires_at(session) == session.last_seen + 1800
    late = dataclasses.replace(session, last_seen=session.created + 12 * 3600 - 60)
    assert manager.expires_at(late) == session.created + 12 * 3600


def test_encoding_round_trips(manager: SessionManager, clock: FixedClock) -> None:
    _, session = start(manager, clock, device_id="d")
    session = dataclasses.replace(session, data={"nested": {"a": [1, 2]}})
    assert decode_session(encode_session(session)) == session
