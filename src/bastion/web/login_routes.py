"""Sign-in pages: password, second factor (TOTP, passkey, recovery code), e-mail codes when the
risk engine asks for one, re-auth, sign-out.

The risk engine's answers, as the browser sees them:

- before the password: DENY -> 429 with Retry-After (the throttle's words); CHALLENGE -> the
  "check your e-mail" page (`login_code.html`, mode "defensive"), the same for any login; a
  code that passes brings back the login form, login filled in, for the password.
- after the password: DENY -> 403; CHALLENGE -> the MFA page (device trust ignored), or for a
  user without a second factor the e-mail code page (mode "step-up").

Every login form carries a fresh browser-signal nonce (`page_signal_nonce`).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bastion.auth.login import Attempt, SignIn
from bastion.auth.mail import MailError
from bastion.auth.signalcodec import signal_for_session, signal_from_data
from bastion.core.clock import Clock
from bastion.errors import (
    AccessError,
    BastionError,
    ChallengeRequiredError,
    RateLimitError,
    ValidationError,
    VerificationError,
)
from bastion.settings import Settings
from bastion.web.risk_signals import form_browser_signals, page_signal_nonce
from bastion.web.routing_auth import (
    ENROL_PATHS,
    Visitor,
    after_response,
    blocking,
    error_page,
    login_redirect,
    redirect,
    safe_target,
)
from bastion.web.session import secure_cookies

MAX_FIELD = 4096
INSECURE = (
    "This connection is not encrypted, so signing in is refused: use https "
    "(an administrator sets up TLS and BASTION_TRUSTED_PROXIES)."
)
CODE_ACCEPTED = "Code accepted: enter your password again."
WRONG_CODE = "That code did not work."
CODE_NOT_SENT = "The code could not be sent just now; try again in a few minutes."
#: Session data marking a pending sign-in whose step-up is an e-mail code, not the MFA page.
STEPUP, STEPUP_EMAIL = "stepup", "email"
RISK_SIGNAL = "risk_signal"
#: Session data is capped at 4 KB: a signal (2 KB at most) rides along shorter targets only.
MAX_TARGET_WITH_SIGNAL = 1024


def _field(form: Any, name: str) -> str:
    # One past the limit: the auth layer must see that an over-long password is over-long
    # (and refuse it unhashed) rather than check its first 4,096 characters.
    value = form.get(name, "")
    return value[: MAX_FIELD + 1] if isinstance(value, str) else ""


async def read_form(request: Request) -> dict[str, str]:
    """The form's text fields; uploaded files are ignored and closed (no temp files linger)."""
    async with request.form() as form:
        return {key: value for key, value in form.multi_items() if isinstance(value, str)}


def plain_http_from_afar(request: Request) -> bool:
    """Plain http from a non-loopback client: the case where Secure cookies are required."""
    return request.url.scheme != "https" and secure_cookies(request.scope)


def web_origin(request: Request) -> tuple[str, str]:
    """WebAuthn's relying-party id (the host name) and origin of this request."""
    host = request.url.hostname or ""
    return host, f"{request.url.scheme}://{request.url.netloc}"


class LoginPages:
    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.clock = clock
        self.session_seconds = settings.session_absolute_hours * 3600

    def visitor(self, request: Request) -> Visitor:
        return Visitor(request, self.clock, self.session_seconds)

    def routes(self) -> list[Route]:
        return [
            Route("/web/login", self.login_form, methods=["GET"]),
            Route("/web/login", self.login_submit, methods=["POST"]),
            Route("/web/login/mfa", self.mfa_form, methods=["GET"]),
            Route("/web/login/mfa", self.mfa_totp, methods=["POST"]),
            Route("/web/login/mfa/recovery", self.mfa_recovery, methods=["POST"]),
            Route("/web/login/mfa/passkey/options", self.passkey_options, methods=["POST"]),
            Route("/web/login/mfa/passkey", self.passkey_verify, methods=["POST"]),
            Route("/web/login/verify", self.defensive_verify, methods=["POST"]),
            Route("/web/login/code", self.code_form, methods=["GET"]),
            Route("/web/login/code", self.code_submit, methods=["POST"]),
            Route("/web/login/code/resend", self.code_resend, methods=["POST"]),
            Route("/web/reauth", self.reauth_form, methods=["GET"]),
            Route("/web/reauth", self.reauth_submit, methods=["POST"]),
            Route("/web/session/logout", self.logout_form, methods=["GET"]),
            Route("/web/session/logout", self.logout, methods=["POST"]),
            Route("/web", self.home, methods=["GET"]),
        ]

    # -- password ------------------------------------------------------------------------

    async def login_form(self, request: Request) -> Response:
        v = self.visitor(request)
        if v.auth is None:
            return _no_tenant(v)
        target = safe_target(request.query_params.get("redirect"))
        if v.signed_in:
            return redirect(target)
        error = INSECURE if plain_http_from_afar(request) else None
        return login_page(v, login="", target=target, error=error)

    async def login_submit(self, request: Request) -> Response:
        v = self.visitor(request)
        if v.auth is None:
            return _no_tenant(v)
        auth = v.auth
        form = await read_form(request)
        login, password = _field(form, "login"), _field(form, "password")
        target = safe_target(_field(form, "redirect"))
        if plain_http_from_afar(request):
            # A password over plain http crosses the network readable; and the Secure session
            # cookie would not come back anyway. Refuse before looking at the password.
            return login_page(v, 400, login=login, target=target, error=INSECURE)
        attempt = Attempt(
            login,
            password,
            v.ip,
            v.user_agent,
            v.device_id,
            browser=form_browser_signals(request, form, v.now),
            channel="web",
        )
        try:
            signin: SignIn = await blocking(auth.login.authenticate, attempt, v.now)
        except RateLimitError as exc:
            response = login_page(v, 429, login=login, target=target, error=exc.message)
            response.headers["retry-after"] = str(exc.retry_after)
            return response
        except ChallengeRequiredError:
            # The password was not looked at, and the code (if the login names someone) has
            # gone out. Same page for every login, existing or not.
            return v.page("login_code.html", mode="defensive", login=login, redirect=target)
        except VerificationError as exc:
            return login_page(v, 401, login=login, target=target, error=exc.message)
        except AccessError as exc:
            return login_page(v, 403, login=login, target=target, error=exc.message)
        if v.token:
            await blocking(auth.sessions.revoke, v.token)
        data: dict[str, object] = {"target": target, "must_enrol": signin.must_enrol}
        kept = signal_for_session(signin.risk_signal) if signin.risk_signal else None
        if kept is not None and len(target) <= MAX_TARGET_WITH_SIGNAL:
            # Server-side, with the session: learnt once the sign-in completes (a signal that
            # would not fit is not kept: that sign-in is then simply not learnt).
            data[RISK_SIGNAL] = kept
        if signin.email_code:
            data[STEPUP] = STEPUP_EMAIL
        token, session = await blocking(
            lambda: auth.sessions.create(
                signin.uid,
                v.now,
                device_id=v.device_id,
                ip=v.ip,
                user_agent=v.user_agent,
                mfa_pending=signin.mfa_pending,
                persistent=form.get("remember") is not None,
                data=data,
            )
        )
        v.issue(token, session)
        if signin.email_code:
            return await self._send_login_code(v, then=redirect("/web/login/code"))
        if signin.mfa_pending:
            return redirect("/web/login/mfa")
        await blocking(
            lambda: auth.login.completed(
                signin.uid,
                attempt,
                v.now,
                trust=False,
                signal=signin.risk_signal,
                learn=False,
                decision=signin.risk_decision,
            )
        )
        done = redirect("/web/security?m=enrol_required" if signin.must_enrol else target)
        # The risk engine learns the sign-in once the person has their answer.
        return after_response(done, auth.login.learn, signin.uid, signin.risk_signal)

    # -- e-mail codes --------------------------------------------------------------------

    async def defensive_verify(self, request: Request) -> Response:
        """The code sent before the password (defensive mode): back to the password."""
        v = self.visitor(request)
        if v.auth is None:
            return _no_tenant(v)
        auth = v.auth
        form = await read_form(request)
        login, code = _field(form, "login"), _field(form, "code")
        target = safe_target(_field(form, "redirect"))
        try:
            await blocking(
                lambda: auth.login.verify_defensive_code(login, code, v.device_id, v.ip, v.now)
            )
        except RateLimitError as exc:
            response = v.page(
                "login_code.html", 429, mode="defensive", login=login, redirect=target,
                error=exc.message,
            )  # fmt: skip
            response.headers["retry-after"] = str(exc.retry_after)
            return response
        except VerificationError:
            return v.page(
                "login_code.html", 401, mode="defensive", login=login, redirect=target,
                error=WRONG_CODE,
            )  # fmt: skip
        return login_page(v, login=login, target=target, flash=CODE_ACCEPTED)

    def _emailed(self, v: Visitor) -> bool:
        """A pending sign-in whose step-up is an e-mail code."""
        return self._pending_any(v) and _stepup(v) == STEPUP_EMAIL

    async def code_form(self, request: Request) -> Response:
        v = self.visitor(request)
        if not self._emailed(v):
            return redirect("/web/login")
        return v.page("login_code.html", mode="step-up")

    async def code_submit(self, request: Request) -> Response:
        v = self.visitor(request)
        if not self._emailed(v):
            return redirect("/web/login")
        assert v.auth is not None and v.session is not None
        form = await read_form(request)
        code = _field(form, "code")
        uid, auth = v.session.uid, v.auth
        failed = await self._second_factor(
            v, "e-mail code", lambda: auth.login.verify_login_code(uid, code, v.now), False
        )
        return failed or redirect(self._after_mfa(v))

    async def code_resend(self, request: Request) -> Response:
        v = self.visitor(request)
        if not self._emailed(v):
            return redirect("/web/login")
        return await self._send_login_code(v, then=redirect("/web/login/code"))

    async def _send_login_code(self, v: Visitor, *, then: Response) -> Response:
        assert v.auth is not None and v.session is not None
        auth, uid = v.auth, v.session.uid
        try:
            await blocking(auth.login.send_login_code, uid, v.now)
        except RateLimitError as exc:
            response = v.page("login_code.html", 429, mode="step-up", error=exc.message)
            response.headers["retry-after"] = str(exc.retry_after)
            return response
        except (MailError, AccessError, ValidationError):
            return v.page("login_code.html", 503, mode="step-up", error=CODE_NOT_SENT)
        return then

    # -- second factor -------------------------------------------------------------------

    def _pending_any(self, v: Visitor) -> bool:
        return v.auth is not None and v.session is not None and v.session.mfa_pending

    def _pending(self, v: Visitor) -> bool:
        """A pending sign-in for the MFA page (an e-mail step-up has its own page: a user who
        must answer by e-mail cannot switch to another kind of proof, nor the other way)."""
        return self._pending_any(v) and _stepup(v) != STEPUP_EMAIL

    async def mfa_form(self, request: Request) -> Response:
        v = self.visitor(request)
        if self._emailed(v):
            return redirect("/web/login/code")
        if not self._pending(v):
            return redirect("/web/login")
        assert v.auth is not None and v.session is not None
        factors = await blocking(v.auth.mfa.factors, v.session.uid)
        return v.page("mfa.html", factors=factors)

    async def _second_factor(
        self, v: Visitor, kind: str, check: Callable[[], None], trust: bool
    ) -> Response | None:
        """Run `check`; on success complete the sign-in and return None, else an error page."""
        assert v.auth is not None and v.session is not None and v.token is not None
        auth, session = v.auth, v.session
        try:
            keys = await blocking(auth.login.check_factor_throttle, session.uid, v.ip, v.now)
        except RateLimitError as exc:
            response = await self._factor_page(v, 429, exc.message)
            response.headers["retry-after"] = str(exc.retry_after)
            return response
        try:
            await blocking(check)
        except (VerificationError, ValidationError, BastionError):
            await blocking(auth.login.factor_failed, keys, session.uid, v.now, kind)
            return await self._factor_page(v, 401, WRONG_CODE)
        await blocking(auth.login.factor_passed, keys, session.uid, v.now, kind)
        # The sign-in's risk signal, kept server-side with the session: learnt now that the
        # real user has proven it was them (or had nothing to prove but their usual factor).
        signal = signal_from_data(session.data.get(RISK_SIGNAL))
        data = {k: val for k, val in session.data.items() if k not in (RISK_SIGNAL, STEPUP)}
        token, new = await blocking(
            lambda: auth.sessions.rotate(
                v.token or "", v.now, mfa_pending=False, auth_time=v.now.timestamp(), data=data
            )
        )
        v.issue(token, new)
        attempt = v.attempt("", "")
        await blocking(
            lambda: auth.login.completed(session.uid, attempt, v.now, trust=trust, signal=signal)
        )
        return None

    async def _factor_page(self, v: Visitor, status: int, error: str) -> Response:
        """The page a pending sign-in answers on, again, with `error`."""
        assert v.auth is not None and v.session is not None
        if _stepup(v) == STEPUP_EMAIL:
            return v.page("login_code.html", status, mode="step-up", error=error)
        factors = await blocking(v.auth.mfa.factors, v.session.uid)
        return v.page("mfa.html", status, factors=factors, error=error)

    def _after_mfa(self, v: Visitor) -> str:
        data = v.session.data if v.session else {}
        return safe_target(str(data.get("target") or "/web"))

    async def mfa_totp(self, request: Request) -> Response:
        v = self.visitor(request)
        if not self._pending(v):
            return redirect("/web/login")
        assert v.auth is not None and v.session is not None
        form = await read_form(request)
        code = _field(form, "code").replace(" ", "")
        uid, auth = v.session.uid, v.auth
        failed = await self._second_factor(
            v,
            "totp",
            lambda: auth.totp.verify(uid, code, v.now),
            form.get("trust_device") is not None,
        )
        return failed or redirect(self._after_mfa(v))

    async def mfa_recovery(self, request: Request) -> Response:
        v = self.visitor(request)
        if not self._pending(v):
            return redirect("/web/login")
        assert v.auth is not None and v.session is not None
        form = await read_form(request)
        code = _field(form, "recovery_code")
        uid, auth = v.session.uid, v.auth
        failed = await self._second_factor(
            v, "recovery code", lambda: auth.recovery.consume(uid, code, v.now), False
        )
        return failed or redirect(self._after_mfa(v))

    async def passkey_options(self, request: Request) -> Response:
        v = self.visitor(request)
        if not self._pending(v):
            return JSONResponse({"error": "Sign in with your password first."}, 401)
        assert v.auth is not None and v.session is not None and v.token is not None
        rp_id, _ = web_origin(request)
        auth, uid, token = v.auth, v.session.uid, v.token
        try:
            options, challenge = await blocking(
                lambda: auth.passkeys.authentication_options(uid, rp_id=rp_id)
            )
        except BastionError:
            return JSONResponse({"error": "You have no passkey for this site."}, 400)
        await _remember_challenge(v, token, challenge)
        return JSONResponse({"publicKey": json.loads(options)})

    async def passkey_verify(self, request: Request) -> Response:
        v = self.visitor(request)
        if not self._pending(v):
            return JSONResponse({"error": "Sign in with your password first."}, 401)
        assert v.auth is not None and v.session is not None
        body = (await request.body()).decode("utf-8", "replace")
        rp_id, origin = web_origin(request)
        challenge = await _take_challenge(v)
        auth, uid = v.auth, v.session.uid
        failed = await self._second_factor(
            v,
            "passkey",
            lambda: auth.passkeys.verify_authentication(
                uid, body, challenge=challenge, rp_id=rp_id, origin=origin, now=v.now
            ),
            False,
        )
        if failed is not None:
            return JSONResponse({"error": "The passkey was not accepted."}, failed.status_code)
        return JSONResponse({"redirect": self._after_mfa(v)})

    # -- re-authentication, sign-out, home -----------------------------------------------

    async def reauth_form(self, request: Request) -> Response:
        v = self.visitor(request)
        if not v.signed_in:
            return login_redirect(request)
        target = safe_target(request.query_params.get("next"), "/web/security")
        return v.page("reauth.html", next=target)

    async def reauth_submit(self, request: Request) -> Response:
        v = self.visitor(request)
        if not v.signed_in:
            return login_redirect(request)
        assert v.auth is not None and v.session is not None
        form = await read_form(request)
        target = safe_target(_field(form, "next"), "/web/security")
        auth, uid = v.auth, v.session.uid
        try:
            await blocking(
                auth.login.verify_current_password, uid, _field(form, "password"), v.ip, v.now
            )
        except RateLimitError as exc:
            response = v.page("reauth.html", 429, next=target, error=exc.message)
            response.headers["retry-after"] = str(exc.retry_after)
            return response
        except VerificationError as exc:
            return v.page("reauth.html", 401, next=target, error=exc.message)
        token, session = await blocking(
            lambda: auth.sessions.rotate(v.token or "", v.now, auth_time=v.now.timestamp())
        )
        v.issue(token, session)
        return redirect(target)

    async def logout_form(self, request: Request) -> Response:
        v = self.visitor(request)
        if v.session is None:
            return redirect("/web/login")
        return v.page("home.html", confirm_logout=True)

    async def logout(self, request: Request) -> Response:
        v = self.visitor(request)
        if v.auth is not None and v.token:
            await blocking(v.auth.sessions.revoke, v.token)
        v.clear()
        return redirect("/web/login?m=logged_out")

    async def home(self, request: Request) -> Response:
        v = self.visitor(request)
        if not v.signed_in:
            return login_redirect(request)
        if v.session is not None and v.session.data.get("must_enrol"):
            return redirect("/web/security?m=enrol_required")
        return v.page("home.html")


def enrolment_guard(v: Visitor) -> bool:
    """True if this signed-in user must enrol first and the path is not an enrolment page."""
    if v.session is None or not v.session.data.get("must_enrol"):
        return False
    return not v.request.url.path.startswith(ENROL_PATHS)


async def _remember_challenge(v: Visitor, token: str, challenge: str) -> None:
    assert v.auth is not None and v.session is not None
    auth, session = v.auth, v.session
    data = {**session.data, "webauthn": challenge}
    new = _replace(session, data=data)
    await blocking(auth.sessions.update, token, new)


async def _take_challenge(v: Visitor) -> str:
    """The pending WebAuthn challenge, removed before use: a challenge answers once, which is
    all that stops a replayed assertion from authenticators whose counter stays at zero."""
    assert v.auth is not None and v.session is not None and v.token is not None
    auth, session, token = v.auth, v.session, v.token
    challenge = str(session.data.get("webauthn") or "")
    if challenge:
        data = {k: val for k, val in session.data.items() if k != "webauthn"}
        new = _replace(session, data=data)
        await blocking(auth.sessions.update, token, new)
        v.session = new
    return challenge


def _replace(session: Any, **changes: Any) -> Any:
    import dataclasses

    return dataclasses.replace(session, **changes)


def login_page(
    v: Visitor,
    status: int = 200,
    *,
    login: str,
    target: str,
    error: str | None = None,
    flash: str | None = None,
) -> Response:
    """The login form, always with a fresh browser-signal nonce for this device."""
    extra = {"flash": flash} if flash is not None else {}
    nonce = page_signal_nonce(v.request, v.now)
    return v.page(
        "login.html", status, login=login, redirect=target, error=error, signal_nonce=nonce,
        **extra,
    )  # fmt: skip


def _stepup(v: Visitor) -> str:
    return str(v.session.data.get(STEPUP) or "") if v.session is not None else ""


def _no_tenant(v: Visitor) -> Response:
    return error_page(
        v,
        404,
        "No database here",
        "This address serves no database, or several: open /web/login?db=NAME.",
    )


Page = Callable[[Request], Awaitable[Response]]
