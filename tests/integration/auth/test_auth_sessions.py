"""Sessions against every store: memory, SQLite, PostgreSQL and Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bastion.auth.schema import METADATA
from bastion.auth.sessions import (
    EXPIRED,
    INVALID,
    MemorySessionStore,
    RedisSessionStore,
    Session,
    SessionManager,
    SessionStore,
    SqlSessionStore,
    auth_session,
)
from bastion.core.clock import FixedClock
from bastion.core.database import (
    postgres_create_database,
    postgres_drop_database,
    postgres_engine,
    sqlite_engine,
)
from bastion.crypto.digest import sha256_hex
from bastion.errors import VerificationError
from support.postgres import require_postgres
from support.redis import delete_prefix, require_redis, unique_prefix

STORES = ["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres), "redis"]


@pytest.fixture(scope="module")
def pg_engine() -> Iterator[sa.Engine]:
    """One PostgreSQL database for the module (making one per test is slow); emptied per test."""
    url = require_postgres()
    name = f"bastion_test_sessions_{uuid.uuid4().hex[:12]}"
    postgres_create_database(url, name)
    engine = postgres_engine(url, name)
    try:
        METADATA.create_all(engine, tables=[auth_session])
        yield engine
    finally:
        engine.dispose()
        postgres_drop_database(url, name)


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SessionStore]:
    kind = request.param
    if kind == "memory":
        yield MemorySessionStore()
    elif kind == "redis":
        client = require_redis()
        prefix = unique_prefix("sessions")
        try:
            yield RedisSessionStore(client, prefix)
        finally:
            delete_prefix(client, prefix)
            client.close()
    elif kind == "sqlite":
        engine = sqlite_engine(tmp_path / "sessions.sqlite3")
        METADATA.create_all(engine, tables=[auth_session])
        try:
            yield SqlSessionStore(engine)
        finally:
            engine.dispose()
    else:
        engine = request.getfixturevalue("pg_engine")
        with engine.begin() as conn:
            conn.execute(auth_session.delete())
        yield SqlSessionStore(engine)


@pytest.fixture
def manager(store: SessionStore) -> SessionManager:
    return SessionManager(store, idle=timedelta(minutes=30), absolute=timedelta(hours=12))


def start(manager: SessionManager, clock: FixedClock, uid: int = 7) -> tuple[str, Session]:
    return manager.create(
        uid,
        clock.now(),
        device_id="device-1",
        ip="192.0.2.10",
        user_agent="Mozilla/5.0 (test)",
        mfa_pending=False,
        persistent=False,
    )


def stored_text(store: SessionStore) -> str:
    """Everything the store holds, keys and values, as one text."""
    if isinstance(store, SqlSessionStore):
        with store.engine.connect() as conn:
            rows = conn.execute(sa.select(auth_session)).all()
        return "\n".join(" ".join(str(v) for v in row) for row in rows)
    if isinstance(store, RedisSessionStore):
        parts: list[str] = []
        for raw in store.client.scan_iter(match=store.prefix + "*"):
            key = raw.decode()
            parts.append(key)
            if store.client.type(key) == b"set":
                parts.extend(m.decode() for m in store.client.smembers(key))
            else:
                parts.append(store.client.get(key).decode())
        return "\n".join(parts)
    assert isinstance(store, MemorySessionStore)
    return "\n".join(f"{h} {s!r} {s.csrf_token} {exp}" for h, (s, exp) in store._entries.items())


def test_load_returns_the_created_session(manager: SessionManager, clock: FixedClock) -> None:
    token, session = start(manager, clock)
    clock.advance(seconds=5)
    loaded = manager.load(token, clock.now())
    assert loaded == session
    assert (loaded.uid, loaded.ip, loaded.device_id) == (7, "192.0.2.10", "device-1")


def test_load_refuses_an_unknown_token(manager: SessionManager, clock: FixedClock) -> None:
    start(manager, clock)
    with pytest.raises(VerificationError, match=INVALID):
        manager.load("A" * 43, clock.now())


def test_load_accepts_within_the_idle_timeout(manager: SessionManager, clock: FixedClock) -> None:
    token, session = start(manager, clock)
    clock.advance(minutes=29, seconds=59)
    assert manager.load(token, clock.now()).sid == session.sid


def test_load_refuses_after_the_idle_timeout(manager: SessionManager, clock: FixedClock) -> None:
    token, _ = start(manager, clock)
    clock.advance(minutes=30)
    with pytest.raises(VerificationError, match=EXPIRED):
        manager.load(token, clock.now())
    with pytest.raises(VerificationError, match=INVALID):  # and it is gone
        manager.load(token, clock.now())


def test_load_keeps_an_active_session_past_the_idle_timeout(
    manager: SessionManager, clock: FixedClock
) -> None:
    token, _ = start(manager, clock)
    for _ in range(4):
        clock.advance(minutes=20)
        manager.load(token, clock.now())
    assert manager.load(token, clock.now()).last_seen == clock.now().timestamp()


def test_load_refuses_after_the_absolute_lifetime_even_if_active(
    manager: SessionManager, clock: FixedClock
) -> None:
    token, _ = start(manager, clock)
    for _ in range(11 * 4 + 3):  # used every 15 minutes for 11 h 45 min
        clock.advance(minutes=15)
        manager.load(token, clock.now())
    clock.advance(minutes=15)
    with pytest.raises(VerificationError, match=EXPIRED):
        manager.load(token, clock.now())


def test_load_writes_last_seen_at_most_once_a_minute(
    manager: SessionManager, clock: FixedClock
) -> None:
    token, session = start(manager, clock)
    clock.advance(seconds=59)
    assert manager.load(token, clock.now()).last_seen == session.last_seen
    clock.advance(seconds=1)
    assert manager.load(token, clock.now()).last_seen == clock.now().timestamp()


def test_rotate_kills_the_old_token(manager: SessionManager, clock: FixedClock) -> None:
    token, session = start(manager, clock)
    clock.advance(seconds=10)
    new_token, new = manager.rotate(token, clock.now(), mfa_pending=False, data={"a": 1})
    assert new_token != token
    assert new.csrf_token != session.csrf_token
    assert (new.sid, new.created, new.data) == (session.sid, session.created, {"a": 1})
    with pytest.raises(VerificationError):
        manager.load(token, clock.now())
    assert manager.load(new_token, clock.now()) == new


def test_rotate_refuses_the_old_token_twice(manager: SessionManager, clock: FixedClock) -> None:
    token, _ = start(manager, clock)
    manager.rotate(token, clock.now())
    with pytest.raises(VerificationError):
        manager.rotate(token, clock.now())
    assert len(manager.list_for_user(7, clock.now())) == 1


def test_rotate_keeps_the_absolute_lifetime(manager: SessionManager, clock: FixedClock) -> None:
    token, _ = start(manager, clock)
    for _ in range(12 * 2):
        clock.advance(minutes=29)
        token, _ = manager.rotate(token, clock.now(), auth_time=clock.now())
    clock.advance(minutes=25)  # 12 h 1 min after sign-in, 25 min after the last rotation
    with pytest.raises(VerificationError, match=EXPIRED):
        manager.load(token, clock.now())


def test_revoke_ends_the_session(manager: SessionManager, clock: FixedClock) -> None:
    token, _ = start(manager, clock)
    other, _ = start(manager, clock)
    manager.revoke(token)
    with pytest.raises(VerificationError):
        manager.load(token, clock.now())
    manager.load(other, clock.now())


def test_revoke_sid_ends_a_session_of_the_user(manager: SessionManager, clock: FixedClock) -> None:
    token, session = start(manager, clock, uid=7)
    assert manager.revoke_sid(7, session.sid)
    with pytest.raises(VerificationError):
        manager.load(token, clock.now())


def test_revoke_sid_refuses_another_users_session(
    manager: SessionManager, clock: FixedClock
) -> None:
    token, session = start(manager, clock, uid=7)
    assert not manager.revoke_sid(8, session.sid)
    assert manager.load(token, clock.now()).sid == session.sid


def test_revoke_user_ends_every_session_but_the_kept_one(
    manager: SessionManager, clock: FixedClock
) -> None:
    kept_token, kept = start(manager, clock, uid=7)
    ended = [start(manager, clock, uid=7)[0] for _ in range(2)]
    stranger, _ = start(manager, clock, uid=8)
    assert manager.revoke_user(7, keep_sid=kept.sid) == 2
    for token in ended:
        with pytest.raises(VerificationError):
            manager.load(token, clock.now())
    manager.load(kept_token, clock.now())
    manager.load(stranger, clock.now())
    assert manager.revoke_user(7) == 1
    with pytest.raises(VerificationError):
        manager.load(kept_token, clock.now())


def test_tokens_are_never_stored_in_clear(manager: SessionManager, clock: FixedClock) -> None:
    token, session = start(manager, clock)
    new_token, _ = manager.rotate(token, clock.now())
    text = stored_text(manager.store)
    assert session.sid in text  # the dump does hold the sessions
    assert token not in text
    assert new_token not in text


def test_list_for_user_shows_live_sessions_newest_first(
    manager: SessionManager, clock: FixedClock
) -> None:
    old_token, _ = start(manager, clock)
    clock.advance(minutes=20)
    _, middle = start(manager, clock)
    clock.advance(minutes=5)
    _, newest = start(manager, clock)
    start(manager, clock, uid=8)
    clock.advance(minutes=10)  # the first one is now idle for 35 minutes
    assert [s.sid for s in manager.list_for_user(7, clock.now())] == [newest.sid, middle.sid]
    with pytest.raises(VerificationError, match=EXPIRED):
        manager.load(old_token, clock.now())


def test_update_saves_session_data(manager: SessionManager, clock: FixedClock) -> None:
    token, session = start(manager, clock)
    changed = Session(**{**session.__dict__, "data": {"webauthn": "challenge"}})
    manager.update(token, changed)
    assert manager.load(token, clock.now()).data == {"webauthn": "challenge"}


def test_update_refuses_a_revoked_token(manager: SessionManager, clock: FixedClock) -> None:
    token, session = start(manager, clock)
    manager.revoke(token)
    with pytest.raises(VerificationError):
        manager.update(token, session)
    with pytest.raises(VerificationError):
        manager.load(token, clock.now())


def test_expired_entries_leave_the_store(manager: SessionManager, clock: FixedClock) -> None:
    """SQL and memory stores drop them on `purge`; Redis by the key's TTL."""
    token, session = start(manager, clock)
    clock.advance(minutes=20)
    live_token, _ = start(manager, clock)
    store = manager.store
    if isinstance(store, RedisSessionStore):
        ttl_ms = store.client.pttl(store._skey(manager_hash(token)))
        assert 0 < ttl_ms <= 30 * 60 * 1000
        return
    assert isinstance(store, SqlSessionStore | MemorySessionStore)
    clock.advance(minutes=10)
    assert store.purge(clock.now()) == 1
    assert store.get(manager_hash(token)) is None
    assert store.get(manager_hash(live_token)) is not None
    assert session.sid not in stored_text(store)


def test_redis_drops_members_whose_key_expired(clock: FixedClock) -> None:
    client = require_redis()
    prefix = unique_prefix("sessions")
    try:
        manager = SessionManager(RedisSessionStore(client, prefix))
        token, _ = start(manager, clock)
        start(manager, clock)
        client.delete(f"{prefix}s:{manager_hash(token)}")  # what the TTL does
        assert len(manager.list_for_user(7, clock.now())) == 1
        assert client.scard(f"{prefix}u:7") == 1
        assert client.pttl(f"{prefix}u:7") > 0  # the user's set never outlives its use
    finally:
        delete_prefix(client, prefix)
        client.close()


def manager_hash(token: str) -> str:
    return sha256_hex(token.encode())
