"""The "Security events" console: administrators list, filter, chart and export the risk
decisions; everyone else is refused (tests/security/test_security_events_access.py walks that)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from pathlib import Path

import pytest

from bastion.risk.findings import Action, Assessment, Finding
from bastion.risk.signals import LoginSignal, RequestSignal
from bastion.risk.useragent import parse_agent
from support.risk_site import CHROME, HOME, US, RiskSite, auth_of, make_risk_site, sign_in
from support.web_client import WebClient

EVENTS = "/web/security/events"


@pytest.fixture
def site(tmp_path: Path) -> RiskSite:
    return make_risk_site(tmp_path)


def uid_of(web: WebClient, login: str) -> int:
    user = auth_of(web).login.find_user(login)
    assert user is not None
    return user.uid


def record_sign_in(
    web: WebClient,
    site: RiskSite,
    login: str,
    action: Action,
    *findings: Finding,
    ip: str = HOME,
    days_ago: float = 0,
) -> int:
    at = site.clock.now() - dt.timedelta(days=days_ago)
    user = auth_of(web).login.find_user(login)
    signal = LoginSignal(
        tenant="acme",
        login=login,
        at=at,
        place=site.geo.locate(ip),
        agent=parse_agent(CHROME),
        stage="succeeded",
        uid=user.uid if user else None,
        device="ab" * 32,
    )
    score = sum(f.score for f in findings)
    assessment = Assessment(score, findings, action, tuple(f.reason for f in findings))
    return auth_of(web).risk.events.record(signal, assessment)


def record_revocation(web: WebClient, site: RiskSite, login: str) -> int:
    signal = RequestSignal(
        tenant="acme",
        uid=uid_of(web, login),
        at=site.clock.now(),
        place=site.geo.locate(US),
        agent=parse_agent(CHROME),
        session="cd" * 32,
        bound_device="ab" * 32,
        device="ef" * 32,
    )
    finding = Finding("binding", "device-mismatch", 100, "session used from another device",
                      Action.REVOKE)  # fmt: skip
    return auth_of(web).risk.events.record(
        signal, Assessment(100, (finding,), Action.REVOKE, (finding.reason,))
    )


NEW_COUNTRY = Finding("login_model", "new-country", 45, "new country US")


def rows(html: str) -> list[str]:
    return re.findall(r'data-testid="event-row" data-event-id="(\d+)"', html)


def test_admin_sees_events_with_their_findings_and_a_timeline(site: RiskSite) -> None:
    with site.browser() as web:
        sign_in(web, "root")
        record_sign_in(web, site, "alice", Action.ALLOW)
        record_sign_in(web, site, "bob", Action.CHALLENGE, NEW_COUNTRY, ip=US)
        record_revocation(web, site, "alice")
        page = web.get(EVENTS)
        assert page.status_code == 200, page.text[:300]
        assert len(rows(page.text)) == 3
        assert "session used from another device" in page.text and "new country US" in page.text
        assert 'data-testid="timeline"' in page.text and "<svg" in page.text
        totals = [int(n) for n in re.findall(r'<g data-total="(\d+)"', page.text)]
        assert sum(totals) == 3
        # The CSP allows neither inline scripts nor inline styles: the page needs none.
        assert "<script" not in page.text and "style=" not in page.text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"action": "revoke"}, 1),
        ({"action": "challenge"}, 1),
        ({"detector": "binding"}, 1),
        ({"detector": "login_model"}, 1),
        ({"user": "alice"}, 2),
        ({"user": "alice", "action": "allow"}, 1),
        ({"period": "24h"}, 3),
        ({"period": "7d"}, 4),
        ({"user": "nobody-by-that-login"}, 0),
        ({"action": "explode"}, 4),  # unknown values select everything, never fail
    ],
    ids=repr,
)
def test_filters_select_the_matching_events(
    site: RiskSite, query: dict[str, str], expected: int
) -> None:
    with site.browser() as web:
        sign_in(web, "root")
        record_sign_in(web, site, "alice", Action.ALLOW)
        record_sign_in(web, site, "bob", Action.CHALLENGE, NEW_COUNTRY, ip=US)
        record_revocation(web, site, "alice")
        record_sign_in(web, site, "bob", Action.ALLOW, days_ago=3)
        page = web.get(EVENTS, params=query)
        assert page.status_code == 200
        assert len(rows(page.text)) == expected
        assert f'data-testid="event-total">{expected}<' in page.text


def test_unknown_user_filter_says_so(site: RiskSite) -> None:
    with site.browser() as web:
        sign_in(web, "root")
        page = web.get(EVENTS, params={"user": "nobody-by-that-login"})
        assert 'data-testid="unknown-user"' in page.text


def test_events_come_page_by_page(site: RiskSite) -> None:
    with site.browser() as web:
        sign_in(web, "root")
        for _ in range(60):
            record_sign_in(web, site, "alice", Action.ALLOW)
        first = web.get(EVENTS, params={"action": "allow"})
        assert len(rows(first.text)) == 50 and "Page 1 of 2" in first.text
        link = re.search(r'href="(/web/security/events\?[^"]+)" rel="next"', first.text)
        assert link is not None
        second = web.get(link.group(1).replace("&amp;", "&"))
        assert len(rows(second.text)) == 10 and "Page 2 of 2" in second.text
        assert not set(rows(first.text)) & set(rows(second.text))


def test_export_as_json_lines_for_a_siem(site: RiskSite) -> None:
    with site.browser() as web:
        sign_in(web, "root")
        record_sign_in(web, site, "bob", Action.CHALLENGE, NEW_COUNTRY, ip=US)
        record_revocation(web, site, "alice")
        answer = web.get(f"{EVENTS}/export", params={"format": "jsonl"})
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("application/x-ndjson")
        assert answer.headers["content-disposition"].startswith("attachment;")
        items = [json.loads(line) for line in answer.text.splitlines()]
        assert [i["action"] for i in items] == ["revoke", "challenge"]  # newest first
        revoked = items[0]
        assert revoked["user"] == "alice" and revoked["tenant"] == "acme"
        assert revoked["time"].endswith("Z") and revoked["country"] == "US"
        assert revoked["findings"][0]["detector"] == "binding"
        assert revoked["device"] == "ef" * 8  # the presenting device: a digest prefix


def test_export_as_csv_neutralises_formulas(site: RiskSite) -> None:
    with site.browser() as web:
        sign_in(web, "root")
        record_sign_in(web, site, '=HYPERLINK("http://evil.example")', Action.ALLOW)
        answer = web.get(f"{EVENTS}/export", params={"format": "csv", "action": "allow"})
        assert answer.headers["content-type"].startswith("text/csv")
        table = list(csv.DictReader(io.StringIO(answer.text)))
        assert len(table) == 1
        assert table[0]["login"].startswith("'=")
        assert table[0]["action"] == "allow"


def test_export_follows_the_filters(site: RiskSite) -> None:
    with site.browser() as web:
        sign_in(web, "root")
        record_sign_in(web, site, "bob", Action.CHALLENGE, NEW_COUNTRY, ip=US)
        record_revocation(web, site, "alice")
        answer = web.get(f"{EVENTS}/export", params={"format": "jsonl", "user": "bob"})
        assert [json.loads(line)["user"] for line in answer.text.splitlines()] == ["bob"]


def test_my_security_links_the_console_for_administrators(site: RiskSite) -> None:
    with site.browser() as web:
        sign_in(web, "root")
        assert 'data-testid="security-events-link"' in web.get("/web/security").text


def test_my_security_links_the_console_denied_for_other_users(site: RiskSite) -> None:
    with site.browser() as web:
        sign_in(web, "alice")
        assert 'data-testid="security-events-link"' not in web.get("/web/security").text
