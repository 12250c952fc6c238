"""Risk-based sign-in end to end through the ASGI app: a browser (desktop User-Agent, our
signal script's report with its page nonce) behind a trusted proxy that names its address, a
static geo table (`BASTION_GEO_TABLE`), the outbox for e-mail codes, and the Odoo auth log.
Every allowed case has a denied twin."""

from __future__ import annotations

import datetime as dt
import json
import re
import xmlrpc.client
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from email.parser import BytesParser
from pathlib import Path

import httpx
import pytest

import bastion.auth.login as login_module
from bastion.auth.login import REFUSED, Attempt
from bastion.bootstrap.auth import AuthKeys, TenantAuth, build_tenant_auth
from bastion.bootstrap.tenants import create_tenant, open_tenant
from bastion.bootstrap.users import add_user
from bastion.core.clock import FixedClock
from bastion.core.install import ref
from bastion.core.tenant import Tenant
from bastion.crypto.totp import totp_code_at
from bastion.errors import ChallengeRequiredError, VerificationError
from bastion.risk.detectors.login_model import LoginModel
from bastion.risk.events import RiskEvents
from bastion.settings import Settings, load_settings
from bastion.web.app import create_app
from bastion.web.risk_signals import NONCE_FIELD, REPORT_FIELD
from support.web_client import WebClient, csrf_of

PASSWORD = "correct horse battery staple 42"
TENANT = "acme"
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
PHONE_UA = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Mobile Safari/537.36"
)
HOME, HOME_2, ABROAD, ATTACKER, ELSEWHERE = (
    "203.0.113.7",
    "203.0.113.9",
    "198.51.100.7",
    "192.0.2.66",
    "100.64.1.9",
)
GEO_TABLE = """cidr,asn,as_name,country
203.0.113.0/24,64500,Example Home ISP,FR
198.51.100.0/24,64501,Example Swiss Net,CH
192.0.2.0/24,64502,Example Hosting,NL
100.64.0.0/10,64503,Example Carrier NAT,FR
"""


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC))


@pytest.fixture
def settings(tmp_path: Path, clock: FixedClock) -> Settings:
    table = tmp_path / "geo.csv"
    table.write_text(GEO_TABLE, "utf-8")
    settings = load_settings(
        {
            "BASTION_DATA_DIR": str(tmp_path / "var"),
            "BASTION_GEO_TABLE": str(table),
            "BASTION_TRUSTED_PROXIES": "127.0.0.1",
            "BASTION_AUTH_LOG": str(tmp_path / "log" / "auth.log"),
        }
    )
    tenant = create_tenant(settings, TENANT, modules=["base"], clock=clock)
    try:
        add_user(tenant, "alice", PASSWORD, name="Alice", email="alice@acme.example")
        add_user(tenant, "bob", PASSWORD, name="Bob")  # no e-mail address
        add_user(tenant, "carol", PASSWORD, name="Carol", email="carol@acme.example")
        add_user(tenant, "tess", PASSWORD, name="Tess", email="tess@acme.example")
    finally:
        tenant.dispose()
    return settings


class Browser:
    """One browser (its own cookies, so its own device) at an address, as a person uses it."""

    def __init__(self, web: WebClient, ip: str, agent: str = CHROME) -> None:
        self.web = web
        self.clock: FixedClock = web.app.state.services.clock
        self.at(ip)
        assert web.client is not None
        web.client.headers["user-agent"] = agent

    def at(self, ip: str) -> Browser:
        assert self.web.client is not None
        self.web.client.headers["x-forwarded-for"] = ip
        return self

    def login_page(self) -> httpx.Response:
        return self.web.get("/web/login")

    def sign_in(
        self, login: str = "alice", password: str = PASSWORD, *, pause: float = 6.0
    ) -> httpx.Response:
        """Open the login page, fill it in for `pause` seconds (our script's report), submit."""
        page = self.login_page().text
        self.clock.advance(seconds=pause)
        report = {"webdriver": False, "pointer": 7, "keys": 31, "fill_ms": 6400, "ua": None}
        report["ua"] = self.web.client.headers["user-agent"] if self.web.client else ""
        return self.web.post(
            "/web/login",
            {
                "login": login,
                "password": password,
                "csrf_token": csrf_of(page),
                NONCE_FIELD: nonce_of(page),
                REPORT_FIELD: json.dumps(report),
            },
        )

    def sign_out(self) -> None:
        self.web.form("/web", "/web/session/logout", {})

    def code(self, path: str, code: str, **extra: str) -> httpx.Response:
        page = self.web.get("/web/login/code").text if path == "/web/login/code" else None
        token = csrf_of(page) if page else self.web_token()
        return self.web.post(path, {"code": code, "csrf_token": token, **extra})

    def web_token(self) -> str:
        return csrf_of(self.login_page().text)


def nonce_of(html: str) -> str:
    found = re.search(rf'name="{NONCE_FIELD}" value="([^"]*)"', html)
    assert found is not None
    return found.group(1)


@contextmanager
def browsing(settings: Settings, clock: FixedClock) -> Iterator[tuple[WebClient, ...]]:
    """One app, and a few browsers on it (each with its own cookie jar)."""
    app = create_app(settings, clock=clock)
    with WebClient(app) as a, WebClient(app) as b, WebClient(app) as c:
        yield a, b, c


def services_auth(web: WebClient) -> TenantAuth:
    auth: TenantAuth = web.app.state.services.auth(TENANT)
    return auth


def outbox_code(settings: Settings, to: str) -> str:
    for path in sorted(settings.outbox_dir.glob("*.eml"), reverse=True):
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        if message["To"] == to:
            body = message.get_body(("plain",))
            assert body is not None
            found = re.search(r"code is (\d{6})", body.get_content())
            assert found is not None
            return found.group(1)
    raise AssertionError(f"no message to {to}")


def settle(browser: Browser, clock: FixedClock, login: str = "alice") -> None:
    """A week of ordinary sign-ins from this browser at home."""
    browser.at(HOME)
    for _ in range(6):
        assert browser.sign_in(login).url.path == "/web"
        browser.sign_out()
        clock.advance(days=1)


@contextmanager
def tenant_of(settings: Settings, clock: FixedClock) -> Iterator[Tenant]:
    tenant = open_tenant(settings, TENANT, clock=clock)
    try:
        yield tenant
    finally:
        tenant.dispose()


def set_group_policy(settings: Settings, clock: FixedClock, **values: object) -> None:
    with tenant_of(settings, clock) as tenant, tenant.system("test sets a policy") as env:
        env["res.groups"].write([ref(env, "base.group_user")], values)


def enrol_totp(settings: Settings, clock: FixedClock, login: str = "tess") -> str:
    with tenant_of(settings, clock) as tenant:
        auth = build_tenant_auth(settings, tenant, AuthKeys.load(settings))
        user = auth.login.find_user(login)
        assert user is not None
        secret = auth.totp.begin(user.uid, clock.now())
        auth.totp.confirm(user.uid, totp_code_at(secret, clock.now()), clock.now())
    clock.advance(seconds=30)
    return secret


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
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


def hammer(browser: Browser) -> None:
    """Five quick failures from one address (five logins, a password each)."""
    for n in range(5):
        wrong = browser.sign_in(f"guess{n}", f"wrong password {n}", pause=0)  # a script's pace
        assert wrong.status_code == 401


def flood(web: WebClient, clock: FixedClock) -> None:
    """Distributed stuffing through the real flow: unknown logins from many networks."""
    auth = services_auth(web)
    for n in range(32):
        at = Attempt(f"victim{n}@elsewhere.example", f"leaked {n}", f"10.{n}.7.1", CHROME, None)
        with pytest.raises((VerificationError, ChallengeRequiredError)):
            auth.login.authenticate(at, clock.now())


# -- allowed, and stepped up -----------------------------------------------------------------


def test_usual_sign_in_reaches_home_without_a_challenge(
    settings: Settings, clock: FixedClock
) -> None:
    with browsing(settings, clock) as (laptop, _, _):
        browser = Browser(laptop, HOME)
        settle(browser, clock)
        assert browser.at(HOME_2).sign_in().url.path == "/web"


def _history(web: WebClient, login: str) -> int:
    auth = services_auth(web)
    user = auth.login.find_user(login)
    assert user is not None and auth.risk is not None
    engine = auth.risk.engine
    model = next(d for d in engine.detectors if isinstance(d, LoginModel))
    return model.history(user.uid, engine.state)


def test_usual_sign_in_is_learnt_once_answered(settings: Settings, clock: FixedClock) -> None:
    with browsing(settings, clock) as (laptop, _, _):
        browser = Browser(laptop, HOME)
        settle(browser, clock)
        learnt = _history(laptop, "alice")
        assert browser.sign_in().url.path == "/web"
        assert _history(laptop, "alice") == learnt + 1
        # Twin: a wrong password is not learnt.
        browser.sign_out()
        assert browser.sign_in(password="not the password").status_code == 401
        assert _history(laptop, "alice") == learnt + 1


def test_new_device_abroad_with_totp_is_sent_to_the_second_factor(
    settings: Settings, clock: FixedClock
) -> None:
    secret = enrol_totp(settings, clock)
    with browsing(settings, clock) as (laptop, phone, _):
        settle_with_totp(Browser(laptop, HOME), clock, secret)
        away = Browser(phone, ABROAD, PHONE_UA)
        assert away.sign_in("tess").url.path == "/web/login/mfa"
        page = phone.get("/web/login/mfa").text
        done = phone.post(
            "/web/login/mfa",
            {"code": totp_code_at(secret, clock.now()), "csrf_token": csrf_of(page)},
        )
        assert done.url.path == "/web"


def test_new_device_abroad_with_a_wrong_totp_code_is_refused(
    settings: Settings, clock: FixedClock
) -> None:
    secret = enrol_totp(settings, clock)
    with browsing(settings, clock) as (laptop, phone, _):
        settle_with_totp(Browser(laptop, HOME), clock, secret)
        Browser(phone, ABROAD, PHONE_UA).sign_in("tess")
        page = phone.get("/web/login/mfa").text
        refused = phone.post("/web/login/mfa", {"code": "000000", "csrf_token": csrf_of(page)})
        assert refused.status_code == 401
        assert phone.get("/web").url.path == "/web/login"


def settle_with_totp(browser: Browser, clock: FixedClock, secret: str) -> None:
    """A week at home with the authenticator app; the laptop is trusted from the first day."""
    browser.at(HOME)
    for _ in range(6):
        landed = browser.sign_in("tess")
        if landed.url.path == "/web/login/mfa":
            page = browser.web.get("/web/login/mfa").text
            landed = browser.web.post(
                "/web/login/mfa",
                {
                    "code": totp_code_at(secret, clock.now()),
                    "csrf_token": csrf_of(page),
                    "trust_device": "1",
                },
            )
        assert landed.url.path == "/web"
        browser.sign_out()
        clock.advance(days=1)


def test_trusted_device_is_asked_for_the_second_factor_when_risk_policy_says_always(
    settings: Settings, clock: FixedClock
) -> None:
    secret = enrol_totp(settings, clock)
    with browsing(settings, clock) as (laptop, _, _):
        browser = Browser(laptop, HOME)
        settle_with_totp(browser, clock, secret)  # the laptop is trusted: no more codes
        assert browser.sign_in("tess").url.path == "/web"
        browser.sign_out()
        set_group_policy(settings, clock, risk_always_mfa=True)
        assert browser.sign_in("tess").url.path == "/web/login/mfa"


def test_new_device_abroad_without_factor_signs_in_with_the_e_mailed_code_and_is_learnt(
    settings: Settings, clock: FixedClock
) -> None:
    with browsing(settings, clock) as (laptop, phone, _):
        settle(Browser(laptop, HOME), clock)
        away = Browser(phone, ABROAD, PHONE_UA)
        assert away.sign_in().url.path == "/web/login/code"
        done = away.code("/web/login/code", outbox_code(settings, "alice@acme.example"))
        assert done.url.path == "/web"
        away.sign_out()
        clock.advance(hours=2)
        assert away.sign_in().url.path == "/web"  # the phone abroad is Alice's now


def test_new_device_abroad_with_a_wrong_e_mailed_code_is_refused(
    settings: Settings, clock: FixedClock
) -> None:
    with browsing(settings, clock) as (laptop, phone, _):
        settle(Browser(laptop, HOME), clock)
        away = Browser(phone, ABROAD, PHONE_UA)
        away.sign_in()
        refused = away.code("/web/login/code", "000000")
        assert refused.status_code == 401 and "That code did not work." in refused.text
        assert phone.get("/web").url.path == "/web/login"
        # The MFA page is no way around the e-mail code.
        assert phone.get("/web/login/mfa").url.path == "/web/login/code"


def test_user_without_factor_or_e_mail_is_refused_when_risk_asks(
    settings: Settings, clock: FixedClock
) -> None:
    with browsing(settings, clock) as (laptop, phone, _):
        settle(Browser(laptop, HOME), clock, login="bob")
        refused = Browser(phone, ABROAD, PHONE_UA).sign_in("bob")
        assert refused.status_code == 403 and "contact your administrator" in refused.text
        assert phone.get("/web").url.path == "/web/login"


def test_high_risk_after_the_password_is_refused_with_403(
    settings: Settings, clock: FixedClock
) -> None:
    with browsing(settings, clock) as (laptop, phone, _):
        browser = Browser(laptop, HOME)
        settle(browser, clock)
        set_group_policy(settings, clock, risk_challenge_at=5.0, risk_deny_at=10.0)
        refused = Browser(phone, ABROAD, PHONE_UA).sign_in()
        assert refused.status_code == 403 and REFUSED in refused.text
        assert "new country" not in refused.text  # no finding is told to the client
        # Twin: the usual laptop at home, under the same strict policy.
        assert browser.sign_in().url.path == "/web"


# -- refused before the password -------------------------------------------------------------


def test_brute_force_from_one_address_answers_429_before_any_hash(
    settings: Settings, clock: FixedClock, hashes: list[str]
) -> None:
    with browsing(settings, clock) as (attacker, _, _):
        browser = Browser(attacker, ATTACKER)
        hammer(browser)
        before = len(hashes)
        blocked = browser.sign_in("carol")
        assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) >= 500
        assert len(hashes) == before


def test_brute_force_from_one_address_leaves_other_addresses_alone(
    settings: Settings, clock: FixedClock
) -> None:
    with browsing(settings, clock) as (attacker, user, _):
        hammer(Browser(attacker, ATTACKER))
        assert Browser(user, HOME).sign_in("carol").url.path == "/web"


def test_every_login_page_carries_a_fresh_signal_nonce(
    settings: Settings, clock: FixedClock
) -> None:
    with browsing(settings, clock) as (web, _, _):
        browser = Browser(web, HOME)
        first = nonce_of(browser.login_page().text)
        clock.advance(seconds=1)
        wrong = browser.sign_in(password="not the password at all")
        assert wrong.status_code == 401
        assert nonce_of(wrong.text) not in ("", first)
        hammer(Browser(web, ATTACKER))
        blocked = Browser(web, ATTACKER).sign_in("carol")
        assert blocked.status_code == 429 and nonce_of(blocked.text)


# -- defensive mode --------------------------------------------------------------------------

_VOLATILE = re.compile(r'value="[^"]*"|content="[^"]*"|nonce="[^"]*"|nonce-[A-Za-z0-9_+/=-]+')


def test_defensive_mode_answers_any_login_with_the_same_code_page_before_any_hash(
    settings: Settings, clock: FixedClock, hashes: list[str]
) -> None:
    with browsing(settings, clock) as (one, two, _):
        flood(one, clock)
        before = len(hashes)
        existing = Browser(one, ELSEWHERE).sign_in("alice")
        unknown = Browser(two, ELSEWHERE).sign_in("nobody@nowhere.example")
        assert len(hashes) == before
        assert existing.status_code == unknown.status_code == 200
        assert existing.url.path == unknown.url.path == "/web/login"
        assert "we sent a code to this account" in existing.text
        strip = _VOLATILE.sub("", existing.text)
        assert strip == _VOLATILE.sub("", unknown.text)
        assert set(existing.headers) == set(unknown.headers)
        sent = [p for p in settings.outbox_dir.glob("*.eml")]
        assert len(sent) == 1  # the code went to Alice only


def test_defensive_mode_lets_a_known_device_sign_in_normally(
    settings: Settings, clock: FixedClock
) -> None:
    with browsing(settings, clock) as (laptop, _, _):
        browser = Browser(laptop, HOME)
        assert browser.sign_in().url.path == "/web"
        browser.sign_out()
        flood(laptop, clock)
        assert browser.sign_in().url.path == "/web"


def test_defensive_code_brings_back_the_login_form_and_the_password_signs_in(
    settings: Settings, clock: FixedClock
) -> None:
    with browsing(settings, clock) as (web, _, _):
        flood(web, clock)
        browser = Browser(web, ELSEWHERE, PHONE_UA)
        page = browser.sign_in()
        code = outbox_code(settings, "alice@acme.example")
        back = web.post(
            "/web/login/verify",
            {"login": "alice", "code": code, "redirect": "/web", "csrf_token": csrf_of(page.text)},
        )
        assert back.status_code == 200
        assert "Code accepted: enter your password again." in back.text
        assert 'name="login" type="text" value="alice"' in back.text
        assert nonce_of(back.text)
        assert browser.sign_in().url.path == "/web"


def test_defensive_code_that_is_wrong_keeps_the_password_out_of_reach(
    settings: Settings, clock: FixedClock, hashes: list[str]
) -> None:
    with browsing(settings, clock) as (web, _, _):
        flood(web, clock)
        browser = Browser(web, ELSEWHERE, PHONE_UA)
        page = browser.sign_in()
        wrong = web.post(
            "/web/login/verify",
            {"login": "alice", "code": "000000", "redirect": "", "csrf_token": csrf_of(page.text)},
        )
        assert wrong.status_code == 401 and "That code did not work." in wrong.text
        before = len(hashes)
        again = browser.sign_in()
        assert "we sent a code to this account" in again.text and len(hashes) == before


# -- RPC sign-ins ----------------------------------------------------------------------------


def test_rpc_password_sign_ins_are_refused_with_access_denied_under_deny(
    settings: Settings, clock: FixedClock
) -> None:
    with browsing(settings, clock) as (attacker, _, _):
        browser = Browser(attacker, ATTACKER)
        hammer(browser)
        body = xmlrpc.client.dumps((TENANT, "carol", PASSWORD), "login").encode()
        answer = attacker.post(
            "/xmlrpc/2/common", content=body, headers={"content-type": "text/xml"}
        )
        with pytest.raises(xmlrpc.client.Fault) as fault:
            xmlrpc.client.loads(answer.content)
        assert "AccessDenied" in fault.value.faultString or fault.value.faultCode == 3
        assert "API key" in fault.value.faultString
        reply = session_authenticate(attacker, "carol")
        assert reply["error"]["data"]["name"] == "odoo.exceptions.AccessDenied"
        assert "API key" in reply["error"]["data"]["message"]


def test_rpc_password_sign_ins_are_allowed_from_an_address_not_under_attack(
    settings: Settings, clock: FixedClock
) -> None:
    with browsing(settings, clock) as (attacker, user, _):
        hammer(Browser(attacker, ATTACKER))
        Browser(user, HOME)
        body = xmlrpc.client.dumps((TENANT, "carol", PASSWORD), "login").encode()
        answer = user.post("/xmlrpc/2/common", content=body, headers={"content-type": "text/xml"})
        ((uid,), _) = xmlrpc.client.loads(answer.content)
        assert isinstance(uid, int) and uid > 0
        assert session_authenticate(user, "carol")["result"]["uid"] == uid


def _succeeded_events(web: WebClient, login: str) -> int:
    auth = services_auth(web)
    user = auth.login.find_user(login)
    assert user is not None and auth.risk is not None and auth.risk.engine.events is not None
    events = auth.risk.engine.events
    assert isinstance(events, RiskEvents)
    return sum(1 for e in events.list(uid=user.uid, limit=500) if e.stage == "succeeded")


def test_every_completed_sign_in_stores_its_decision_once(
    settings: Settings, clock: FixedClock
) -> None:
    """Stored with the "signed in" audit entry (web, JSON session) or on its own (XML-RPC)."""
    with browsing(settings, clock) as (laptop, program, _):
        browser = Browser(laptop, HOME)
        assert browser.sign_in("carol").url.path == "/web"
        assert _succeeded_events(laptop, "carol") == 1
        Browser(program, HOME)
        assert session_authenticate(program, "carol")["result"]
        assert _succeeded_events(laptop, "carol") == 2
        body = xmlrpc.client.dumps((TENANT, "carol", PASSWORD), "login").encode()
        program.post("/xmlrpc/2/common", content=body, headers={"content-type": "text/xml"})
        assert _succeeded_events(laptop, "carol") == 3
        # Twin: a wrong password stores a "failed" decision, not a "succeeded" one.
        browser.sign_out()
        assert browser.sign_in("carol", "not the password").status_code == 401
        assert _succeeded_events(laptop, "carol") == 3


def test_a_program_refused_for_its_second_factor_still_stores_the_decision(
    settings: Settings, clock: FixedClock
) -> None:
    # Carol has no second factor but her group requires one: a password alone signs her in
    # from no program, and no "signed in" entry follows to carry the decision.
    set_group_policy(settings, clock, mfa_required=True)
    with browsing(settings, clock) as (program, _, _):
        Browser(program, HOME)
        assert "error" in session_authenticate(program, "carol")
        assert _succeeded_events(program, "carol") == 1
        body = xmlrpc.client.dumps((TENANT, "carol", PASSWORD), "login").encode()
        answer = program.post(
            "/xmlrpc/2/common", content=body, headers={"content-type": "text/xml"}
        )
        with pytest.raises(xmlrpc.client.Fault):
            xmlrpc.client.loads(answer.content)
        assert _succeeded_events(program, "carol") == 2


def session_authenticate(web: WebClient, login: str) -> dict[str, object]:
    payload = {
        "jsonrpc": "2.0",
        "method": "call",
        "id": 1,
        "params": {"db": TENANT, "login": login, "password": PASSWORD},
    }
    response = web.request("POST", "/web/session/authenticate", json=payload)
    reply: dict[str, object] = response.json()
    return reply


# -- the auth log ----------------------------------------------------------------------------


def test_auth_log_has_odoo_lines_for_web_sign_ins(settings: Settings, clock: FixedClock) -> None:
    with browsing(settings, clock) as (web, _, _):
        browser = Browser(web, HOME)
        assert browser.sign_in("alice", "not the password at all").status_code == 401
        assert browser.sign_in().url.path == "/web"
    assert settings.auth_log is not None
    lines = settings.auth_log.read_text("ascii").splitlines()
    prefix = rf"\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d,\d{{3}} \d+ INFO {TENANT} "
    prefix += "odoo.addons.base.models.res_users: "
    assert re.fullmatch(prefix + rf"Login failed for db:{TENANT} login:alice from {HOME}", lines[0])
    assert re.fullmatch(
        prefix + rf"Login successful for db:{TENANT} login:alice from {HOME}", lines[1]
    )
