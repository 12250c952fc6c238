"""Recovery codes against real databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bastion.auth.recovery import CODE_COUNT, RECOVERY_TABLE, RecoveryCodes
from bastion.auth.schema import METADATA
from bastion.core.clock import FixedClock
from bastion.core.database import (
    postgres_create_database,
    postgres_drop_database,
    postgres_engine,
    sqlite_engine,
)
from bastion.errors import VerificationError
from support.postgres import require_postgres

PEPPER = b"p" * 32


TABLES = [RECOVERY_TABLE]


@pytest.fixture(scope="module")
def pg_engine() -> Iterator[sa.Engine]:
    """One PostgreSQL database for the module (making one per test costs seconds)."""
    url = require_postgres()
    name = f"bastion_test_recovery_{uuid.uuid4().hex[:12]}"
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
def recovery(engine: sa.Engine) -> RecoveryCodes:
    return RecoveryCodes(engine, PEPPER)


def test_generate_gives_ten_distinct_codes(recovery: RecoveryCodes, clock: FixedClock) -> None:
    codes = recovery.generate(1, clock.now())
    assert len(set(codes)) == CODE_COUNT == 10
    assert recovery.remaining(1) == 10


def test_consume_accepts_a_code_once(recovery: RecoveryCodes, clock: FixedClock) -> None:
    codes = recovery.generate(1, clock.now())
    recovery.consume(1, codes[3], clock.now())
    assert recovery.remaining(1) == 9


def test_consume_refuses_a_used_code(recovery: RecoveryCodes, clock: FixedClock) -> None:
    codes = recovery.generate(1, clock.now())
    recovery.consume(1, codes[3], clock.now())
    with pytest.raises(VerificationError):
        recovery.consume(1, codes[3].upper(), clock.now())
    assert recovery.remaining(1) == 9


def test_consume_accepts_sloppy_typing(recovery: RecoveryCodes, clock: FixedClock) -> None:
    code = recovery.generate(1, clock.now())[0]
    recovery.consume(1, f"  {code.replace('-', ' ').upper()} ", clock.now())


def test_consume_refuses_a_wrong_code(recovery: RecoveryCodes, clock: FixedClock) -> None:
    codes = recovery.generate(1, clock.now())
    guess = "zzzzz-zzzzz" if "zzzzz-zzzzz" not in codes else "yyyyy-yyyyy"
    with pytest.raises(VerificationError):
        recovery.consume(1, guess, clock.now())
    assert recovery.remaining(1) == 10


def test_consume_refuses_another_users_code(recovery: RecoveryCodes, clock: FixedClock) -> None:
    mine = recovery.generate(1, clock.now())
    recovery.generate(2, clock.now())
    with pytest.raises(VerificationError):
        recovery.consume(2, mine[0], clock.now())
    recovery.consume(1, mine[0], clock.now())


def test_consume_refuses_without_codes(recovery: RecoveryCodes, clock: FixedClock) -> None:
    with pytest.raises(VerificationError):
        recovery.consume(1, "abcde-fghjk", clock.now())


def test_consume_refuses_codes_under_another_pepper(
    engine: sa.Engine, recovery: RecoveryCodes, clock: FixedClock
) -> None:
    code = recovery.generate(1, clock.now())[0]
    with pytest.raises(VerificationError):
        RecoveryCodes(engine, b"q" * 32).consume(1, code, clock.now())


def test_generate_replaces_the_old_codes(recovery: RecoveryCodes, clock: FixedClock) -> None:
    old = recovery.generate(1, clock.now())
    new = recovery.generate(1, clock.now())
    with pytest.raises(VerificationError):
        recovery.consume(1, old[0], clock.now())
    recovery.consume(1, new[0], clock.now())
    assert recovery.remaining(1) == 9


def test_consume_records_when_a_code_was_used(
    recovery: RecoveryCodes, engine: sa.Engine, clock: FixedClock
) -> None:
    code = recovery.generate(1, clock.now())[0]
    recovery.consume(1, code, clock.now())
    with engine.connect() as conn:
        used = conn.execute(
            sa.select(RECOVERY_TABLE.c.used_at).where(RECOVERY_TABLE.c.used_at.is_not(None))
        ).scalars()
        assert list(used) == [clock.now().timestamp()]


def test_codes_are_not_stored_in_clear(
    recovery: RecoveryCodes, engine: sa.Engine, clock: FixedClock
) -> None:
    codes = recovery.generate(1, clock.now())
    with engine.connect() as conn:
        dump = repr(conn.execute(sa.select(RECOVERY_TABLE)).all()).lower()
    for code in codes:
        assert code not in dump
        assert code.replace("-", "") not in dump


def test_remove_deletes_every_code(recovery: RecoveryCodes, clock: FixedClock) -> None:
    codes = recovery.generate(1, clock.now())
    recovery.generate(2, clock.now())
    recovery.remove(1)
    assert recovery.remaining(1) == 0
    assert recovery.remaining(2) == 10
    with pytest.raises(VerificationError):
        recovery.consume(1, codes[0], clock.now())


def test_concurrent_requests_with_one_code_pass_once(
    recovery: RecoveryCodes, clock: FixedClock
) -> None:
    code, now = recovery.generate(1, clock.now())[0], clock.now()
    barrier = threading.Barrier(4)
    results: list[str] = []

    def attempt() -> None:
        barrier.wait()
        try:
            recovery.consume(1, code, now)
            results.append("ok")
        except VerificationError:
            results.append("refused")

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["ok", "refused", "refused", "refused"]
