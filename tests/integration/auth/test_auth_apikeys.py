"""API keys against real databases (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
import sqlalchemy as sa

from bastion.auth.apikeys import INVALID, ApiKeys, KeyScope, auth_api_key
from bastion.auth.schema import METADATA
from bastion.core.clock import FixedClock
from bastion.core.tenant import Tenant
from bastion.crypto.digest import sha256_hex
from bastion.errors import MissingError, ValidationError, VerificationError

ALL = KeyScope(None, readonly=False)
IP = "192.0.2.44"


@pytest.fixture
def keys(make_tenant: Callable[..., Tenant]) -> ApiKeys:
    engine = make_tenant().engine
    METADATA.create_all(engine, tables=[auth_api_key])
    return ApiKeys(engine)


def make(
    keys: ApiKeys, clock: FixedClock, uid: int = 2, scope: KeyScope = ALL, days: int = 30
) -> tuple[str, int]:
    return keys.create(
        uid, "ci deploy", clock.now(), scope=scope, expires_at=clock.now() + timedelta(days=days)
    )


def rows(keys: ApiKeys) -> list[sa.Row[tuple[object, ...]]]:
    with keys.engine.connect() as conn:
        return list(conn.execute(sa.select(auth_api_key)).all())


def refused(keys: ApiKeys, key: str, clock: FixedClock) -> None:
    with pytest.raises(VerificationError) as caught:
        keys.verify(key, clock.now(), ip=IP)
    assert caught.value.message == INVALID


def test_key_has_the_documented_shape(keys: ApiKeys, clock: FixedClock) -> None:
    key, _ = make(keys, clock)
    head, prefix, secret = key[:4], key[4:14], key[15:]
    assert (head, key[14]) == ("bst_", "_")
    assert prefix.isalnum() and prefix.islower()
    assert len(secret) == 32  # 24 random bytes: 192 bits, over the 160 required


def test_key_is_stored_only_as_prefix_and_hash(keys: ApiKeys, clock: FixedClock) -> None:
    key, key_id = make(keys, clock)
    [row] = rows(keys)
    dump = " ".join(str(v) for v in row)
    assert key not in dump
    assert key[15:] not in dump  # nor its secret part
    assert row.id == key_id
    assert row.prefix == key[4:14]
    assert row.key_hash == sha256_hex(key.encode())


def test_verify_accepts_the_key(keys: ApiKeys, clock: FixedClock) -> None:
    scope = KeyScope(("res.partner",), readonly=True)
    key, key_id = make(keys, clock, uid=2, scope=scope)
    identity = keys.verify(key, clock.now(), ip=IP)
    assert (identity.key_id, identity.uid, identity.scope) == (key_id, 2, scope)


def test_verify_refuses_a_wrong_secret(keys: ApiKeys, clock: FixedClock) -> None:
    key, _ = make(keys, clock)
    last = "A" if key[-1] != "A" else "B"
    refused(keys, key[:-1] + last, clock)


def test_verify_refuses_an_unknown_prefix(keys: ApiKeys, clock: FixedClock) -> None:
    key, _ = make(keys, clock)
    other = "a" if key[4] != "a" else "b"
    refused(keys, key[:4] + other + key[5:], clock)


@pytest.mark.parametrize(
    "junk", ["", "bst_", "Bearer x", "bst_abc_def", "x" * 5000, "bst_" + "a" * 10 + "_" + "!" * 32]
)
def test_verify_refuses_malformed_keys(keys: ApiKeys, clock: FixedClock, junk: str) -> None:
    make(keys, clock)
    refused(keys, junk, clock)


def test_verify_accepts_until_expiry(keys: ApiKeys, clock: FixedClock) -> None:
    key, _ = make(keys, clock, days=30)
    clock.advance(days=29, hours=23)
    keys.verify(key, clock.now(), ip=IP)


def test_verify_refuses_an_expired_key(keys: ApiKeys, clock: FixedClock) -> None:
    key, _ = make(keys, clock, days=30)
    clock.advance(days=30)
    refused(keys, key, clock)


def test_verify_refuses_a_revoked_key(keys: ApiKeys, clock: FixedClock) -> None:
    key, key_id = make(keys, clock, uid=2)
    keys.revoke(2, key_id, clock.now())
    refused(keys, key, clock)


def test_revoke_refuses_another_users_key(keys: ApiKeys, clock: FixedClock) -> None:
    key, key_id = make(keys, clock, uid=2)
    with pytest.raises(MissingError):
        keys.revoke(3, key_id, clock.now())
    keys.verify(key, clock.now(), ip=IP)


def test_revoke_refuses_an_unknown_key(keys: ApiKeys, clock: FixedClock) -> None:
    with pytest.raises(MissingError):
        keys.revoke(2, 12345, clock.now())


def test_revoke_user_revokes_only_that_users_keys(keys: ApiKeys, clock: FixedClock) -> None:
    first, _ = make(keys, clock, uid=2)
    second, _ = make(keys, clock, uid=2)
    stranger, _ = make(keys, clock, uid=3)
    assert keys.revoke_user(2, clock.now()) == 2
    refused(keys, first, clock)
    refused(keys, second, clock)
    keys.verify(stranger, clock.now(), ip=IP)


def test_verify_records_last_use_and_ip(keys: ApiKeys, clock: FixedClock) -> None:
    key, _ = make(keys, clock)
    clock.advance(minutes=5)
    keys.verify(key, clock.now(), ip=IP)
    [info] = keys.list_for_user(2, clock.now())
    assert (info.last_used, info.last_ip) == (clock.now().timestamp(), IP)


def test_verify_writes_last_use_at_most_once_a_minute(keys: ApiKeys, clock: FixedClock) -> None:
    key, _ = make(keys, clock)
    keys.verify(key, clock.now(), ip=IP)
    first = clock.now().timestamp()
    clock.advance(seconds=59)
    keys.verify(key, clock.now(), ip=IP)
    assert keys.list_for_user(2, clock.now())[0].last_used == first
    clock.advance(seconds=1)
    keys.verify(key, clock.now(), ip=IP)
    assert keys.list_for_user(2, clock.now())[0].last_used == clock.now().timestamp()


def test_verify_records_a_new_ip_at_once(keys: ApiKeys, clock: FixedClock) -> None:
    key, _ = make(keys, clock)
    keys.verify(key, clock.now(), ip=IP)
    clock.advance(seconds=5)
    keys.verify(key, clock.now(), ip="2001:db8::1")
    [info] = keys.list_for_user(2, clock.now())
    assert (info.last_used, info.last_ip) == (clock.now().timestamp(), "2001:db8::1")


def test_list_for_user_shows_no_secret(keys: ApiKeys, clock: FixedClock) -> None:
    key, key_id = make(keys, clock)
    [info] = keys.list_for_user(2, clock.now())
    assert info.id == key_id
    assert info.prefix == key[:14]
    assert key not in repr(info)
    assert sha256_hex(key.encode()) not in repr(info)


def test_list_for_user_flags_expired_and_hides_revoked_keys(
    keys: ApiKeys, clock: FixedClock
) -> None:
    make(keys, clock, days=1)
    clock.advance(seconds=1)
    _, fresh = make(keys, clock, days=10)
    clock.advance(seconds=1)
    _, revoked = make(keys, clock)
    keys.revoke(2, revoked, clock.now())
    make(keys, clock, uid=3)
    listed = keys.list_for_user(2, clock.now() + timedelta(days=2))
    assert [(k.id == fresh, k.expired) for k in listed] == [(True, False), (False, True)]


def test_create_accepts_the_maximum_duration(keys: ApiKeys, clock: FixedClock) -> None:
    keys.create(
        2, "k", clock.now(), scope=ALL, expires_at=clock.now() + timedelta(days=90), max_days=90
    )


def test_create_refuses_more_than_the_maximum_duration(keys: ApiKeys, clock: FixedClock) -> None:
    until = clock.now() + timedelta(days=90, seconds=1)
    with pytest.raises(ValidationError, match="at most 90 days"):
        keys.create(2, "k", clock.now(), scope=ALL, expires_at=until, max_days=90)
    assert rows(keys) == []


def test_create_refuses_an_expiry_in_the_past(keys: ApiKeys, clock: FixedClock) -> None:
    with pytest.raises(ValidationError):
        keys.create(2, "k", clock.now(), scope=ALL, expires_at=clock.now())


@pytest.mark.parametrize("name", ["", "   ", "x" * 81, "tab\there", "bell\x07", "zw\u200bsp"])
def test_create_refuses_bad_names(keys: ApiKeys, clock: FixedClock, name: str) -> None:
    with pytest.raises(ValidationError):
        keys.create(2, name, clock.now(), scope=ALL, expires_at=clock.now() + timedelta(days=1))


def test_create_accepts_a_unicode_name(keys: ApiKeys, clock: FixedClock) -> None:
    keys.create(
        2, " Intégration 🚀 ", clock.now(), scope=ALL, expires_at=clock.now() + timedelta(days=1)
    )
    assert keys.list_for_user(2, clock.now())[0].name == "Intégration 🚀"
