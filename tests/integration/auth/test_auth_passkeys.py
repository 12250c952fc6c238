"""Passkey ceremonies driven by a software authenticator through the webauthn library."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bastion.auth.passkeys import PASSKEY_TABLE, PASSKEY_USER_TABLE, Passkeys
from bastion.auth.schema import METADATA
from bastion.core.clock import FixedClock
from bastion.core.database import (
    postgres_create_database,
    postgres_drop_database,
    postgres_engine,
    sqlite_engine,
)
from bastion.errors import MissingError, ValidationError, VerificationError
from support.postgres import require_postgres
from support.webauthn_soft import SoftAuthenticator, b64url, tamper, unb64url

RP_ID = "bastion.test"
ORIGIN = "https://bastion.test"


TABLES = [PASSKEY_TABLE, PASSKEY_USER_TABLE]


@pytest.fixture(scope="module")
def pg_engine() -> Iterator[sa.Engine]:
    """One PostgreSQL database for the module (making one per test costs seconds)."""
    url = require_postgres()
    name = f"bastion_test_passkeys_{uuid.uuid4().hex[:12]}"
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
def passkeys(engine: sa.Engine) -> Passkeys:
    return Passkeys(engine)


def register(
    passkeys: Passkeys,
    clock: FixedClock,
    uid: int = 1,
    auth: SoftAuthenticator | None = None,
    name: str = "Laptop",
) -> tuple[SoftAuthenticator, int]:
    auth = auth or SoftAuthenticator()
    options, challenge = passkeys.registration_options(
        uid, f"user{uid}", f"User {uid}", rp_id=RP_ID, rp_name="Bastion"
    )
    credential = auth.create(options, origin=ORIGIN)
    passkey_id = passkeys.finish_registration(
        uid, credential, challenge=challenge, rp_id=RP_ID, origin=ORIGIN, name=name, now=clock.now()
    )
    return auth, passkey_id


def sign_in(
    passkeys: Passkeys, clock: FixedClock, auth: SoftAuthenticator, uid: int = 1, **get: object
) -> None:
    options, challenge = passkeys.authentication_options(uid, rp_id=RP_ID)
    credential = auth.get(options, origin=get.pop("origin", ORIGIN), **get)  # type: ignore[arg-type]
    passkeys.verify_authentication(
        uid, credential, challenge=challenge, rp_id=RP_ID, origin=ORIGIN, now=clock.now()
    )


def finish(
    passkeys: Passkeys, clock: FixedClock, credential: str, challenge: str, **kw: str
) -> int:
    args = {"rp_id": RP_ID, "origin": ORIGIN, "name": "Key"} | kw
    return passkeys.finish_registration(1, credential, challenge=challenge, now=clock.now(), **args)


# -- registration --------------------------------------------------------------------------


def test_registration_round_trip(passkeys: Passkeys, clock: FixedClock) -> None:
    _, passkey_id = register(passkeys, clock)
    [info] = passkeys.list_for_user(1)
    assert (info.id, info.name, info.created, info.last_used) == (
        passkey_id,
        "Laptop",
        clock.now().timestamp(),
        None,
    )
    assert passkeys.has_passkey(1)


def test_user_without_passkeys_has_none(passkeys: Passkeys) -> None:
    assert passkeys.list_for_user(1) == []
    assert not passkeys.has_passkey(1)


def test_registration_options_ask_for_what_we_need(passkeys: Passkeys) -> None:
    options_json, challenge = passkeys.registration_options(
        1, "alice", "Alice", rp_id=RP_ID, rp_name="Bastion"
    )
    options = json.loads(options_json)
    assert options["challenge"] == challenge
    assert len(unb64url(challenge)) >= 16
    assert options["rp"] == {"id": RP_ID, "name": "Bastion"}
    assert options["user"]["name"] == "alice"
    assert options["user"]["displayName"] == "Alice"
    assert options["authenticatorSelection"]["residentKey"] == "preferred"
    assert options["authenticatorSelection"]["userVerification"] == "preferred"
    assert options["attestation"] == "none"
    assert options["excludeCredentials"] == []


def test_registration_options_exclude_existing_passkeys(
    passkeys: Passkeys, clock: FixedClock
) -> None:
    auth, _ = register(passkeys, clock)
    options = json.loads(
        passkeys.registration_options(1, "u", "U", rp_id=RP_ID, rp_name="Bastion")[0]
    )
    [excluded] = options["excludeCredentials"]
    assert excluded["id"] == auth.id
    assert sorted(excluded["transports"]) == ["hybrid", "internal"]


def test_user_handle_is_stable_for_a_user(passkeys: Passkeys) -> None:
    first = passkeys.registration_options(1, "u", "U", rp_id=RP_ID, rp_name="B")[0]
    second = passkeys.registration_options(1, "u", "U", rp_id=RP_ID, rp_name="B")[0]
    assert json.loads(first)["user"]["id"] == json.loads(second)["user"]["id"]
    assert json.loads(first)["challenge"] != json.loads(second)["challenge"]


def test_user_handles_differ_between_users_and_hide_the_uid(passkeys: Passkeys) -> None:
    one = passkeys.user_handle(1)
    assert one != passkeys.user_handle(2)
    assert len(one) == 32
    assert one != (1).to_bytes(8, "big")


def test_registration_refuses_a_wrong_challenge(passkeys: Passkeys, clock: FixedClock) -> None:
    options, challenge = passkeys.registration_options(1, "u", "U", rp_id=RP_ID, rp_name="B")
    other = passkeys.registration_options(1, "u", "U", rp_id=RP_ID, rp_name="B")[1]
    credential = SoftAuthenticator().create(options, origin=ORIGIN)
    with pytest.raises(VerificationError):
        finish(passkeys, clock, credential, other)
    assert passkeys.list_for_user(1) == []
    finish(passkeys, clock, credential, challenge)


def test_registration_refuses_a_wrong_origin(passkeys: Passkeys, clock: FixedClock) -> None:
    options, challenge = passkeys.registration_options(1, "u", "U", rp_id=RP_ID, rp_name="B")
    credential = SoftAuthenticator().create(options, origin="https://evil.test")
    with pytest.raises(VerificationError):
        finish(passkeys, clock, credential, challenge)
    assert passkeys.list_for_user(1) == []


def test_registration_refuses_a_wrong_rp_id(passkeys: Passkeys, clock: FixedClock) -> None:
    options, challenge = passkeys.registration_options(1, "u", "U", rp_id=RP_ID, rp_name="B")
    credential = SoftAuthenticator().create(options, origin=ORIGIN, rp_id="evil.test")
    with pytest.raises(VerificationError):
        finish(passkeys, clock, credential, challenge)
    assert passkeys.list_for_user(1) == []


def test_registration_refuses_a_truncated_challenge(passkeys: Passkeys, clock: FixedClock) -> None:
    options, _ = passkeys.registration_options(1, "u", "U", rp_id=RP_ID, rp_name="B")
    credential = SoftAuthenticator().create(options, origin=ORIGIN, challenge="")
    with pytest.raises(VerificationError):
        finish(passkeys, clock, credential, "")


def test_registration_refuses_an_authentication_response(
    passkeys: Passkeys, clock: FixedClock
) -> None:
    auth, _ = register(passkeys, clock)
    options, challenge = passkeys.authentication_options(1, rp_id=RP_ID)
    with pytest.raises((ValidationError, VerificationError)):
        finish(passkeys, clock, auth.get(options, origin=ORIGIN), challenge)


def test_registration_refuses_a_duplicate_credential(passkeys: Passkeys, clock: FixedClock) -> None:
    auth, _ = register(passkeys, clock, uid=1)
    with pytest.raises(ValidationError):
        register(passkeys, clock, uid=1, auth=auth)
    with pytest.raises(ValidationError):
        register(passkeys, clock, uid=2, auth=auth)
    assert len(passkeys.list_for_user(1)) == 1
    assert passkeys.list_for_user(2) == []


def test_registration_defaults_a_blank_name(passkeys: Passkeys, clock: FixedClock) -> None:
    register(passkeys, clock, name="   ")
    assert passkeys.list_for_user(1)[0].name == "Passkey"


def test_registration_options_refuse_empty_names(passkeys: Passkeys) -> None:
    with pytest.raises(ValidationError):
        passkeys.registration_options(1, "", "U", rp_id=RP_ID, rp_name="B")


# -- sign-in -------------------------------------------------------------------------------


def test_authentication_round_trip(passkeys: Passkeys, clock: FixedClock) -> None:
    auth, _ = register(passkeys, clock)
    clock.advance(seconds=60)
    sign_in(passkeys, clock, auth)
    assert passkeys.list_for_user(1)[0].last_used == clock.now().timestamp()
    sign_in(passkeys, clock, auth)


def test_authentication_options_list_the_users_passkeys(
    passkeys: Passkeys, clock: FixedClock
) -> None:
    mine, _ = register(passkeys, clock, uid=1)
    register(passkeys, clock, uid=2)
    options = json.loads(passkeys.authentication_options(1, rp_id=RP_ID)[0])
    assert [c["id"] for c in options["allowCredentials"]] == [mine.id]
    assert options["rpId"] == RP_ID
    assert options["userVerification"] == "preferred"


def test_authentication_options_refused_without_passkeys(passkeys: Passkeys) -> None:
    with pytest.raises(MissingError):
        passkeys.authentication_options(1, rp_id=RP_ID)


def test_authentication_refuses_a_wrong_challenge(passkeys: Passkeys, clock: FixedClock) -> None:
    auth, _ = register(passkeys, clock)
    with pytest.raises(VerificationError):
        sign_in(passkeys, clock, auth, challenge=b64url(b"x" * 32))


def test_authentication_refuses_a_wrong_origin(passkeys: Passkeys, clock: FixedClock) -> None:
    auth, _ = register(passkeys, clock)
    with pytest.raises(VerificationError):
        sign_in(passkeys, clock, auth, origin="https://bastion.test.evil.test")


def test_authentication_refuses_a_wrong_rp_id(passkeys: Passkeys, clock: FixedClock) -> None:
    auth, _ = register(passkeys, clock)
    with pytest.raises(VerificationError):
        sign_in(passkeys, clock, auth, rp_id="evil.test")


def test_authentication_refuses_a_tampered_signature(passkeys: Passkeys, clock: FixedClock) -> None:
    auth, _ = register(passkeys, clock)
    options, challenge = passkeys.authentication_options(1, rp_id=RP_ID)
    good = auth.get(options, origin=ORIGIN)
    bad = tamper(good, "signature", lambda sig: sig[:-1] + bytes([sig[-1] ^ 1]))
    with pytest.raises(VerificationError):
        passkeys.verify_authentication(
            1, bad, challenge=challenge, rp_id=RP_ID, origin=ORIGIN, now=clock.now()
        )
    passkeys.verify_authentication(
        1, good, challenge=challenge, rp_id=RP_ID, origin=ORIGIN, now=clock.now()
    )


def test_authentication_refuses_tampered_authenticator_data(
    passkeys: Passkeys, clock: FixedClock
) -> None:
    auth, _ = register(passkeys, clock)
    options, challenge = passkeys.authentication_options(1, rp_id=RP_ID)
    # Raise the counter after signing: the signature no longer covers the data.
    bad = tamper(
        auth.get(options, origin=ORIGIN), "authenticatorData", lambda d: d[:33] + b"\0\0\1\0"
    )
    with pytest.raises(VerificationError):
        passkeys.verify_authentication(
            1, bad, challenge=challenge, rp_id=RP_ID, origin=ORIGIN, now=clock.now()
        )


def test_authentication_refuses_another_users_passkey(
    passkeys: Passkeys, clock: FixedClock
) -> None:
    register(passkeys, clock, uid=1)
    theirs, _ = register(passkeys, clock, uid=2)
    options, challenge = passkeys.authentication_options(2, rp_id=RP_ID)
    credential = theirs.get(options, origin=ORIGIN)  # valid, but for user 2
    with pytest.raises(VerificationError):
        passkeys.verify_authentication(
            1, credential, challenge=challenge, rp_id=RP_ID, origin=ORIGIN, now=clock.now()
        )
    passkeys.verify_authentication(
        2, credential, challenge=challenge, rp_id=RP_ID, origin=ORIGIN, now=clock.now()
    )


def test_authentication_refuses_a_foreign_user_handle(
    passkeys: Passkeys, clock: FixedClock
) -> None:
    auth, _ = register(passkeys, clock, uid=1)
    auth.user_handle = passkeys.user_handle(2)
    with pytest.raises(VerificationError):
        sign_in(passkeys, clock, auth)


def test_authentication_accepts_a_missing_user_handle(
    passkeys: Passkeys, clock: FixedClock
) -> None:
    auth, _ = register(passkeys, clock, uid=1)
    auth.user_handle = None
    sign_in(passkeys, clock, auth)


def test_authentication_refuses_a_counter_regression(passkeys: Passkeys, clock: FixedClock) -> None:
    auth, _ = register(passkeys, clock, auth=SoftAuthenticator(sign_count=5))
    sign_in(passkeys, clock, auth)  # counter 6
    with pytest.raises(VerificationError):
        sign_in(passkeys, clock, auth, sign_count=6)
    with pytest.raises(VerificationError):
        sign_in(passkeys, clock, auth, sign_count=3)
    sign_in(passkeys, clock, auth, sign_count=7)


def test_authentication_refuses_a_replayed_assertion(passkeys: Passkeys, clock: FixedClock) -> None:
    auth, _ = register(passkeys, clock)
    options, challenge = passkeys.authentication_options(1, rp_id=RP_ID)
    credential = auth.get(options, origin=ORIGIN)
    args = {"challenge": challenge, "rp_id": RP_ID, "origin": ORIGIN, "now": clock.now()}
    passkeys.verify_authentication(1, credential, **args)  # type: ignore[arg-type]
    with pytest.raises(VerificationError):
        passkeys.verify_authentication(1, credential, **args)  # type: ignore[arg-type]


def test_authentication_accepts_authenticators_without_a_counter(
    passkeys: Passkeys, clock: FixedClock
) -> None:
    auth, _ = register(passkeys, clock)
    sign_in(passkeys, clock, auth, sign_count=0)
    sign_in(passkeys, clock, auth, sign_count=0)


def test_authentication_refuses_a_counter_dropping_to_zero(
    passkeys: Passkeys, clock: FixedClock
) -> None:
    auth, _ = register(passkeys, clock)
    sign_in(passkeys, clock, auth, sign_count=4)
    with pytest.raises(VerificationError):
        sign_in(passkeys, clock, auth, sign_count=0)


def test_authentication_refuses_a_removed_passkey(passkeys: Passkeys, clock: FixedClock) -> None:
    auth, passkey_id = register(passkeys, clock)
    register(passkeys, clock)  # another one, so options can still be made
    options, challenge = passkeys.authentication_options(1, rp_id=RP_ID)
    passkeys.remove(1, passkey_id)
    with pytest.raises(VerificationError):
        passkeys.verify_authentication(
            1,
            auth.get(options, origin=ORIGIN),
            challenge=challenge,
            rp_id=RP_ID,
            origin=ORIGIN,
            now=clock.now(),
        )


def test_authentication_refuses_malformed_json(passkeys: Passkeys, clock: FixedClock) -> None:
    register(passkeys, clock)
    _, challenge = passkeys.authentication_options(1, rp_id=RP_ID)
    for body in ["", "{", "[]", '{"rawId": 1}']:
        with pytest.raises(ValidationError):
            passkeys.verify_authentication(
                1, body, challenge=challenge, rp_id=RP_ID, origin=ORIGIN, now=clock.now()
            )


def test_authentication_refuses_a_garbage_response(passkeys: Passkeys, clock: FixedClock) -> None:
    auth, _ = register(passkeys, clock)
    _, challenge = passkeys.authentication_options(1, rp_id=RP_ID)
    body = {
        "id": auth.id,
        "rawId": auth.id,
        "type": "public-key",
        "response": {"clientDataJSON": "e30", "authenticatorData": "AA", "signature": "AA"},
    }
    with pytest.raises(VerificationError):
        passkeys.verify_authentication(
            1, json.dumps(body), challenge=challenge, rp_id=RP_ID, origin=ORIGIN, now=clock.now()
        )


# -- management ----------------------------------------------------------------------------


def test_remove_deletes_the_users_passkey(passkeys: Passkeys, clock: FixedClock) -> None:
    _, passkey_id = register(passkeys, clock)
    passkeys.remove(1, passkey_id)
    assert passkeys.list_for_user(1) == []


def test_remove_refuses_another_users_passkey(passkeys: Passkeys, clock: FixedClock) -> None:
    _, passkey_id = register(passkeys, clock, uid=2)
    with pytest.raises(MissingError):
        passkeys.remove(1, passkey_id)
    assert len(passkeys.list_for_user(2)) == 1


def test_remove_all_deletes_only_that_users_passkeys(passkeys: Passkeys, clock: FixedClock) -> None:
    register(passkeys, clock, uid=1)
    register(passkeys, clock, uid=1)
    register(passkeys, clock, uid=2)
    assert passkeys.remove_all(1) == 2
    assert passkeys.list_for_user(1) == []
    assert len(passkeys.list_for_user(2)) == 1


def test_list_is_oldest_first(passkeys: Passkeys, clock: FixedClock) -> None:
    register(passkeys, clock, name="first")
    clock.advance(seconds=5)
    register(passkeys, clock, name="second")
    assert [p.name for p in passkeys.list_for_user(1)] == ["first", "second"]
