"""API callers: password or API key in Odoo's password slot, and bearer keys."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import pytest

from bastion.auth.apikeys import KeyScope
from bastion.bootstrap.auth import TenantAuth, auth_for
from bastion.bootstrap.users import add_user, set_active
from bastion.core.clock import FixedClock
from bastion.crypto.totp import totp_code_at
from bastion.errors import AccessError, RateLimitError, VerificationError
from bastion.settings import Settings

if TYPE_CHECKING:
    from conftest import TenantFactory

PASSWORD = "correct horse battery staple 42"
IP = "198.51.100.7"


@pytest.fixture
def auth(make_tenant: TenantFactory, settings: Settings) -> TenantAuth:
    tenant = make_tenant()
    add_user(tenant, "alice", PASSWORD)
    add_user(tenant, "bob", PASSWORD)
    return auth_for(settings, tenant)


def uid_of(auth: TenantAuth, login: str) -> int:
    user = auth.login.find_user(login)
    assert user is not None
    return user.uid


def new_key(auth: TenantAuth, clock: FixedClock, login: str = "alice", **scope: object) -> str:
    key, _ = auth.apikeys.create(
        uid_of(auth, login),
        "sync",
        clock.now(),
        scope=KeyScope(scope.get("models"), bool(scope.get("readonly"))),  # type: ignore[arg-type]
        expires_at=clock.now() + dt.timedelta(days=30),
    )
    return key


def test_password_in_the_password_slot_acts_with_full_rights(
    auth: TenantAuth, clock: FixedClock
) -> None:
    identity = auth.api.password_or_key("alice", PASSWORD, ip=IP, now=clock.now())
    assert identity.uid == uid_of(auth, "alice") and identity.scope is None


def test_wrong_password_in_the_password_slot_is_refused(
    auth: TenantAuth, clock: FixedClock
) -> None:
    with pytest.raises(VerificationError):
        auth.api.password_or_key("alice", "not the password at all", ip=IP, now=clock.now())


def test_api_key_in_the_password_slot_acts_with_its_scope(
    auth: TenantAuth, clock: FixedClock
) -> None:
    key = new_key(auth, clock, models=("res.partner",), readonly=True)
    identity = auth.api.password_or_key("alice", key, ip=IP, now=clock.now())
    assert identity.uid == uid_of(auth, "alice")
    assert identity.scope is not None and identity.scope.allows("res.partner", write=False)
    assert not identity.scope.allows("res.partner", write=True)


def test_api_key_with_another_users_login_is_refused(auth: TenantAuth, clock: FixedClock) -> None:
    key = new_key(auth, clock)
    with pytest.raises(VerificationError):
        auth.api.password_or_key("bob", key, ip=IP, now=clock.now())


def test_password_is_refused_for_an_account_with_a_second_factor(
    auth: TenantAuth, clock: FixedClock
) -> None:
    uid = uid_of(auth, "alice")
    secret = auth.totp.begin(uid, clock.now())
    auth.totp.confirm(uid, totp_code_at(secret, clock.now()), clock.now())
    with pytest.raises(AccessError):
        auth.api.password_or_key("alice", PASSWORD, ip=IP, now=clock.now())
    key = new_key(auth, clock)  # the twin: a key still works
    assert auth.api.password_or_key("alice", key, ip=IP, now=clock.now()).uid == uid


@pytest.mark.parametrize("scheme", ["bearer", "Bearer", "BEARER"])
def test_bearer_key_identifies_its_user(auth: TenantAuth, clock: FixedClock, scheme: str) -> None:
    key = new_key(auth, clock)
    identity = auth.api.bearer(f"{scheme} {key}", ip=IP, now=clock.now())
    assert identity.uid == uid_of(auth, "alice") and identity.key_id is not None


@pytest.mark.parametrize(
    "header", [None, "", "bearer", "Basic YWxpY2U6cGFzcw==", "bearer bst_nope_nope", "token x"]
)
def test_bearer_without_a_valid_key_is_refused(
    auth: TenantAuth, clock: FixedClock, header: str | None
) -> None:
    with pytest.raises(VerificationError):
        auth.api.bearer(header, ip=IP, now=clock.now())


def test_revoked_key_is_refused(auth: TenantAuth, clock: FixedClock) -> None:
    key = new_key(auth, clock)
    identity = auth.api.bearer(f"bearer {key}", ip=IP, now=clock.now())
    auth.apikeys.revoke(identity.uid, identity.key_id or 0, clock.now())
    with pytest.raises(VerificationError):
        auth.api.bearer(f"bearer {key}", ip=IP, now=clock.now())


def test_key_of_a_disabled_user_is_refused(auth: TenantAuth, clock: FixedClock) -> None:
    key = new_key(auth, clock)
    set_active(auth.tenant, "alice", False)
    with pytest.raises(VerificationError):
        auth.api.bearer(f"bearer {key}", ip=IP, now=clock.now())


def test_expired_key_is_refused(auth: TenantAuth, clock: FixedClock) -> None:
    key = new_key(auth, clock)
    clock.advance(days=31)
    with pytest.raises(VerificationError):
        auth.api.bearer(f"bearer {key}", ip=IP, now=clock.now())


def test_key_guessing_is_throttled_per_address(auth: TenantAuth, clock: FixedClock) -> None:
    key = new_key(auth, clock)
    for i in range(5):
        with pytest.raises(VerificationError):
            auth.api.bearer(f"bearer bst_aaaaaaaaaa_guess{i:030d}", ip=IP, now=clock.now())
    with pytest.raises(RateLimitError):
        auth.api.bearer(f"bearer {key}", ip=IP, now=clock.now())
    # the twin: another caller's key keeps working
    assert auth.api.bearer(f"bearer {key}", ip="203.0.113.5", now=clock.now()).uid
