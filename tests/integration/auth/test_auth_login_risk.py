"""The sign-in flow with the risk engine wired in, on real databases (SQLite and PostgreSQL):
what it allows, steps up, challenges before the password, and refuses; what it learns; what it
writes to the Odoo-format auth log. Every allowed case has a denied twin."""

from __future__ import annotations

import dataclasses
import re
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

import bastion.auth.login as login_module
from bastion.auth.login import REFUSED, Attempt, SignIn
from bastion.bootstrap.auth import AuthKeys, TenantAuth, build_tenant_auth
from bastion.bootstrap.users import add_user
from bastion.core.clock import FixedClock
from bastion.core.install import ref
from bastion.core.tenant import Tenant
from bastion.crypto.totp import totp_code_at
from bastion.errors import AccessError, ChallengeRequiredError, RateLimitError, VerificationError
from bastion.risk.geo import StaticGeoResolver
from bastion.risk.signals import BrowserSignals
from bastion.settings import Settings

if TYPE_CHECKING:
    from conftest import TenantFactory

PASSWORD = "correct horse battery staple 42"
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
HUMAN = BrowserSignals(present=True, pointer_events=6, key_events=24, fill_ms=5200)
HOME, HOME_2, ABROAD, ATTACKER, ELSEWHERE = (
    "203.0.113.7",
    "203.0.113.9",
    "198.51.100.7",
    "192.0.2.66",
    "100.64.1.9",
)
GEO = StaticGeoResolver(
    [
        ("203.0.113.0/24", 64500, "Example Home ISP", "FR"),
        ("198.51.100.0/24", 64501, "Example Swiss Net", "CH"),
        ("192.0.2.0/24", 64502, "Example Hosting", "NL"),
        ("100.64.0.0/10", 64503, "Example Carrier NAT", "FR"),
    ]
)
LAPTOP = "laptop-device-id-aaaaaaaaaaaaaaaaaaaaaaaaa"
NEW_PHONE = "phone-device-id-bbbbbbbbbbbbbbbbbbbbbbbbbbb"


@pytest.fixture
def site(make_tenant: TenantFactory, settings: Settings, tmp_path: Path) -> tuple[Tenant, Settings]:
    tenant = make_tenant()
    add_user(tenant, "alice", PASSWORD, name="Alice", email="alice@acme.example")
    add_user(tenant, "bob", PASSWORD, name="Bob")  # no e-mail address
    add_user(tenant, "carol", PASSWORD, name="Carol", email="carol@acme.example")
    return tenant, dataclasses.replace(settings, auth_log=tmp_path / "log" / "auth.log")


@pytest.fixture
def auth(site: tuple[Tenant, Settings]) -> TenantAuth:
    tenant, settings = site
    return build_tenant_auth(settings, tenant, AuthKeys.load(settings), geo=GEO)


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every password hash the flow computes (a real verify or the dummy one), counted."""
    calls: list[str] = []
    verify, burn = login_module.verify_password, login_module.burn_dummy_verify

    def counting_verify(password: str, encoded: str) -> None:
        calls.append("verify")
        verify(password, encoded)

    def counting_burn(password: str) -> None:
        calls.append("dummy")
        burn(password)

    monkeypatch.setattr(login_module, "verify_password", counting_verify)
    monkeypatch.setattr(login_module, "burn_dummy_verify", counting_burn)
    return calls


def attempt(
    login: str = "alice",
    password: str = PASSWORD,
    *,
    ip: str = HOME,
    device: str | None = LAPTOP,
    channel: str = "web",
) -> Attempt:
    return Attempt(login, password, ip, CHROME, device, browser=HUMAN, channel=channel)  # type: ignore[arg-type]


def sign_in(auth: TenantAuth, clock: FixedClock, at: Attempt) -> SignIn:
    """A whole sign-in that needs nothing more than the password; returns what it asked."""
    signin = auth.login.authenticate(at, clock.now())
    if not signin.mfa_pending:
        auth.login.completed(signin.uid, at, clock.now(), trust=False, signal=signin.risk_signal)
    return signin


def settle_at_home(auth: TenantAuth, clock: FixedClock, login: str = "alice") -> None:
    """A week of ordinary sign-ins from the laptop at home: the user's history."""
    for _ in range(6):
        assert not sign_in(auth, clock, attempt(login)).risk_challenge
        clock.advance(days=1)


def outbox_code(settings: Settings, to: str) -> str:
    """The code of the newest message sent to `to`, as the user reads it."""
    for path in sorted(settings.outbox_dir.glob("*.eml"), reverse=True):
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        if message["To"] == to:
            body = message.get_body(("plain",))
            assert body is not None
            found = re.search(r"code is (\d{6})", body.get_content())
            assert found is not None
            return found.group(1)
    raise AssertionError(f"no message to {to}")


def set_group_policy(tenant: Tenant, xmlid: str, **values: object) -> None:
    with tenant.system("test sets a group's risk policy") as env:
        env["res.groups"].write([ref(env, xmlid)], values)


def hammer(auth: TenantAuth, clock: FixedClock, ip: str = ATTACKER, *, rpc: bool = False) -> None:
    """Five quick failures from one address: five logins, a different password each (one
    password across accounts would be spraying, which another test covers)."""
    for n in range(5):
        with pytest.raises(VerificationError):
            if rpc:
                auth.api.password_or_key(f"guess{n}", f"wrong {n}", ip=ip, now=clock.now())
            else:
                auth.login.authenticate(attempt(f"guess{n}", f"wrong {n}", ip=ip), clock.now())


def flood(auth: TenantAuth, clock: FixedClock, attempts: int = 32) -> None:
    """Distributed credential stuffing: unknown logins, one try from each of many networks."""
    for n in range(attempts):
        at = Attempt(
            f"victim{n}@elsewhere.example", f"leaked password {n}", f"10.{n}.7.1", CHROME, None
        )
        with pytest.raises((VerificationError, ChallengeRequiredError)):
            auth.login.authenticate(at, clock.now())


# -- usual sign-ins and step-up --------------------------------------------------------------


def test_usual_sign_in_is_allowed_without_a_challenge(auth: TenantAuth, clock: FixedClock) -> None:
    settle_at_home(auth, clock)
    signin = sign_in(auth, clock, attempt(ip=HOME_2))  # a new address at the usual provider
    assert not signin.risk_challenge and not signin.mfa_pending


def test_new_device_from_a_new_country_is_stepped_up_by_e_mail_code(
    auth: TenantAuth, clock: FixedClock, site: tuple[Tenant, Settings]
) -> None:
    settle_at_home(auth, clock)
    at = attempt(ip=ABROAD, device=NEW_PHONE)
    signin = auth.login.authenticate(at, clock.now())
    assert signin.risk_challenge and signin.email_code and signin.mfa_pending
    auth.login.send_login_code(signin.uid, clock.now())
    auth.login.verify_login_code(
        signin.uid, outbox_code(site[1], "alice@acme.example"), clock.now()
    )
    auth.login.completed(signin.uid, at, clock.now(), trust=False, signal=signin.risk_signal)
    clock.advance(hours=1)
    # Learnt: the same phone in the same country is now part of Alice's history.
    assert not auth.login.authenticate(at, clock.now()).risk_challenge


def test_wrong_e_mail_code_is_refused_and_nothing_is_learnt(
    auth: TenantAuth, clock: FixedClock
) -> None:
    settle_at_home(auth, clock)
    at = attempt(ip=ABROAD, device=NEW_PHONE)
    signin = auth.login.authenticate(at, clock.now())
    auth.login.send_login_code(signin.uid, clock.now())
    with pytest.raises(VerificationError):
        auth.login.verify_login_code(signin.uid, "000000", clock.now())
    clock.advance(hours=1)
    assert auth.login.authenticate(at, clock.now()).risk_challenge


def test_totp_user_is_sent_to_the_second_factor_even_on_a_trusted_device(
    auth: TenantAuth, clock: FixedClock, site: tuple[Tenant, Settings]
) -> None:
    uid = enrol_totp(auth, clock)
    auth.devices.trust(uid, LAPTOP, clock.now())
    set_group_policy(site[0], "base.group_user", risk_always_mfa=True)
    signin = auth.login.authenticate(attempt(), clock.now())
    assert signin.risk_challenge and signin.mfa_pending and not signin.email_code


def test_totp_user_on_a_trusted_device_skips_the_second_factor_when_risk_is_low(
    auth: TenantAuth, clock: FixedClock
) -> None:
    uid = enrol_totp(auth, clock)
    auth.devices.trust(uid, LAPTOP, clock.now())
    signin = auth.login.authenticate(attempt(), clock.now())
    assert not signin.risk_challenge and not signin.mfa_pending


def enrol_totp(auth: TenantAuth, clock: FixedClock, login: str = "alice") -> int:
    user = auth.login.find_user(login)
    assert user is not None
    secret = auth.totp.begin(user.uid, clock.now())
    auth.totp.confirm(user.uid, totp_code_at(secret, clock.now()), clock.now())
    clock.advance(seconds=30)
    return user.uid


def test_user_without_factor_or_e_mail_is_refused_when_risk_asks(
    auth: TenantAuth, clock: FixedClock, site: tuple[Tenant, Settings]
) -> None:
    set_group_policy(site[0], "base.group_user", risk_always_mfa=True)
    with pytest.raises(AccessError, match="neither a second factor nor an e-mail"):
        auth.login.authenticate(attempt("bob"), clock.now())
    # Twin: a user with an e-mail address gets a code instead.
    assert auth.login.authenticate(attempt("alice"), clock.now()).email_code


def test_group_deny_threshold_refuses_after_the_password(
    auth: TenantAuth, clock: FixedClock, site: tuple[Tenant, Settings]
) -> None:
    settle_at_home(auth, clock)
    set_group_policy(site[0], "base.group_user", risk_challenge_at=5.0, risk_deny_at=10.0)
    with pytest.raises(AccessError) as refused:
        auth.login.authenticate(attempt(ip=ABROAD, device=NEW_PHONE), clock.now())
    assert refused.value.message == REFUSED
    # Twin: the usual laptop at home scores nothing and is let in under the same policy.
    assert not auth.login.authenticate(attempt(), clock.now()).mfa_pending


# -- before the password ---------------------------------------------------------------------


def test_brute_force_from_one_address_is_refused_before_any_hash(
    auth: TenantAuth, clock: FixedClock, hashes: list[str]
) -> None:
    hammer(auth, clock)
    before = len(hashes)
    with pytest.raises(RateLimitError) as refused:
        auth.login.authenticate(attempt("carol", ip=ATTACKER, device=None), clock.now())
    assert len(hashes) == before  # refused on counters alone
    assert 500 <= refused.value.retry_after <= 600  # the ban, from the flag


def test_brute_force_from_one_address_leaves_other_addresses_alone(
    auth: TenantAuth, clock: FixedClock
) -> None:
    hammer(auth, clock)
    assert sign_in(auth, clock, attempt("carol", ip=HOME, device=None)).uid > 0


def test_defensive_mode_challenges_unknown_devices_before_any_hash(
    auth: TenantAuth, clock: FixedClock, hashes: list[str], site: tuple[Tenant, Settings]
) -> None:
    flood(auth, clock)
    before = len(hashes)
    with pytest.raises(ChallengeRequiredError) as existing:
        auth.login.authenticate(attempt("alice", ip=ELSEWHERE, device=NEW_PHONE), clock.now())
    with pytest.raises(ChallengeRequiredError) as unknown:
        auth.login.authenticate(attempt("nobody", ip=ELSEWHERE, device=NEW_PHONE), clock.now())
    assert len(hashes) == before
    assert existing.value.kind == unknown.value.kind == "defensive"
    assert existing.value.message == unknown.value.message


def test_defensive_mode_lets_a_known_device_sign_in_normally(
    auth: TenantAuth, clock: FixedClock
) -> None:
    assert sign_in(auth, clock, attempt()).uid > 0  # the laptop becomes known
    flood(auth, clock)
    signin = sign_in(auth, clock, attempt())
    assert not signin.mfa_pending and not signin.risk_challenge


def test_defensive_code_lets_the_device_go_on_to_the_password(
    auth: TenantAuth, clock: FixedClock, site: tuple[Tenant, Settings]
) -> None:
    flood(auth, clock)
    at = attempt(ip=ELSEWHERE, device=NEW_PHONE)
    with pytest.raises(ChallengeRequiredError):
        auth.login.authenticate(at, clock.now())  # the code goes out with the challenge
    code = outbox_code(site[1], "alice@acme.example")
    auth.login.verify_defensive_code("alice", code, NEW_PHONE, ELSEWHERE, clock.now())
    assert auth.login.authenticate(at, clock.now()).uid > 0


def test_defensive_code_for_an_unknown_login_sends_nothing_and_never_verifies(
    auth: TenantAuth, clock: FixedClock, site: tuple[Tenant, Settings]
) -> None:
    auth.login.send_defensive_code("nobody", clock.now())
    assert not list(site[1].outbox_dir.glob("*.eml"))
    with pytest.raises(VerificationError):
        auth.login.verify_defensive_code("nobody", "123456", NEW_PHONE, ELSEWHERE, clock.now())


def test_defensive_code_verifies_only_for_the_device_that_passed_it(
    auth: TenantAuth, clock: FixedClock, site: tuple[Tenant, Settings]
) -> None:
    flood(auth, clock)
    auth.login.send_defensive_code("alice", clock.now())
    code = outbox_code(site[1], "alice@acme.example")
    auth.login.verify_defensive_code("alice", code, NEW_PHONE, ELSEWHERE, clock.now())
    other = attempt(ip=ELSEWHERE, device="another-device-cccccccccccccccccccccc")
    with pytest.raises(ChallengeRequiredError):
        auth.login.authenticate(other, clock.now())


# -- RPC -------------------------------------------------------------------------------------


def test_rpc_password_sign_in_is_refused_with_api_key_advice_under_deny(
    auth: TenantAuth, clock: FixedClock, hashes: list[str]
) -> None:
    hammer(auth, clock, rpc=True)
    before = len(hashes)
    with pytest.raises(RateLimitError) as refused:  # Odoo's AccessDenied, with Retry-After
        auth.api.password_or_key("carol", PASSWORD, ip=ATTACKER, now=clock.now())
    assert "API key" in refused.value.message and refused.value.retry_after >= 500
    assert len(hashes) == before


def test_rpc_password_sign_in_is_allowed_from_an_address_not_under_attack(
    auth: TenantAuth, clock: FixedClock
) -> None:
    hammer(auth, clock, rpc=True)
    assert auth.api.password_or_key("carol", PASSWORD, ip=HOME, now=clock.now()).uid > 0


def test_rpc_password_sign_in_is_refused_when_risk_would_challenge(
    auth: TenantAuth, clock: FixedClock, site: tuple[Tenant, Settings]
) -> None:
    set_group_policy(site[0], "base.group_user", risk_always_mfa=True)
    with pytest.raises(AccessError, match="API key"):
        auth.api.password_or_key("carol", PASSWORD, ip=HOME, now=clock.now())


# -- what is recorded ------------------------------------------------------------------------


def test_auth_log_gets_odoo_lines_for_failed_and_successful_sign_ins(
    auth: TenantAuth, clock: FixedClock, site: tuple[Tenant, Settings]
) -> None:
    tenant, settings = site
    with pytest.raises(VerificationError):
        auth.login.authenticate(attempt("toto@mail.fr", "wrong password"), clock.now())
    sign_in(auth, clock, attempt())
    assert settings.auth_log is not None
    lines = settings.auth_log.read_text("ascii").splitlines()
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \d+ INFO"
    logger = f"{tenant.name} odoo.addons.base.models.res_users"
    assert re.fullmatch(
        rf"{stamp} {logger}: Login failed for db:{tenant.name} login:toto@mail.fr from {HOME}",
        lines[0],
    )
    assert re.fullmatch(
        rf"{stamp} {logger}: Login successful for db:{tenant.name} login:alice from {HOME}",
        lines[1],
    )


def test_auth_log_gets_no_line_for_attempts_refused_before_the_password(
    auth: TenantAuth, clock: FixedClock, site: tuple[Tenant, Settings]
) -> None:
    hammer(auth, clock)
    with pytest.raises(RateLimitError):
        auth.login.authenticate(attempt("carol", ip=ATTACKER), clock.now())
    assert site[1].auth_log is not None
    assert len(site[1].auth_log.read_text("ascii").splitlines()) == 5  # the five failures only


def test_password_spraying_is_seen_through_a_tag_and_the_password_is_stored_nowhere(
    auth: TenantAuth, clock: FixedClock, site: tuple[Tenant, Settings]
) -> None:
    sprayed = "Winter2026!sprayed"
    for n in range(5):
        at = Attempt(f"user{n}@acme.example", sprayed, f"10.9.{n}.1", CHROME, None)
        with pytest.raises(VerificationError):
            auth.login.authenticate(at, clock.now())
    # One password failing on five accounts: the tenant goes defensive at once.
    sixth = Attempt("user5@acme.example", sprayed, "10.9.5.1", CHROME, None)
    with pytest.raises(ChallengeRequiredError):
        auth.login.authenticate(sixth, clock.now())
    events = auth.risk.events.list(detector="stuffing", limit=10)
    assert any("password spraying" in f.reason for e in events for f in e.findings)
    assert sprayed not in dump(site[0])


def test_different_passwords_across_accounts_are_not_called_spraying(
    auth: TenantAuth, clock: FixedClock
) -> None:
    for n in range(6):
        at = Attempt(f"user{n}@acme.example", f"typo number {n}", f"10.9.{n}.1", CHROME, None)
        with pytest.raises(VerificationError):
            auth.login.authenticate(at, clock.now())
    assert not auth.risk.events.list(detector="stuffing", limit=10)


def dump(tenant: Tenant) -> str:
    """Every row of every table of the tenant, as text."""
    out: list[str] = []
    with tenant.engine.connect() as conn:
        for name in sa.inspect(conn).get_table_names():
            for row in conn.execute(sa.text(f'SELECT * FROM "{name}"')):
                out.append(repr(tuple(row)))
    return "\n".join(out)


def test_flagged_sign_in_is_not_learnt_until_proven(auth: TenantAuth, clock: FixedClock) -> None:
    settle_at_home(auth, clock)
    at = attempt(ip=ABROAD, device=NEW_PHONE)
    first = auth.login.authenticate(at, clock.now())
    assert first.risk_challenge
    # The flow never called `completed`: the abroad sign-in stays unusual.
    clock.advance(minutes=5)
    assert auth.login.authenticate(at, clock.now()).risk_challenge
