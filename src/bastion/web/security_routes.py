""" "My security": sessions, trusted devices, password, authenticator app, passkeys, recovery
codes and API keys of the signed-in user. Changing a credential signs out the other sessions."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bastion.auth.apikeys import KeyScope
from bastion.core.clock import Clock
from bastion.errors import BastionError, RateLimitError, ValidationError, VerificationError
from bastion.settings import Settings
from bastion.web.login_routes import _field, _take_challenge, read_form, web_origin
from bastion.web.routing_auth import Visitor, blocking, login_redirect, redirect
from bastion.web.security_answers import answer_signin, pending_signins
from bastion.web.security_events_routes import is_security_admin

MAX_PASSKEY_NAME = 80


class SecurityPages:
    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.clock = clock
        self.session_seconds = settings.session_absolute_hours * 3600

    def routes(self) -> list[Route]:
        post = ["POST"]
        return [
            Route("/web/security", self.overview, methods=["GET"]),
            Route("/web/security/sessions/revoke", self.revoke_session, methods=post),
            Route("/web/security/sessions/revoke-others", self.revoke_others, methods=post),
            Route("/web/security/devices/forget", self.forget_devices, methods=post),
            Route("/web/security/password", self.change_password, methods=post),
            Route("/web/security/totp", self.totp_form, methods=["GET"]),
            Route("/web/security/totp", self.totp_confirm, methods=post),
            Route("/web/security/totp/remove", self.totp_remove, methods=post),
            Route("/web/security/recovery/regenerate", self.recovery_regenerate, methods=post),
            Route("/web/security/passkeys/options", self.passkey_options, methods=post),
            Route("/web/security/passkeys/register", self.passkey_register, methods=post),
            Route("/web/security/passkeys/remove", self.passkey_remove, methods=post),
            Route("/web/security/apikeys/create", self.apikey_create, methods=post),
            Route("/web/security/apikeys/revoke", self.apikey_revoke, methods=post),
            Route("/web/security/signins/answer", self.answer_signin, methods=post),
        ]

    def visitor(self, request: Request) -> Visitor | None:
        v = Visitor(request, self.clock, self.session_seconds)
        return v if v.signed_in else None

    # -- the page ------------------------------------------------------------------------

    async def overview(self, request: Request) -> Response:
        v = self.visitor(request)
        if v is None:
            return login_redirect(request)
        return await self._page(v)

    async def _page(self, v: Visitor, status: int = 200, **extra: Any) -> Response:
        assert v.auth is not None and v.session is not None
        auth, uid, now = v.auth, v.session.uid, v.now

        def gather() -> dict[str, Any]:
            return {
                "sessions": auth.sessions.list_for_user(uid, now),
                "current_sid": v.session.sid if v.session else "",
                "devices": auth.devices.list_for_user(uid, now),
                "api_keys": auth.apikeys.list_for_user(uid, now),
                "totp_enrolled": auth.totp.is_enrolled(uid),
                "passkeys": auth.passkeys.list_for_user(uid),
                "recovery_remaining": auth.recovery.remaining(uid),
                "mfa_required": auth.login.mfa_required(uid),
                "api_key_max_days": auth.login.key_lifetime_days(uid),
                "new_signins": pending_signins(auth, uid, now),
                "security_admin": is_security_admin(auth, uid),
            }

        ctx = await blocking(gather)
        ctx.setdefault("recovery_codes", None)
        ctx.setdefault("new_api_key", None)
        ctx.update(extra)
        return v.page("security.html", status, **ctx)

    async def _credential_changed(self, v: Visitor, **changes: Any) -> None:
        """Credentials changed: other sessions end; this one gets a new token (DESIGN.md)."""
        assert v.auth is not None and v.session is not None and v.token is not None
        auth, session, token = v.auth, v.session, v.token
        await blocking(lambda: auth.sessions.revoke_user(session.uid, keep_sid=session.sid))
        new_token, new = await blocking(lambda: auth.sessions.rotate(token, v.now, **changes))
        v.issue(new_token, new)

    def _needs_reauth(self, v: Visitor) -> Response | None:
        if v.recently_authenticated():
            return None
        return redirect("/web/reauth?next=/web/security")

    # -- sessions and devices ------------------------------------------------------------

    async def revoke_session(self, request: Request) -> Response:
        v = self.visitor(request)
        if v is None:
            return login_redirect(request)
        assert v.auth is not None and v.session is not None
        sid = _field(await read_form(request), "sid")
        auth, uid = v.auth, v.session.uid
        # revoke_sid only matches sessions of this user: another user's sid is "not found".
        if not await blocking(auth.sessions.revoke_sid, uid, sid):
            return await self._page(v, 404, error="There is no such session of yours.")
        if sid == v.session.sid:
            v.clear()
            return redirect("/web/login?m=logged_out")
        return redirect("/web/security?m=session_revoked")

    async def revoke_others(self, request: Request) -> Response:
        v = self.visitor(request)
        if v is None:
            return login_redirect(request)
        assert v.auth is not None and v.session is not None
        auth, session = v.auth, v.session
        await blocking(lambda: auth.sessions.revoke_user(session.uid, keep_sid=session.sid))
        return redirect("/web/security?m=sessions_revoked")

    async def forget_devices(self, request: Request) -> Response:
        v = self.visitor(request)
        if v is None:
            return login_redirect(request)
        assert v.auth is not None and v.session is not None
        await blocking(v.auth.devices.forget_trust, v.session.uid, None)
        return redirect("/web/security?m=devices_forgotten")

    # -- password ------------------------------------------------------------------------

    async def change_password(self, request: Request) -> Response:
        v = self.visitor(request)
        if v is None:
            return login_redirect(request)
        assert v.auth is not None and v.session is not None
        form = await read_form(request)
        auth, uid = v.auth, v.session.uid
        try:
            await blocking(
                lambda: auth.login.change_password(
                    uid,
                    _field(form, "current_password"),
                    _field(form, "new_password"),
                    _field(form, "confirm_password"),
                    ip=v.ip,
                    now=v.now,
                )
            )
        except RateLimitError as exc:
            response = await self._page(v, 429, error=exc.message)
            response.headers["retry-after"] = str(exc.retry_after)
            return response
        except VerificationError as exc:
            return await self._page(v, 401, error=exc.message)
        except ValidationError as exc:
            return await self._page(v, 400, error=exc.message)
        await self._credential_changed(v, auth_time=v.now.timestamp())
        return redirect("/web/security?m=password_changed")

    # -- authenticator app and recovery codes --------------------------------------------

    async def totp_form(self, request: Request) -> Response:
        v = self.visitor(request)
        if v is None:
            return login_redirect(request)
        assert v.auth is not None and v.session is not None
        auth, uid = v.auth, v.session.uid
        if await blocking(auth.totp.is_enrolled, uid):
            return redirect("/web/security")
        return await self._totp_page(v)

    async def _totp_page(self, v: Visitor, status: int = 200, error: str | None = None) -> Response:
        import segno

        from bastion.crypto.totp import provisioning_uri

        assert v.auth is not None and v.session is not None
        auth, uid = v.auth, v.session.uid
        secret = await blocking(auth.totp.begin, uid, v.now)
        user = await blocking(auth.login.get_user, uid)
        uri = provisioning_uri(secret, user.login, f"Bastion ({auth.tenant.name})")
        svg = segno.make(uri, error="m").svg_inline(scale=4, title="Authenticator QR code")
        # The SVG is segno's drawing of the code (paths and our fixed title): no visitor text.
        qr = Markup(svg)  # noqa: S704
        return v.page("totp_enrol.html", status, secret=secret, qr_svg=qr, uri=uri, error=error)

    async def totp_confirm(self, request: Request) -> Response:
        v = self.visitor(request)
        if v is None:
            return login_redirect(request)
        assert v.auth is not None and v.session is not None
        auth, uid = v.auth, v.session.uid
        code = _field(await read_form(request), "code").replace(" ", "")
        try:
            keys = await blocking(auth.login.check_factor_throttle, uid, v.ip, v.now)
            await blocking(auth.totp.confirm, uid, code, v.now)
        except RateLimitError as exc:
            return await self._totp_page(v, 429, exc.message)
        except (VerificationError, ValidationError):
            await blocking(auth.login.factor_failed, keys, uid, v.now, "totp enrolment")
            return await self._totp_page(v, 400, "That code did not work; scan again and retry.")
        await blocking(auth.login.factor_passed, keys, uid, v.now, "totp enrolment")
        return await self._enrolled(v, "totp_enabled")

    async def _enrolled(self, v: Visitor, message: str, *, with_codes: bool = True) -> Response:
        """A factor was added: end other sessions, lift the enrolment gate, give codes once."""
        assert v.auth is not None and v.session is not None
        auth, uid = v.auth, v.session.uid
        data = {k: val for k, val in v.session.data.items() if k not in ("must_enrol", "webauthn")}
        await self._credential_changed(v, data=data)
        if with_codes and await blocking(auth.recovery.remaining, uid) == 0:
            codes = await blocking(auth.recovery.generate, uid, v.now)
            return await self._page(v, recovery_codes=codes, flash=_message(message))
        return redirect(f"/web/security?m={message}")

    async def totp_remove(self, request: Request) -> Response:
        v = self.visitor(request)
        if v is None:
            return login_redirect(request)
        if (gate := self._needs_reauth(v)) is not None:
            return gate
        assert v.auth is not None and v.session is not None
        await blocking(v.auth.totp.remove, v.session.uid)
        await self._credential_changed(v)
        return redirect("/web/security?m=totp_removed")

    async def recovery_regenerate(self, request: Request) -> Response:
        v = self.visitor(request)
        if v is None:
            return login_redirect(request)
        assert v.auth is not None and v.session is not None
        # Replacing codes needs a fresh password; making the first set does not.
        if await blocking(v.auth.recovery.remaining, v.session.uid) > 0 and (
            gate := self._needs_reauth(v)
        ):
            return gate
        codes = await blocking(v.auth.recovery.generate, v.session.uid, v.now)
        return await self._page(v, recovery_codes=codes)

    # -- passkeys ------------------------------------------------------------------------

    async def passkey_options(self, request: Request) -> Response:
        v = self.visitor(request)
        if v is None:
            return JSONResponse({"error": "Please sign in again."}, 401)
        assert v.auth is not None and v.session is not None and v.token is not None
        auth, session, token = v.auth, v.session, v.token
        rp_id, _ = web_origin(request)
        user = await blocking(auth.login.get_user, session.uid)
        options, challenge = await blocking(
            lambda: auth.passkeys.registration_options(
                session.uid, user.login, user.name, rp_id=rp_id, rp_name="Bastion"
            )
        )
        new = dataclasses.replace(session, data={**session.data, "webauthn": challenge})
        await blocking(auth.sessions.update, token, new)
        return JSONResponse({"publicKey": json.loads(options)})

    async def passkey_register(self, request: Request) -> Response:
        v = self.visitor(request)
        if v is None:
            return JSONResponse({"error": "Please sign in again."}, 401)
        assert v.auth is not None and v.session is not None
        auth, session = v.auth, v.session
        name = (request.query_params.get("name") or "Passkey").strip()[:MAX_PASSKEY_NAME]
        body = (await request.body()).decode("utf-8", "replace")
        rp_id, origin = web_origin(request)
        challenge = await _take_challenge(v)
        session = v.session
        try:
            await blocking(
                lambda: auth.passkeys.finish_registration(
                    session.uid,
                    body,
                    challenge=challenge,
                    rp_id=rp_id,
                    origin=origin,
                    name=name or "Passkey",
                    now=v.now,
                )
            )
        except BastionError as exc:
            return JSONResponse({"error": exc.message}, 400)
        # Recovery codes are not made here: a JSON reply is no place to show them once. The
        # page offers them (the first set needs no re-authentication).
        await self._enrolled(v, "passkey_added", with_codes=False)
        return JSONResponse({"redirect": "/web/security?m=passkey_added"})

    async def passkey_remove(self, request: Request) -> Response:
        v = self.visitor(request)
        if v is None:
            return login_redirect(request)
        if (gate := self._needs_reauth(v)) is not None:
            return gate
        assert v.auth is not None and v.session is not None
        auth, uid = v.auth, v.session.uid
        raw = _field(await read_form(request), "passkey_id")
        if not raw.isdigit():
            return await self._page(v, 400, error="Choose a passkey to remove.")
        try:
            await blocking(auth.passkeys.remove, uid, int(raw))
        except BastionError:
            return await self._page(v, 404, error="There is no such passkey of yours.")
        await self._credential_changed(v)
        return redirect("/web/security?m=passkey_removed")

    # -- "was this you?" -----------------------------------------------------------------

    async def answer_signin(self, request: Request) -> Response:
        v = self.visitor(request)
        if v is None:
            return login_redirect(request)
        return await answer_signin(v, await read_form(request), self._page)

    # -- API keys ------------------------------------------------------------------------

    async def apikey_create(self, request: Request) -> Response:
        v = self.visitor(request)
        if v is None:
            return login_redirect(request)
        if (gate := self._needs_reauth(v)) is not None:
            return gate
        assert v.auth is not None and v.session is not None
        auth, uid = v.auth, v.session.uid
        form = await read_form(request)
        models = tuple(m.strip() for m in _field(form, "models").split(",") if m.strip())
        days_text = _field(form, "days") or "30"
        if not days_text.isdigit() or int(days_text) < 1:
            return await self._page(v, 400, error="The lifetime must be a number of days.")
        for model in models:
            if model not in auth.tenant.registry:
                return await self._page(v, 400, error=f"There is no model named '{model[:60]}'.")
        expires = v.now + dt.timedelta(days=min(int(days_text), 100_000))
        try:
            scope = KeyScope(models or None, form.get("readonly") is not None)
            max_days = await blocking(auth.login.key_lifetime_days, uid)
            key, _ = await blocking(
                lambda: auth.apikeys.create(
                    uid,
                    _field(form, "name"),
                    v.now,
                    scope=scope,
                    expires_at=expires,
                    max_days=max_days,
                )
            )
        except ValidationError as exc:
            return await self._page(v, 400, error=exc.message)
        return await self._page(v, new_api_key=key)

    async def apikey_revoke(self, request: Request) -> Response:
        v = self.visitor(request)
        if v is None:
            return login_redirect(request)
        assert v.auth is not None and v.session is not None
        auth, uid = v.auth, v.session.uid
        raw = _field(await read_form(request), "key_id")
        if not raw.isdigit():
            return await self._page(v, 400, error="Choose a key to revoke.")
        try:
            await blocking(auth.apikeys.revoke, uid, int(raw), v.now)
        except BastionError:
            return await self._page(v, 404, error="There is no such key of yours.")
        return redirect("/web/security?m=key_revoked")


def _message(code: str) -> str | None:
    from bastion.web.routing_auth import MESSAGES

    return MESSAGES.get(code)
