"""The security console is for administrators only: every route of it, for every other kind of
visitor, answers without a single event (deny by default)."""

from __future__ import annotations

import pytest

from bastion.risk.findings import Action, Assessment, Finding
from bastion.risk.signals import RequestSignal
from bastion.risk.useragent import parse_agent
from support.risk_site import ADMIN, CHROME, US, RiskSite, auth_of, make_risk_site, sign_in
from support.web_client import WebClient

ROUTES = [
    "/web/security/events",
    "/web/security/events?action=revoke&user=alice",
    "/web/security/events/export?format=csv",
    "/web/security/events/export?format=jsonl",
]
SECRET_REASON = "session used from another device (marker 7f3a)"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> RiskSite:
    return make_risk_site(tmp_path_factory.mktemp("events-access"))


def seed(web: WebClient, site: RiskSite) -> None:
    auth = auth_of(web)
    if auth.risk.events.count():
        return
    user = auth.login.find_user("alice")
    assert user is not None
    signal = RequestSignal(
        tenant=site.name, uid=user.uid, at=site.clock.now(), place=site.geo.locate(US),
        agent=parse_agent(CHROME), session="cd" * 32, bound_device="ab" * 32, device="ef" * 32,
    )  # fmt: skip
    finding = Finding("binding", "device-mismatch", 100, SECRET_REASON, Action.REVOKE)
    auth.risk.events.record(signal, Assessment(100, (finding,), Action.REVOKE, (SECRET_REASON,)))


@pytest.mark.parametrize("path", ROUTES)
def test_console_route_is_open_to_an_administrator(site: RiskSite, path: str) -> None:
    with site.browser() as web:
        sign_in(web, ADMIN)
        seed(web, site)
        answer = web.get(path)
        assert answer.status_code == 200 and answer.url.path == path.split("?", maxsplit=1)[0]
        assert SECRET_REASON in answer.text


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("login", ["alice", "bob"])
def test_console_route_is_open_to_an_administrator_denied_for_a_normal_user(
    site: RiskSite, path: str, login: str
) -> None:
    with site.browser() as web:
        sign_in(web, login)
        seed(web, site)
        answer = web.get(path)
        assert answer.status_code == 403
        assert SECRET_REASON not in answer.text and "device-mismatch" not in answer.text


@pytest.mark.parametrize("path", ROUTES)
def test_console_route_is_open_to_an_administrator_denied_for_an_anonymous_visitor(
    site: RiskSite, path: str
) -> None:
    with site.browser() as web:
        sign_in(web, ADMIN)
        seed(web, site)
    with site.browser() as anonymous:
        answer = anonymous.get(path)
        assert answer.url.path == "/web/login"
        assert SECRET_REASON not in answer.text


@pytest.mark.parametrize("path", ROUTES)
def test_console_route_is_open_to_an_administrator_denied_until_the_second_factor_is_set_up(
    site: RiskSite, path: str
) -> None:
    # The Settings group requires a second factor: a session still waiting for enrolment
    # sees none of the console.
    with site.browser() as web:
        sign_in(web, ADMIN, must_enrol=True)
        seed(web, site)
        answer = web.get(path)
        assert answer.url.path == "/web/security"
        assert SECRET_REASON not in answer.text
