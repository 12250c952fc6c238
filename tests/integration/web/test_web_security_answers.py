""" "My security" asks about sign-ins from new devices ("was this you?"): yes is recorded, no
signs the user out everywhere, forgets their devices, is audited and alerts them by e-mail."""

from __future__ import annotations

import re
from email import message_from_bytes
from pathlib import Path

import pytest
import sqlalchemy as sa

from bastion.audit.schema import audit_log
from bastion.risk.findings import Action, Assessment, Finding
from bastion.risk.signals import LoginSignal
from bastion.risk.useragent import parse_agent
from support.risk_site import CHROME, US, RiskSite, auth_of, make_risk_site, sign_in, signed_in
from support.web_client import WebClient, csrf_of

SECURITY = "/web/security"


@pytest.fixture
def site(tmp_path: Path) -> RiskSite:
    return make_risk_site(tmp_path)


def new_device_sign_in(web: WebClient, site: RiskSite, login: str, *, known: bool = False) -> int:
    """A completed sign-in of `login` from an American address, as the sign-in flow records it."""
    user = auth_of(web).login.find_user(login)
    assert user is not None
    signal = LoginSignal(
        tenant="acme",
        login=login,
        at=site.clock.now(),
        place=site.geo.locate(US),
        agent=parse_agent(CHROME),
        stage="succeeded",
        uid=user.uid,
        device="ab" * 32,
        device_known=known,
    )
    finding = Finding("login_model", "new-device", 25, "new device")
    assessment = Assessment(25, (finding,), Action.ALLOW, (finding.reason,))
    return auth_of(web).risk.events.record(signal, assessment)


def answer(web: WebClient, event_id: int, choice: str) -> object:
    page = web.get(SECURITY)
    return web.post(
        f"{SECURITY}/signins/answer",
        {"event_id": str(event_id), "answer": choice, "csrf_token": csrf_of(page.text)},
    )


def asked(html: str) -> list[str]:
    return re.findall(r'data-testid="new-signin" data-event-id="(\d+)"', html)


def test_new_device_sign_in_is_asked_about(site: RiskSite) -> None:
    with site.browser() as web:
        sign_in(web)
        event = new_device_sign_in(web, site, "alice")
        page = web.get(SECURITY)
        assert asked(page.text) == [str(event)]
        assert "New sign-in from <strong>Chrome 120 on Windows</strong>" in page.text
        assert f"{US} (US)" in page.text and "was this you?" in page.text


def test_new_device_sign_in_is_asked_about_denied_for_a_known_device(site: RiskSite) -> None:
    with site.browser() as web:
        sign_in(web)
        new_device_sign_in(web, site, "alice", known=True)
        new_device_sign_in(web, site, "bob")  # someone else's
        assert asked(web.get(SECURITY).text) == []


def test_answer_yes_is_recorded_and_not_asked_again(site: RiskSite) -> None:
    with site.browser() as web:
        sign_in(web)
        event = new_device_sign_in(web, site, "alice")
        page = answer(web, event, "yes")
        assert page.status_code == 200  # type: ignore[attr-defined]
        assert "marked as yours" in page.text  # type: ignore[attr-defined]
        assert asked(page.text) == []  # type: ignore[attr-defined]
        [stored] = auth_of(web).risk.events.list()
        assert stored.answer == "yes"
        assert signed_in(web)


def test_answer_no_revokes_every_session_and_device_audits_and_alerts(site: RiskSite) -> None:
    with site.browser() as web, site.browser() as laptop:
        sign_in(web)
        sign_in(laptop)
        auth = auth_of(web)
        uid = auth.login.find_user("alice").uid  # type: ignore[union-attr]
        auth.devices.remember(uid, "some-device-id-0123456789", site.clock.now(), ip=US,
                              user_agent=CHROME)  # fmt: skip
        event = new_device_sign_in(web, site, "alice")
        page = answer(web, event, "no")
        assert 'data-testid="signins-revoked"' in page.text  # type: ignore[attr-defined]
        assert not signed_in(web) and not signed_in(laptop)
        assert auth.sessions.list_for_user(uid, site.clock.now()) == []
        assert auth.devices.list_for_user(uid, site.clock.now()) == []
        [stored] = auth.risk.events.list()
        assert stored.answer == "no"
        with site.tenant() as tenant, tenant.engine.connect() as conn:
            reasons = conn.execute(
                sa.select(audit_log.c.reason).where(audit_log.c.uid == uid)
            ).scalars()
            assert any("reported as not theirs" in (r or "") for r in reasons)
        [mail] = list((site.settings.outbox_dir).glob("*.eml"))
        message = message_from_bytes(mail.read_bytes())
        assert message["To"] == "alice@example.com"
        assert "not recognise" in message["Subject"]


def test_answer_no_to_another_users_sign_in_is_refused_and_changes_nothing(
    site: RiskSite,
) -> None:
    with site.browser() as web:
        sign_in(web)
        theirs = new_device_sign_in(web, site, "bob")
        refused = answer(web, theirs, "no")
        assert refused.status_code == 404  # type: ignore[attr-defined]
        assert signed_in(web)
        [stored] = auth_of(web).risk.events.list()
        assert stored.answer is None


@pytest.mark.parametrize(
    "form", [{"event_id": "x", "answer": "no"}, {"event_id": "1", "answer": "maybe"}, {}], ids=repr
)
def test_malformed_answers_are_refused(site: RiskSite, form: dict[str, str]) -> None:
    with site.browser() as web:
        sign_in(web)
        new_device_sign_in(web, site, "alice")
        page = web.get(SECURITY)
        response = web.post(
            f"{SECURITY}/signins/answer", {**form, "csrf_token": csrf_of(page.text)}
        )
        assert response.status_code == 400
        assert signed_in(web)
