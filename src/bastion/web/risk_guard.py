"""`RiskGuardMiddleware`: session binding for every browser-session request, profiling for every
API call. It sits right after `SessionMiddleware` (it needs the session and the device) and
before the CSRF check (a replayed cookie is revoked whatever the request carries).

Per request of a signed-in session (`risk_session`):
- same device, and the same address as this process last found fine within `cache_seconds`:
  nothing more (a dict lookup);
- otherwise the risk engine assesses it in a worker thread: REVOKE ends the session and the
  request goes on as signed out (pages: to the sign-in page; JSON: 401, or the JSON-RPC
  routes' own "session expired"); CHALLENGE marks the session and sends every request but the
  re-verification pages to `/web/reverify`.

API calls (`risk_api`): noted as they are dispatched, assessed once the answer has been sent.
"""

from __future__ import annotations

import functools
import logging
import time
from collections import deque
from typing import Any
from urllib.parse import quote

from anyio import to_thread
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bastion.bootstrap.app import Services
from bastion.core.clock import Clock, SystemClock
from bastion.risk.findings import Action
from bastion.risk.geo import GeoResolver
from bastion.web.risk_api import ApiWatch, is_api_path
from bastion.web.risk_calls import CURRENT_CALL, CallNote
from bastion.web.risk_session import SeenCache, check_session, pending_stepup
from bastion.web.risk_signals import client_ip_of

log = logging.getLogger(__name__)

REVERIFY_PATH = "/web/reverify"
SIGNED_OUT = "/web/login?m=session_expired"
#: Paths a session waiting for re-verification may still use: the re-verification itself,
#: signing out, signing in anew, static files.
WHILE_PENDING = ("/web/reverify", "/web/static/", "/web/session/logout", "/web/session/destroy")
WHILE_PENDING_EXACT = frozenset({"/web/login", "/web/session/authenticate", "/healthz"})
#: Cookie-session JSON routes: they answer a missing session with Odoo's "session expired".
JSON_SESSION_PREFIXES = ("/web/dataset/", "/web/session/")
REVOKED = "Your session was ended for your security; please sign in again."
REVERIFY = "Please confirm it is you: your session is being used from a new network."
TIMING_SAMPLES = 10_000


def geo_of(scope: Scope) -> GeoResolver:
    """The process's resolver (`Services.geo`: the bundled database, or BASTION_GEO_TABLE),
    the one the sign-in flow places addresses with too."""
    services: Services = scope["app"].state.services
    return services.geo


def allowed_while_pending(path: str) -> bool:
    return path in WHILE_PENDING_EXACT or path.startswith(WHILE_PENDING)


class RiskGuardMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        services: Services,
        clock: Clock | None = None,
        *,
        cache_seconds: float = 60.0,
        api_every: float = 600.0,
    ) -> None:
        self.app = app
        self.services = services
        self.clock: Clock = clock or SystemClock()
        self.seen = SeenCache(cache_seconds)
        self.api = ApiWatch(api_every)
        #: Seconds the guard added to each session request, and spent per assessed API call
        #: after its answer (newest last): what `bench/request_guard.py` reports.
        self.timings: deque[float] = deque(maxlen=TIMING_SAMPLES)
        self.api_timings: deque[float] = deque(maxlen=TIMING_SAMPLES)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        if state.get("session") is not None and state.get("auth") is not None:
            started = time.perf_counter()
            answer = await self._guard(scope, state)
            self.timings.append(time.perf_counter() - started)
            if answer is not None:
                await answer(scope, receive, send)
                return
        if is_api_path(scope.get("path", "")):
            await self._watched(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _guard(self, scope: Scope, state: dict[str, Any]) -> Response | None:
        session, auth, token = state["session"], state["auth"], state.get("session_token")
        if not token:
            return None
        path: str = scope.get("path", "")
        conn = HTTPConnection(scope)
        now = self.clock.now()
        tenant, ip, device = str(state.get("tenant") or ""), client_ip_of(conn), state["device_id"]
        if session.device_id is None or device == session.device_id:
            if session.mfa_pending:
                return None  # mid sign-in: the second factor is being asked for anyway
            if pending_stepup(session) is not None:
                return None if allowed_while_pending(path) else self._reverify(scope, state)
            if self.seen.fresh(tenant, session.sid, ip, device, now.timestamp()):
                return None
        known = self.seen.place(tenant, session.sid, device, now.timestamp())
        check = functools.partial(
            check_session, auth, conn, session, token, geo=self.services.geo, now=now, known=known
        )
        outcome = await to_thread.run_sync(check)
        if outcome.action is Action.REVOKE:
            self.seen.forget(tenant, session.sid)
            state.update(session=None, session_token=None, clear_session=True)
            return self._signed_out(scope)
        state["session"] = outcome.session
        if outcome.action is Action.CHALLENGE:
            return None if allowed_while_pending(path) else self._reverify(scope, state)
        self.seen.remember(tenant, session.sid, ip, device, now.timestamp(), where=outcome.where)
        return None

    def _signed_out(self, scope: Scope) -> Response | None:
        """The answer to a request whose session was just revoked."""
        if scope.get("path", "").startswith(JSON_SESSION_PREFIXES):
            return None  # the route answers a request without a session in its own protocol
        if _wants_json(scope):
            return JSONResponse({"error": "session_revoked", "message": REVOKED}, 401)
        return RedirectResponse(SIGNED_OUT, status_code=303)

    def _reverify(self, scope: Scope, state: dict[str, Any]) -> Response | None:
        """The answer to a request of a session waiting for re-verification."""
        path = scope.get("path", "")
        if path.startswith(JSON_SESSION_PREFIXES):
            # A JSON client cannot re-verify: the call is answered as if signed out (its
            # library signs in again, which the sign-in risk checks), the browser keeps waiting.
            state.update(session=None, session_token=None)
            return None
        if _wants_json(scope):
            body = {"error": "reverify", "message": REVERIFY, "redirect": REVERIFY_PATH}
            return JSONResponse(body, 401)
        target = "/web"
        if scope.get("method") in ("GET", "HEAD"):
            query = scope.get("query_string", b"").decode("latin-1")
            target = path + (f"?{query}" if query else "")
        return RedirectResponse(f"{REVERIFY_PATH}?next={quote(target, safe='')}", status_code=303)

    async def _watched(self, scope: Scope, receive: Receive, send: Send) -> None:
        note = CallNote()
        status: list[int] = []

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        reset = CURRENT_CALL.set(note)
        try:
            await self.app(scope, receive, send_status)
        finally:
            CURRENT_CALL.reset(reset)
        if note.uid is None or note.tenant is None:
            return
        started = time.perf_counter()
        try:
            conn, now = HTTPConnection(scope), self.clock.now()
            # Most calls are not due (once per caller and address every `api_every` seconds):
            # asked here, a dict lookup, rather than in a worker thread.
            if not self.api.due(note, client_ip_of(conn), now.timestamp()):
                return
            assess = functools.partial(
                self.api.assess,
                self.services,
                conn,
                note,
                geo=self.services.geo,
                now=now,
                status=status[0] if status else None,
                due_checked=True,
            )
            assessed = await to_thread.run_sync(assess)
        except Exception:  # the answer is gone already: a failure here must not look like one
            log.exception("Could not assess an API call of user %s", note.uid)
            return
        if assessed is not None:
            self.api_timings.append(time.perf_counter() - started)
            if assessed.flagged:
                log.info("API call of user %s flagged: %s", note.uid, "; ".join(assessed.reasons))


def _wants_json(scope: Scope) -> bool:
    """A script's request (fetch with Accept: application/json), not a page load."""
    accept = dict(scope.get("headers") or []).get(b"accept", b"")
    return b"application/json" in accept and b"text/html" not in accept
