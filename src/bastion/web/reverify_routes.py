"""`/web/reverify`: the step-up a session must pass after the risk guard saw it move to another
network (autonomous system, country) or travel impossibly fast.

A user with a second factor answers with it (authenticator code, passkey, or a recovery
code); a user without one confirms the password. A password is never enough for an account
that has a factor: a thief holding a copied cookie jar often holds saved passwords too.
Success lets the detectors learn the new place and rotates the session (`complete_stepup`).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bastion.core.clock import Clock
from bastion.errors import BastionError, RateLimitError, ValidationError, VerificationError
from bastion.settings import Settings
from bastion.web.login_routes import read_form, web_origin
from bastion.web.risk_guard import geo_of
from bastion.web.risk_session import complete_stepup, pending_stepup
from bastion.web.routing_auth import Visitor, blocking, login_redirect, redirect, safe_target

STRONG_FACTORS = frozenset({"totp", "passkey"})
FAILED = "That did not work; please try again."
MAX_CODE = 64
MAX_PASSWORD = 4097


class ReverifyPages:
    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.clock = clock
        self.session_seconds = settings.session_absolute_hours * 3600

    def routes(self) -> list[Route]:
        post = ["POST"]
        return [
            Route("/web/reverify", self.form, methods=["GET"]),
            Route("/web/reverify", self.submit, methods=post),
            Route("/web/reverify/passkey/options", self.passkey_options, methods=post),
            Route("/web/reverify/passkey", self.passkey_verify, methods=post),
        ]

    def visitor(self, request: Request) -> Visitor | None:
        v = Visitor(request, self.clock, self.session_seconds)
        return v if v.signed_in else None

    async def form(self, request: Request) -> Response:
        v = self.visitor(request)
        if v is None:
            return login_redirect(request)
        target = safe_target(request.query_params.get("next"))
        if v.session is None or pending_stepup(v.session) is None:
            return redirect(target)
        return await self._page(v, target)

    async def _page(
        self, v: Visitor, target: str, status: int = 200, error: str | None = None
    ) -> Response:
        assert v.auth is not None and v.session is not None
        factors = await blocking(v.auth.mfa.factors, v.session.uid)
        marker = pending_stepup(v.session) or {}
        ip = str(marker.get("ip") or v.ip)
        place = geo_of(v.request.scope).locate(ip)
        return v.page(
            "reverify.html",
            status,
            factors=factors,
            password_only=not (factors & STRONG_FACTORS),
            next=target,
            ip=ip,
            country=place.country,
            as_name=place.as_name,
            error=error,
        )

    async def submit(self, request: Request) -> Response:
        v = self.visitor(request)
        if v is None:
            return login_redirect(request)
        assert v.auth is not None and v.session is not None
        form = await read_form(request)
        target = safe_target(form.get("next"))
        if pending_stepup(v.session) is None:
            return redirect(target)
        auth, uid = v.auth, v.session.uid
        factors = await blocking(auth.mfa.factors, uid)
        method = form.get("method", "")
        secret = form.get("password" if method == "password" else "code", "")
        if method == "password":
            if factors & STRONG_FACTORS:
                return await self._page(v, target, 400, "Use your second factor to confirm.")
            try:
                await blocking(
                    auth.login.verify_current_password, uid, secret[:MAX_PASSWORD], v.ip, v.now
                )
            except RateLimitError as exc:
                return await self._page(v, target, 429, exc.message)
            except (VerificationError, ValidationError):
                return await self._page(v, target, 401, FAILED)
        elif method in ("totp", "recovery") and method in factors:
            check = auth.totp.verify if method == "totp" else auth.recovery.consume
            code = secret.replace(" ", "")[:MAX_CODE]
            refused = await self._factor(v, method, lambda: check(uid, code, v.now))
            if refused is not None:
                return await self._page(v, target, *refused)
        else:
            return await self._page(v, target, 400, "Choose one of the ways offered below.")
        await self._complete(v)
        return redirect(target)

    async def _factor(self, v: Visitor, kind: str, check: Any) -> tuple[int, str] | None:
        """Run a second-factor `check` under the factor throttle; (status, error) if refused."""
        assert v.auth is not None and v.session is not None
        auth, uid = v.auth, v.session.uid
        try:
            keys = await blocking(auth.login.check_factor_throttle, uid, v.ip, v.now)
        except RateLimitError as exc:
            return 429, exc.message
        try:
            await blocking(check)
        except BastionError:
            await blocking(auth.login.factor_failed, keys, uid, v.now, f"{kind} (re-verify)")
            return 401, FAILED
        await blocking(auth.login.factor_passed, keys, uid, v.now, f"{kind} (re-verify)")
        return None

    async def _complete(self, v: Visitor) -> None:
        assert v.auth is not None and v.session is not None and v.token is not None
        auth, session, token = v.auth, v.session, v.token
        geo = geo_of(v.request.scope)
        new_token, new = await blocking(
            lambda: complete_stepup(auth, v.request, session, token, geo=geo, now=v.now)
        )
        v.issue(new_token, new)

    # -- passkeys --------------------------------------------------------------------------

    async def passkey_options(self, request: Request) -> Response:
        v = self.visitor(request)
        if v is None or v.session is None or pending_stepup(v.session) is None:
            return JSONResponse({"error": "There is nothing to confirm."}, 401)
        assert v.auth is not None and v.token is not None
        auth, session, token = v.auth, v.session, v.token
        rp_id, _ = web_origin(request)
        try:
            options, challenge = await blocking(
                lambda: auth.passkeys.authentication_options(session.uid, rp_id=rp_id)
            )
        except BastionError:
            return JSONResponse({"error": "You have no passkey for this site."}, 400)
        kept = dataclasses.replace(session, data={**session.data, "webauthn": challenge})
        await blocking(auth.sessions.update, token, kept)
        return JSONResponse({"publicKey": json.loads(options)})

    async def passkey_verify(self, request: Request) -> Response:
        v = self.visitor(request)
        if v is None or v.session is None or pending_stepup(v.session) is None:
            return JSONResponse({"error": "There is nothing to confirm."}, 401)
        assert v.auth is not None and v.token is not None
        auth, session, token = v.auth, v.session, v.token
        body = (await request.body()).decode("utf-8", "replace")
        rp_id, origin = web_origin(request)
        # A challenge answers once: removed from the session before it is checked.
        challenge = str(session.data.get("webauthn") or "")
        data = {k: val for k, val in session.data.items() if k != "webauthn"}
        session = dataclasses.replace(session, data=data)
        await blocking(auth.sessions.update, token, session)
        v.session = session
        refused = await self._factor(
            v,
            "passkey",
            lambda: auth.passkeys.verify_authentication(
                session.uid, body, challenge=challenge, rp_id=rp_id, origin=origin, now=v.now
            ),
        )
        if refused is not None:
            return JSONResponse({"error": "The passkey was not accepted."}, refused[0])
        await self._complete(v)
        return JSONResponse({"redirect": safe_target(request.query_params.get("next"))})
