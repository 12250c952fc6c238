"""The MFA facade over the real stores (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bastion.auth.mfa import Mfa
from bastion.auth.passkeys import PASSKEY_TABLE, PASSKEY_USER_TABLE, Passkeys
from bastion.auth.recovery import RECOVERY_TABLE, RecoveryCodes
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
from support.postgres import require_postgres
from support.webauthn_soft import SoftAuthenticator

RP_ID = "bastion.test"
ORIGIN = "https://bastion.test"


TABLES = [TOTP_TABLE, RECOVERY_TABLE, PASSKEY_TABLE, PASSKEY_USER_TABLE]


@pytest.fixture(scope="module")
def pg_engine() -> Iterator[sa.Engine]:
    """One PostgreSQL database for the module (making one per test costs seconds)."""
    url = require_postgres()
    name = f"bastion_test_mfa_{uuid.uuid4().hex[:12]}"
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
def mfa(engine: sa.Engine) -> Mfa:
    return Mfa(
        TotpFactor(engine, Sealer([b"k" * 32], "auth.totp")),
        RecoveryCodes(engine, b"p" * 32),
        Passkeys(engine),
    )


def enrol_totp(mfa: Mfa, clock: FixedClock, uid: int = 1) -> None:
    secret = mfa.totp.begin(uid, clock.now())
    mfa.totp.confirm(uid, totp_code_at(secret, clock.now()), clock.now())


def add_passkey(mfa: Mfa, clock: FixedClock, uid: int = 1) -> None:
    options, challenge = mfa.passkeys.registration_options(
        uid, "u", "U", rp_id=RP_ID, rp_name="Bastion"
    )
    credential = SoftAuthenticator().create(options, origin=ORIGIN)
    mfa.passkeys.finish_registration(
        uid, credential, challenge=challenge, rp_id=RP_ID, origin=ORIGIN, name="k", now=clock.now()
    )


def test_new_user_has_no_factor(mfa: Mfa) -> None:
    assert mfa.factors(1) == frozenset()
    assert not mfa.has_second_factor(1)


def test_confirmed_totp_is_a_second_factor(mfa: Mfa, clock: FixedClock) -> None:
    enrol_totp(mfa, clock)
    assert mfa.factors(1) == {"totp"}
    assert mfa.has_second_factor(1)


def test_pending_totp_is_not_a_factor(mfa: Mfa, clock: FixedClock) -> None:
    mfa.totp.begin(1, clock.now())
    assert mfa.factors(1) == frozenset()
    assert not mfa.has_second_factor(1)


def test_passkey_is_a_second_factor(mfa: Mfa, clock: FixedClock) -> None:
    add_passkey(mfa, clock)
    assert mfa.factors(1) == {"passkey"}
    assert mfa.has_second_factor(1)


def test_another_users_factors_do_not_count(mfa: Mfa, clock: FixedClock) -> None:
    enrol_totp(mfa, clock, uid=2)
    add_passkey(mfa, clock, uid=3)
    assert not mfa.has_second_factor(1)
    assert mfa.has_second_factor(2) and mfa.has_second_factor(3)


def test_second_factor_question_is_one_read(mfa: Mfa, engine: sa.Engine, clock: FixedClock) -> None:
    enrol_totp(mfa, clock, uid=2)
    statements: list[str] = []

    def seen(*args: object) -> None:
        statements.append(str(args[2]))

    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        assert mfa.has_second_factor(2)
        assert not mfa.has_second_factor(1)
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(reads) == 2, statements


def test_recovery_codes_alone_are_not_a_second_factor(mfa: Mfa, clock: FixedClock) -> None:
    mfa.recovery.generate(1, clock.now())
    assert mfa.factors(1) == {"recovery"}
    assert not mfa.has_second_factor(1)


def test_used_up_recovery_codes_are_not_listed(mfa: Mfa, clock: FixedClock) -> None:
    enrol_totp(mfa, clock)
    for code in mfa.recovery.generate(1, clock.now()):
        mfa.recovery.consume(1, code, clock.now())
    assert mfa.factors(1) == {"totp"}


def test_factors_are_per_user(mfa: Mfa, clock: FixedClock) -> None:
    enrol_totp(mfa, clock, uid=1)
    add_passkey(mfa, clock, uid=2)
    assert mfa.factors(1) == {"totp"}
    assert mfa.factors(2) == {"passkey"}


def test_remove_all_removes_every_factor_of_that_user(mfa: Mfa, clock: FixedClock) -> None:
    for uid in (1, 2):
        enrol_totp(mfa, clock, uid)
        add_passkey(mfa, clock, uid)
        mfa.recovery.generate(uid, clock.now())
    mfa.remove_all(1)
    assert mfa.factors(1) == frozenset()
    assert not mfa.has_second_factor(1)
    assert mfa.factors(2) == {"totp", "passkey", "recovery"}
