"""API calls through the risk engine: each caller's calls are profiled per user, and a call that
could not have come from the user's previous place is recorded (channel "rpc" or "rest"), but
answered as usual: an API caller cannot answer a challenge."""

from __future__ import annotations

import datetime as dt
import xmlrpc.client
from pathlib import Path

import httpx
import pytest

from bastion.auth.apikeys import KeyScope
from bastion.risk.findings import Action
from bastion.web.risk_guard import RiskGuardMiddleware
from support.risk_site import HOME, HOME_2, PASSWORD, US, RiskSite, auth_of, make_risk_site
from support.web_client import WebClient


@pytest.fixture
def site(tmp_path: Path) -> RiskSite:
    return make_risk_site(tmp_path)


def guard_of(web: WebClient) -> RiskGuardMiddleware:
    node = web.app.middleware_stack
    while not isinstance(node, RiskGuardMiddleware):
        node = node.app  # type: ignore[union-attr]
    return node


def new_key(web: WebClient, login: str = "alice") -> str:
    auth = auth_of(web)
    user = auth.login.find_user(login)
    assert user is not None
    now = auth.tenant.clock.now()
    key, _ = auth.apikeys.create(
        user.uid, "script", now, scope=KeyScope(None, False), expires_at=now + dt.timedelta(days=30)
    )
    return key


def json2(web: WebClient, key: str, ip: str) -> httpx.Response:
    return web.post(
        "/json/2/res.partner/search_count",
        json={"domain": []},
        headers={"authorization": f"bearer {key}", "x-forwarded-for": ip},
    )


def rest(web: WebClient, key: str, ip: str) -> httpx.Response:
    return web.get(
        "/api/v1/res.partner",
        params={"limit": "1"},
        headers={"authorization": f"bearer {key}", "x-forwarded-for": ip},
    )


def xmlrpc_count(web: WebClient, uid: int, password: str, ip: str) -> httpx.Response:
    body = xmlrpc.client.dumps(
        ("acme", uid, password, "res.partner", "search_count", [[]]), "execute_kw"
    )
    return web.post(
        "/xmlrpc/2/object",
        content=body,
        headers={"content-type": "text/xml", "x-forwarded-for": ip},
    )


def test_api_key_calls_from_the_same_place_record_nothing(site: RiskSite) -> None:
    with site.browser() as web:
        key = new_key(web)
        for ip in (HOME, HOME_2, HOME):
            assert json2(web, key, ip).status_code == 200
        assert auth_of(web).risk.events.count() == 0


def test_api_key_call_from_an_impossible_place_is_recorded_and_still_answered(
    site: RiskSite,
) -> None:
    with site.browser() as web:
        key = new_key(web)
        assert json2(web, key, HOME).status_code == 200
        moved = json2(web, key, US)
        assert moved.status_code == 200 and isinstance(moved.json(), int)
        [event] = auth_of(web).risk.events.list()
        assert event.kind == "request" and event.channel == "rpc"
        assert event.country == "US" and event.ip == US
        assert [f.detector for f in event.findings] == ["travel"]
        assert event.action is Action.CHALLENGE  # what a browser would get; recorded only


def test_repeated_calls_from_a_flagged_place_are_recorded_once_per_interval(
    site: RiskSite,
) -> None:
    with site.browser() as web:
        key = new_key(web)
        json2(web, key, HOME)
        for _ in range(5):
            assert json2(web, key, US).status_code == 200
        assert auth_of(web).risk.events.count() == 1


def test_rest_calls_are_profiled_on_the_rest_channel(site: RiskSite) -> None:
    with site.browser() as web:
        key = new_key(web)
        assert rest(web, key, HOME).status_code == 200
        assert rest(web, key, US).status_code == 200
        [event] = auth_of(web).risk.events.list()
        assert event.channel == "rest" and event.action is Action.CHALLENGE


def test_password_rpc_calls_are_profiled_too(site: RiskSite) -> None:
    # (A password call from an impossible place is refused by the sign-in check itself, which
    # every password call passes through: here only the profiling of the calls is shown.)
    with site.browser() as web:
        uid = auth_of(web).login.find_user("alice").uid  # type: ignore[union-attr]
        assert b"<fault>" not in xmlrpc_count(web, uid, PASSWORD, HOME).content
        guard = guard_of(web)
        assert len(guard.api_timings) == 1
        assert b"<fault>" not in xmlrpc_count(web, uid, PASSWORD, HOME).content
        assert len(guard.api_timings) == 1  # the same caller and address: once per interval
        assert b"<fault>" not in xmlrpc_count(web, uid, PASSWORD, HOME_2).content
        assert len(guard.api_timings) == 2


def test_refused_api_key_records_no_call(site: RiskSite) -> None:
    with site.browser() as web:
        new_key(web)
        assert json2(web, "bst_nosuchkey_" + "x" * 32, US).status_code == 401
        assert auth_of(web).risk.events.count() == 0


def test_flagged_place_does_not_become_the_reference(site: RiskSite) -> None:
    # A flagged call is never learnt: back at the user's usual place, nothing is flagged.
    with site.browser() as web:
        key = new_key(web, "bob")
        assert json2(web, key, HOME).status_code == 200
        assert json2(web, key, US).status_code == 200
        assert json2(web, key, HOME).status_code == 200  # back where the reference is
        assert auth_of(web).risk.events.count() == 1
