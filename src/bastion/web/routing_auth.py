"""What the sign-in and "My security" routes share: who is asking, pages, safe redirects."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote

from anyio import to_thread
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bastion.auth.login import Attempt
from bastion.auth.sessions import Session
from bastion.bootstrap.auth import TenantAuth
from bastion.core.clock import Clock
from bastion.web.templating import render

log = logging.getLogger(__name__)

#: Fixed messages shown after a redirect (`?m=<code>`): no request text is ever reflected.
MESSAGES = {
    "logged_out": "You are signed out.",
    "session_expired": "Your session has ended; please sign in again.",
    "session_revoked": "The session was signed out.",
    "sessions_revoked": "Your other sessions were signed out.",
    "devices_forgotten": "Your devices will ask for a second factor again.",
    "password_changed": "Your password was changed; your other sessions were signed out.",
    "totp_enabled": "Authenticator app enabled.",
    "totp_removed": "Authenticator app removed; your other sessions were signed out.",
    "passkey_added": "Passkey added.",
    "passkey_removed": "Passkey removed.",
    "key_revoked": "The API key was revoked.",
    "enrol_required": "Your role requires a second factor: add an authenticator app or passkey.",
    "reauthenticated": "Password confirmed.",
}
#: How recent a password proof must be for sensitive actions (API keys, removing factors).
RECENT_AUTH_SECONDS = 10 * 60
#: Pages a user who must enrol a second factor may still reach.
ENROL_PATHS = ("/web/security", "/web/reauth", "/web/session/logout", "/web/static/")


class Visitor:
    """The request's tenant, session and device, as `SessionMiddleware` found them."""

    def __init__(self, request: Request, clock: Clock, session_seconds: int) -> None:
        state = request.scope.get("state", {})
        self.request = request
        self.session_seconds = session_seconds
        self.auth: TenantAuth | None = state.get("auth")
        self.session: Session | None = state.get("session")
        self.token: str | None = state.get("session_token")
        self.device_id: str | None = state.get("device_id")
        self.csrf_token: str = state.get("csrf_expected") or ""
        self.ip: str = state.get("client_ip") or (
            request.client.host if request.client else "0.0.0.0"  # noqa: S104 - a value, not a bind
        )
        self.user_agent = request.headers.get("user-agent", "")[:300]
        self.now: datetime = clock.now()

    @property
    def signed_in(self) -> bool:
        return self.session is not None and not self.session.mfa_pending

    def attempt(self, login: str, password: str) -> Attempt:
        return Attempt(login, password, self.ip, self.user_agent, self.device_id)

    def issue(self, token: str, session: Session) -> None:
        """Ask the middleware to set the session cookie (rotated token)."""
        max_age = self.session_seconds if session.persistent else 0
        self.request.scope["state"]["set_session"] = (token, max_age)
        self.request.scope["state"]["session"] = session
        self.request.scope["state"]["csrf_expected"] = session.csrf_token
        self.token, self.session, self.csrf_token = token, session, session.csrf_token

    def clear(self) -> None:
        self.request.scope["state"]["clear_session"] = True
        self.request.scope["state"]["session"] = None

    def recently_authenticated(self) -> bool:
        return (
            self.session is not None
            and self.now.timestamp() - self.session.auth_time <= RECENT_AUTH_SECONDS
        )

    def page(self, name: str, status: int = 200, **ctx: Any) -> Response:
        user = None
        if self.signed_in and self.auth is not None and self.session is not None:
            user = self.user_summary()
        code = self.request.query_params.get("m", "")
        ctx.setdefault("flash", MESSAGES.get(code))
        ctx.setdefault("error", None)
        return render(self.request, name, status, csrf_token=self.csrf_token, user=user, **ctx)

    def user_summary(self) -> dict[str, str]:
        assert self.auth is not None and self.session is not None
        row = self.auth.login.get_user(self.session.uid)
        return {"name": row.name, "login": row.login}


def safe_target(target: str | None, default: str = "/web") -> str:
    """Only local paths: `//evil.example` and `https://...` would be open redirects."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith(("//", "/\\"))
        or any(c == "\\" or ord(c) < 0x20 or ord(c) == 0x7F for c in target)
    ):
        return default
    return target


def redirect(url: str) -> Response:
    return RedirectResponse(url, status_code=303)


def login_redirect(request: Request, message: str | None = None) -> Response:
    target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    suffix = f"&m={message}" if message else ""
    return redirect(f"/web/login?redirect={target}{suffix}")


Handler = Callable[[Visitor], Awaitable[Response]]


def error_page(visitor: Visitor, status: int, title: str, message: str) -> Response:
    return visitor.page("error.html", status, title=title, message=message)


async def blocking(func: Callable[..., Any], *args: Any) -> Any:
    """Run a database-bound call in a worker thread, never on the event loop."""
    return await to_thread.run_sync(func, *args)


def after_response(response: Response, func: Callable[..., Any], *args: Any) -> Response:
    """Run `func(*args)` in a worker thread once `response` has been sent (work the client
    need not wait for, such as the risk engine learning a sign-in). A failure is logged,
    never sent: the response is already gone."""

    previous = response.background

    async def run() -> None:
        if previous is not None:
            await previous()
        try:
            await to_thread.run_sync(func, *args)
        except Exception:
            log.exception("Work after the response failed: %s", getattr(func, "__name__", func))

    response.background = BackgroundTask(run)
    return response
