"""\"Was this you?\": the user's answer about a sign-in from a device new to them (My security).

"Yes" is recorded. "No" means someone else holds the password: every session of the user ends
(this one too), every device is forgotten (none is trusted or known any more, so the next
sign-in asks for everything), the answer is recorded on the event, the audit trail gets an
entry, and the user is alerted by e-mail (the process's mailer: SMTP, or the outbox in
development) when their account has an address. The user then signs in again and should
change the password.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Mapping

from starlette.responses import Response

from bastion.auth.mail import Mailer
from bastion.bootstrap.auth import TenantAuth
from bastion.core.events import AuditEvent
from bastion.errors import AccessError, BastionError
from bastion.risk.events import RiskEvent
from bastion.web.routing_auth import Visitor, blocking

log = logging.getLogger(__name__)

#: How far back "My security" asks about new-device sign-ins.
ASK_DAYS = 30
MAX_SHOWN = 10
THANKS = "Thank you: the sign-in is marked as yours."
SUBJECT = "Bastion: a sign-in you did not recognise"

Page = Callable[..., Awaitable[Response]]


def pending_signins(auth: TenantAuth, uid: int, now: dt.datetime) -> list[RiskEvent]:
    """The user's unanswered sign-ins from new devices of the last `ASK_DAYS`. Blocking."""
    since = now.timestamp() - ASK_DAYS * 86_400
    return auth.risk.events.pending_for(uid, since, limit=MAX_SHOWN)


async def answer_signin(v: Visitor, form: Mapping[str, str], page: Page) -> Response:
    """Handle the answer form; `page(v, status, **ctx)` renders "My security"."""
    assert v.auth is not None and v.session is not None
    auth, uid, now = v.auth, v.session.uid, v.now
    raw, choice = form.get("event_id", ""), form.get("answer", "")
    if not (raw.isascii() and raw.isdigit() and len(raw) < 12) or choice not in ("yes", "no"):
        return await page(v, 400, error="Choose a sign-in and an answer.")
    try:
        yes, at = choice == "yes", now.timestamp()
        event = await blocking(auth.risk.events.answer, int(raw), uid, yes, at)
    except AccessError:
        return await page(v, 404, error="There is no such sign-in of yours.")
    if choice == "yes":
        return await page(v, flash=THANKS if event.answer == "yes" else None)
    mailer: Mailer | None = getattr(v.request.app.state.services, "mailer", None)
    await blocking(lock_down, auth, uid, event, now, mailer)
    v.clear()
    v.session = None  # signed out: the page below shows no account
    return v.page("signins_revoked.html")


def lock_down(
    auth: TenantAuth, uid: int, event: RiskEvent, now: dt.datetime, mailer: Mailer | None
) -> None:
    """End every session and forget every device of `uid`; audit; alert. Blocking."""
    ended = auth.sessions.revoke_user(uid)
    forgotten = auth.devices.forget(uid)
    reason = (
        f"sign-in #{event.id} from {event.ip} reported as not theirs: "
        f"{ended} session(s) ended, {forgotten} device(s) forgotten"
    )
    tenant = auth.tenant
    with tenant.transaction() as tx:
        tx.events.append(AuditEvent("login", tenant.name, now, uid, reason=reason))
    log.warning("User %s reported sign-in #%s as not theirs", uid, event.id)
    if mailer is not None:
        _alert(auth, uid, event, mailer)


def _alert(auth: TenantAuth, uid: int, event: RiskEvent, mailer: Mailer) -> None:
    try:
        user = auth.login.get_user(uid)
    except AccessError:
        return
    if not user.email:
        return
    where = f"{event.ip}" + (f" ({event.country})" if event.country else "")
    at = dt.datetime.fromtimestamp(event.at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = (
        f"Hello {user.name or user.login},\n\n"
        f"You told us that the sign-in to your account from {event.agent}, {where} on {at} "
        "was not you.\n\n"
        "We signed out all your sessions and forgot all your devices. Sign in again and change "
        "your password now, and review your API keys under My security. If you did not make "
        "this report, contact your administrator.\n"
    )
    try:
        mailer.send(user.email, SUBJECT, body)
    except BastionError as exc:
        log.warning("Could not send the sign-in alert to user %s: %s", uid, exc.message)
