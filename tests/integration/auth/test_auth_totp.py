"""TOTP enrolment and sign-in against real databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bastion.auth.schema import METADATA
from bastion.auth.totp import TOTP_TABLE, TotpFactor
from bastion.core.clock import FixedClock
from bastion.core.database import (
    postgres_create_database,
    postgres_drop_database,
    postgres_engine,
    sqlite_engine,
)
from bastion.crypto.sealing import Sealer
from bastion.crypto.totp import totp_code_at
from bastion.errors import ValidationError, VerificationError
from support.postgres import require_postgres

KEYS = [b"k" * 32]


TABLES = [TOTP_TABLE]


@pytest.fixture(scope="module")
def pg_engine() -> Iterator[sa.Engine]:
    """One PostgreSQL database for the module (making one per test costs seconds)."""
    url = require_postgres()
    name = f"bastion_test_totp_{uuid.uuid4().hex[:12]}"
    postgres_create_database(url, name)
    engine = postgres_engine(url, name)
    try:
        METADATA.create_all(engine, tables=TABLES)
        yield engine
    finally:
        engine.dispose()
        postgres_drop_database(url, name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    if request.param == "sqlite":
        engine = sqlite_engine(tmp_path / "auth.db")
        METADATA.create_all(engine, tables=TABLES)
        yield engine
        engine.dispose()
        return
    engine = request.getfixturevalue("pg_engine")
    yield engine
    with engine.begin() as conn:
        for table in TABLES:
            conn.execute(sa.delete(table))


@pytest.fixture
def totp(engine: sa.Engine) -> TotpFactor:
    return TotpFactor(engine, Sealer(KEYS, "auth.totp"))


def enrol(totp: TotpFactor, clock: FixedClock, uid: int = 1) -> str:
    secret = totp.begin(uid, clock.now())
    totp.confirm(uid, totp_code_at(secret, clock.now()), clock.now())
    clock.advance(seconds=30)
    return secret


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_confirm_enrols_with_a_current_code(totp: TotpFactor, clock: FixedClock) -> None:
    secret = totp.begin(1, clock.now())
    assert not totp.is_enrolled(1)
    totp.confirm(1, totp_code_at(secret, clock.now()), clock.now())
    assert totp.is_enrolled(1)


def test_confirm_refuses_a_wrong_code(totp: TotpFactor, clock: FixedClock) -> None:
    secret = totp.begin(1, clock.now())
    with pytest.raises(VerificationError):
        totp.confirm(1, wrong(totp_code_at(secret, clock.now())), clock.now())
    assert not totp.is_enrolled(1)


def test_confirm_refuses_without_enrolment(totp: TotpFactor, clock: FixedClock) -> None:
    with pytest.raises(VerificationError):
        totp.confirm(1, "123456", clock.now())


def test_verify_accepts_a_current_code(totp: TotpFactor, clock: FixedClock) -> None:
    secret = enrol(totp, clock)
    totp.verify(1, totp_code_at(secret, clock.now()), clock.now())


def test_verify_accepts_a_code_typed_with_a_space(totp: TotpFactor, clock: FixedClock) -> None:
    secret = enrol(totp, clock)
    code = totp_code_at(secret, clock.now())
    totp.verify(1, f" {code[:3]} {code[3:]} ", clock.now())


def test_verify_refuses_a_wrong_code(totp: TotpFactor, clock: FixedClock) -> None:
    secret = enrol(totp, clock)
    with pytest.raises(VerificationError):
        totp.verify(1, wrong(totp_code_at(secret, clock.now())), clock.now())


@pytest.mark.parametrize("code", ["", "abcdef", "1" * 100, "12345"])
def test_verify_refuses_malformed_codes(totp: TotpFactor, clock: FixedClock, code: str) -> None:
    enrol(totp, clock)
    with pytest.raises(VerificationError):
        totp.verify(1, code, clock.now())


def test_verify_refuses_a_replayed_code(totp: TotpFactor, clock: FixedClock) -> None:
    secret = enrol(totp, clock)
    code = totp_code_at(secret, clock.now())
    totp.verify(1, code, clock.now())
    with pytest.raises(VerificationError):
        totp.verify(1, code, clock.now())


def test_verify_accepts_the_next_time_step(totp: TotpFactor, clock: FixedClock) -> None:
    secret = enrol(totp, clock)
    totp.verify(1, totp_code_at(secret, clock.now()), clock.now())
    clock.advance(seconds=30)
    totp.verify(1, totp_code_at(secret, clock.now()), clock.now())


def test_verify_refuses_the_code_that_confirmed(totp: TotpFactor, clock: FixedClock) -> None:
    secret = totp.begin(1, clock.now())
    code = totp_code_at(secret, clock.now())
    totp.confirm(1, code, clock.now())
    with pytest.raises(VerificationError):
        totp.verify(1, code, clock.now())


def test_verify_refuses_an_unconfirmed_secret(totp: TotpFactor, clock: FixedClock) -> None:
    secret = totp.begin(1, clock.now())
    with pytest.raises(VerificationError):
        totp.verify(1, totp_code_at(secret, clock.now()), clock.now())


def test_verify_refuses_without_enrolment(totp: TotpFactor, clock: FixedClock) -> None:
    with pytest.raises(VerificationError):
        totp.verify(1, "123456", clock.now())


def test_verify_refuses_a_code_checked_against_a_stale_read(
    totp: TotpFactor, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two requests carrying one code both read the row before either writes: the conditional
    # UPDATE must still let only one through.
    secret = enrol(totp, clock)
    code = totp_code_at(secret, clock.now())
    stale = totp._state(1)
    totp.verify(1, code, clock.now())
    monkeypatch.setattr(totp, "_state", lambda uid: stale)
    with pytest.raises(VerificationError):
        totp.verify(1, code, clock.now())


def test_concurrent_requests_with_one_code_pass_once(totp: TotpFactor, clock: FixedClock) -> None:
    secret = enrol(totp, clock)
    code, now = totp_code_at(secret, clock.now()), clock.now()
    barrier = threading.Barrier(4)
    results: list[str] = []

    def attempt() -> None:
        barrier.wait()
        try:
            totp.verify(1, code, now)
            results.append("ok")
        except VerificationError:
            results.append("refused")

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["ok", "refused", "refused", "refused"]


def test_begin_replaces_an_unconfirmed_secret(totp: TotpFactor, clock: FixedClock) -> None:
    first = totp.begin(1, clock.now())
    second = totp.begin(1, clock.now())
    assert first != second
    with pytest.raises(VerificationError):
        totp.confirm(1, totp_code_at(first, clock.now()), clock.now())
    totp.confirm(1, totp_code_at(second, clock.now()), clock.now())


def test_begin_refuses_while_a_secret_is_confirmed(totp: TotpFactor, clock: FixedClock) -> None:
    secret = enrol(totp, clock)
    with pytest.raises(ValidationError):
        totp.begin(1, clock.now())
    totp.verify(1, totp_code_at(secret, clock.now()), clock.now())


def test_remove_then_begin_enrols_afresh(totp: TotpFactor, clock: FixedClock) -> None:
    old = enrol(totp, clock)
    totp.remove(1)
    assert not totp.is_enrolled(1)
    with pytest.raises(VerificationError):
        totp.verify(1, totp_code_at(old, clock.now()), clock.now())
    enrol(totp, clock)
    assert totp.is_enrolled(1)


def test_secret_is_not_stored_in_clear(
    totp: TotpFactor, engine: sa.Engine, clock: FixedClock
) -> None:
    secret = enrol(totp, clock)
    with engine.connect() as conn:
        row = conn.execute(sa.select(TOTP_TABLE).where(TOTP_TABLE.c.uid == 1)).one()
    assert secret not in repr(tuple(row))
    assert secret.lower() not in repr(tuple(row)).lower()


def test_users_have_their_own_secrets(totp: TotpFactor, clock: FixedClock) -> None:
    one, two = totp.begin(1, clock.now()), totp.begin(2, clock.now())
    assert one != two
    with pytest.raises(VerificationError):
        totp.confirm(2, totp_code_at(one, clock.now()), clock.now())


def test_sealed_secret_moved_to_another_user_fails(
    totp: TotpFactor, engine: sa.Engine, clock: FixedClock
) -> None:
    secret = enrol(totp, clock, uid=1)
    enrol(totp, clock, uid=2)
    t = TOTP_TABLE
    with engine.begin() as conn:
        sealed = conn.execute(sa.select(t.c.secret_sealed).where(t.c.uid == 1)).scalar_one()
        conn.execute(sa.update(t).where(t.c.uid == 2).values(secret_sealed=sealed))
    with pytest.raises(VerificationError):
        totp.verify(2, totp_code_at(secret, clock.now()), clock.now())
    totp.verify(1, totp_code_at(secret, clock.now()), clock.now())


def test_secret_sealed_under_another_key_fails(
    engine: sa.Engine, totp: TotpFactor, clock: FixedClock
) -> None:
    secret = enrol(totp, clock)
    other = TotpFactor(engine, Sealer([b"o" * 32], "auth.totp"))
    with pytest.raises(VerificationError):
        other.verify(1, totp_code_at(secret, clock.now()), clock.now())
