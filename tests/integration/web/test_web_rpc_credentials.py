"""Passwords kept after they verified (`web/rpc/credentials.py`): the next call skips Argon2,
and every change that must stop a password does so on the very next call, even when made by
another process (here: another open tenant, as `bastion users` would); the risk engine's word
on the caller's address is asked again once a minute, as for a signed-in browser."""

from __future__ import annotations

import contextlib
import ipaddress
import xmlrpc.client
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import bastion.auth.login as login_module
import bastion.web.rpc.services as services_module
from bastion.bootstrap.auth import auth_for
from bastion.bootstrap.tenants import open_tenant
from bastion.bootstrap.users import set_active, set_password
from bastion.core.tenant import Tenant
from bastion.crypto.totp import totp_code_at
from bastion.web.rpc.credentials import RISK_EVERY
from support.rpc import PASSWORD, TENANT, RpcSite, demo_template
from support.web_client import WebClient

NEW_PASSWORD = "a completely new rpc passphrase"
WRONG = "Wrong login or password."
PROXY = (ipaddress.ip_network("127.0.0.1/32"),)


@pytest.fixture
def site(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> RpcSite:
    # The proxy is trusted so that one client can call from several addresses.
    return RpcSite.copy_of(demo_template(tmp_path_factory), tmp_path, trusted_proxies=PROXY)


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every Argon2 verification the sign-in flow makes (the real one still runs)."""
    seen: list[str] = []
    real = login_module.verify_password

    def counting(password: str, encoded: str) -> None:
        seen.append(password)
        real(password, encoded)

    monkeypatch.setattr(login_module, "verify_password", counting)
    return seen


@pytest.fixture
def web(site: RpcSite) -> Iterator[WebClient]:
    with site.web() as client:
        yield client


def search(web: WebClient, uid: int, password: str, ip: str = "10.1.1.10") -> dict[str, Any]:
    """`res.partner.search([], limit=1)` as `uid` from `ip`: the JSON-RPC reply."""
    args = [TENANT, uid, password, "res.partner", "search", [[]], {"limit": 1}]
    call = {"jsonrpc": "2.0", "method": "call", "id": 1,
            "params": {"service": "object", "method": "execute_kw", "args": args}}  # fmt: skip
    reply: dict[str, Any] = web.post("/jsonrpc", json=call, headers={"x-forwarded-for": ip}).json()
    return reply


def refused(reply: dict[str, Any]) -> str:
    assert "result" not in reply, reply
    data = reply["error"]["data"]
    assert data["name"] == "odoo.exceptions.AccessDenied", data
    return str(data["message"])


def test_a_second_call_with_the_same_password_skips_the_hash(
    site: RpcSite, web: WebClient, hashes: list[str]
) -> None:
    uid = site.uid("sales")
    assert "result" in search(web, uid, PASSWORD)
    assert "result" in search(web, uid, PASSWORD)
    assert "result" in search(web, uid, PASSWORD)
    assert hashes == [PASSWORD]


def test_a_wrong_password_is_hashed_and_refused_every_time(
    site: RpcSite, web: WebClient, hashes: list[str]
) -> None:
    uid = site.uid("sales")
    assert "result" in search(web, uid, PASSWORD)
    for attempt in range(3):
        refused(search(web, uid, f"not the password {attempt}"))
    assert len(hashes) == 4


def test_a_kept_password_does_not_open_another_user_id(
    site: RpcSite, web: WebClient, hashes: list[str]
) -> None:
    sales, hr = site.uid("sales"), site.uid("hr")
    set_demo_password(site, "hr", NEW_PASSWORD)
    assert "result" in search(web, sales, PASSWORD)
    refused(search(web, hr, PASSWORD))
    assert "result" in search(web, hr, NEW_PASSWORD)
    assert len(hashes) == 3


def test_a_changed_password_stops_working_at_once(
    site: RpcSite, web: WebClient, hashes: list[str]
) -> None:
    uid = site.uid("sales")
    assert "result" in search(web, uid, PASSWORD)
    assert "result" in search(web, uid, PASSWORD)
    set_demo_password(site, "sales", NEW_PASSWORD)
    refused(search(web, uid, PASSWORD))
    assert "result" in search(web, uid, NEW_PASSWORD)
    assert "result" in search(web, uid, NEW_PASSWORD)
    assert hashes == [PASSWORD, PASSWORD, NEW_PASSWORD]


def test_a_disabled_user_stops_working_at_once(site: RpcSite, web: WebClient) -> None:
    sales, hr = site.uid("sales"), site.uid("hr")
    assert "result" in search(web, sales, PASSWORD)
    assert "result" in search(web, hr, PASSWORD)
    with opened(site) as tenant:
        set_active(tenant, "sales", False)
    refused(search(web, sales, PASSWORD))
    assert "result" in search(web, hr, PASSWORD)  # the twin: another kept user still works
    with opened(site) as tenant:
        set_active(tenant, "sales", True)
    assert "result" in search(web, sales, PASSWORD)


def test_enrolling_a_second_factor_stops_the_password_at_once(
    site: RpcSite, web: WebClient
) -> None:
    sales, hr = site.uid("sales"), site.uid("hr")
    assert "result" in search(web, sales, PASSWORD)
    assert "result" in search(web, hr, PASSWORD)
    now = site.clock.now()
    with opened(site) as tenant:
        auth = auth_for(site.settings, tenant)
        secret = auth.totp.begin(sales, now)
        auth.totp.confirm(sales, totp_code_at(secret, now), now)
    assert "API key" in refused(search(web, sales, PASSWORD))
    assert "result" in search(web, hr, PASSWORD)


def test_a_kept_password_reads_the_stamp_and_second_factors_in_one_statement(
    site: RpcSite, web: WebClient
) -> None:
    uid = site.uid("sales")
    assert "result" in search(web, uid, PASSWORD)
    statements: list[str] = []

    def seen(*args: object) -> None:
        statements.append(str(args[2]))

    sa.event.listen(sa.Engine, "before_cursor_execute", seen)
    try:
        assert "result" in search(web, uid, PASSWORD)
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", seen)
    factors = [s for s in statements if "auth_totp" in s or "auth_passkey" in s]
    assert len(factors) == 1, statements
    assert "ir_access_stamp" in factors[0] and "auth_passkey" in factors[0]


def test_an_address_refused_for_guessing_is_refused_even_with_a_kept_password(
    site: RpcSite, web: WebClient, hashes: list[str]
) -> None:
    uid = site.uid("sales")
    attacker, elsewhere = "10.66.6.6", "10.77.7.7"
    assert "result" in search(web, uid, PASSWORD, ip=attacker)
    # Password spraying from that address, until the sign-in flow refuses it outright.
    others = [site.uid(login) for login in ("hr", "accountant", "employee", "salesmanager",
                                             "hr2", "accountant2")]  # fmt: skip
    for attempt in range(30):
        message = refused(search(web, others[attempt % 6], f"guess {attempt}", ip=attacker))
        if message != WRONG:
            break
    else:
        pytest.fail("the address was never refused")
    hashed = len(hashes)
    # As a signed-in browser's address, the kept password's is re-assessed once a minute.
    site.clock.advance(seconds=RISK_EVERY)
    assert refused(search(web, uid, PASSWORD, ip=attacker)) != WRONG
    assert len(hashes) == hashed  # refused before any hash
    assert "result" in search(web, uid, PASSWORD, ip=elsewhere)  # the twin


def test_a_kept_password_is_reassessed_once_a_minute(
    site: RpcSite, web: WebClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    uid = site.uid("sales")
    asked: list[str] = []
    real = services_module._risk_allows

    def counting(auth: Any, login: str, uid: int, caller: Any) -> bool:
        asked.append(login)
        return real(auth, login, uid, caller)

    monkeypatch.setattr(services_module, "_risk_allows", counting)
    assert "result" in search(web, uid, PASSWORD)  # the full sign-in flow assesses it
    site.clock.advance(seconds=RISK_EVERY - 1)
    assert "result" in search(web, uid, PASSWORD)
    assert asked == []
    site.clock.advance(seconds=1)
    assert "result" in search(web, uid, PASSWORD)
    assert "result" in search(web, uid, PASSWORD)
    assert asked == ["sales"]  # asked once at the minute, not again right after


def test_an_address_the_throttle_blocks_is_refused_even_with_a_kept_password(
    site: RpcSite, web: WebClient, hashes: list[str]
) -> None:
    uid = site.uid("sales")
    attacker, elsewhere = "10.66.6.6", "10.77.7.7"
    assert "result" in search(web, uid, PASSWORD, ip=attacker)
    assert "result" in search(web, uid, PASSWORD, ip=elsewhere)
    now = site.clock.now()
    with opened(site) as tenant:  # failures counted by another worker
        throttle = auth_for(site.settings, tenant).login.throttle
        keys = throttle.keys("someone else", attacker, None)
        for _ in range(throttle.ip_limit):
            throttle.failed(keys, now)
    assert "try again" in refused(search(web, uid, PASSWORD, ip=attacker)).lower()
    assert "result" in search(web, uid, PASSWORD, ip=elsewhere)  # the twin, still kept
    assert hashes == [PASSWORD, PASSWORD]


def test_a_password_kept_for_one_address_is_checked_in_full_from_another(
    site: RpcSite, web: WebClient, hashes: list[str]
) -> None:
    uid = site.uid("sales")
    assert "result" in search(web, uid, PASSWORD, ip="10.1.1.10")
    assert "result" in search(web, uid, PASSWORD, ip="10.1.1.10")
    assert hashes == [PASSWORD]
    assert "result" in search(web, uid, PASSWORD, ip="10.2.2.20")
    assert hashes == [PASSWORD, PASSWORD]


def test_xml_rpc_shares_the_kept_passwords(
    site: RpcSite, web: WebClient, hashes: list[str]
) -> None:
    uid = site.uid("sales")
    assert "result" in search(web, uid, PASSWORD)
    body = xmlrpc.client.dumps(
        (TENANT, uid, PASSWORD, "res.partner", "search_count", [[]]), "execute_kw"
    )
    headers = {"content-type": "text/xml", "x-forwarded-for": "10.1.1.10"}
    response = web.post("/xmlrpc/2/object", content=body, headers=headers)
    (count,), _ = xmlrpc.client.loads(response.content)
    assert count > 0
    assert hashes == [PASSWORD]


# -- helpers ----------------------------------------------------------------------------------


@contextlib.contextmanager
def opened(site: RpcSite) -> Iterator[Tenant]:
    """The tenant opened apart from the app's, as another process (`bastion users`) would."""
    tenant = open_tenant(site.settings, TENANT)
    try:
        yield tenant
    finally:
        tenant.dispose()


def set_demo_password(site: RpcSite, login: str, password: str) -> None:
    with opened(site) as tenant:
        set_password(tenant, login, password)
