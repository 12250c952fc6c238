"""The web client's JSON routes that Odoo client libraries use: `/web/session/authenticate`,
`get_session_info`, `destroy`, `/web/dataset/call_kw[/<model>/<method>]` and
`/web/webclient/version_info`.

A session made here is the same server-side session as `/web/login` makes (same `session_id`
cookie, same sign-in flow, throttles and audit), so only accounts without a second factor get
one: a JSON client cannot answer a TOTP prompt. These routes are authenticated by the cookie,
so they only take `Content-Type: application/json`, which a cross-site page cannot send
without a CORS preflight (that is their CSRF defence; we grant no CORS).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bastion.auth.apiauth import ApiIdentity
from bastion.bootstrap.auth import TenantAuth
from bastion.core.clock import Clock
from bastion.errors import AccessError, BastionError, ValidationError, VerificationError
from bastion.settings import Settings
from bastion.web.login_routes import INSECURE, plain_http_from_afar
from bastion.web.routing_auth import Visitor, after_response, blocking
from bastion.web.rpc.dispatch import execute_kw
from bastion.web.rpc.faults import FaultError, access_denied, session_expired
from bastion.web.rpc.jsonrpc import caller_of, error_reply, read_call, reply
from bastion.web.rpc.services import VERSION_INFO, WRONG_CREDENTIALS, tenant_for
from bastion.web.rpc.values import to_odoo
from bastion.web.session import DB_COOKIE, secure_cookies

NEEDS_SECOND_FACTOR = (
    "This account signs in with a second factor: use an API key, or sign in on the web."
)
MUST_ENROL = "Your role requires a second factor: add one on the web (My security) first."


class SessionApi:
    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.clock = clock
        self.session_seconds = settings.session_absolute_hours * 3600

    def routes(self) -> list[Route]:
        return [
            Route("/web/session/authenticate", self.authenticate, methods=["POST"]),
            Route("/web/session/get_session_info", self.get_session_info, methods=["POST"]),
            Route("/web/session/destroy", self.destroy, methods=["POST"]),
            Route("/web/dataset/call_kw", self.call_kw, methods=["POST"]),
            Route("/web/dataset/call_kw/{path:path}", self.call_kw, methods=["POST"]),
            Route("/web/webclient/version_info", self.version_info, methods=["POST"]),
        ]

    def visitor(self, request: Request) -> Visitor:
        return Visitor(request, self.clock, self.session_seconds)

    async def authenticate(self, request: Request) -> Response:
        request_id: Any = None
        try:
            request_id, params = await read_call(request)
            v = self.visitor(request)
            if plain_http_from_afar(request):
                # The Secure session cookie would never come back, and the password crossed
                # the network readable: refused before the password is looked at.
                raise FaultError(access_denied(INSECURE))
            name, auth = await self._tenant(request, params.get("db"))
            login, password = params.get("login"), params.get("password")
            if not isinstance(login, str) or not isinstance(password, str):
                raise ValidationError("The login and password must be strings.")
            # Channel "rpc": a JSON client cannot answer the risk engine's challenge, so a
            # challenge or refusal comes back as AccessError ("... use an API key").
            attempt = replace(v.attempt(login, password), channel="rpc")
            try:
                signin = await blocking(auth.login.authenticate, attempt, v.now)
            except VerificationError:
                raise FaultError(access_denied(WRONG_CREDENTIALS)) from None
            except AccessError as exc:
                raise FaultError(access_denied(exc.message)) from None
            if signin.mfa_pending or signin.must_enrol or signin.factors - {"recovery"}:
                await blocking(auth.login.store_decision, signin)  # no "signed in" follows
                raise FaultError(access_denied(NEEDS_SECOND_FACTOR))
            if v.token and v.auth is not None:
                await blocking(v.auth.sessions.revoke, v.token)  # no session fixation
            token, session = await blocking(
                lambda: auth.sessions.create(
                    signin.uid,
                    v.now,
                    device_id=v.device_id,
                    ip=v.ip,
                    user_agent=v.user_agent,
                    mfa_pending=False,
                    persistent=False,
                )
            )
            v.issue(token, session)
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
            info = await blocking(session_info, auth, signin.uid, name, _base_url(request))
        except Exception as exc:
            return error_reply(request_id, exc, request.url.path)
        response = reply(request_id, result=info)
        # The risk engine learns the sign-in once the client has its answer.
        after_response(response, auth.login.learn, signin.uid, signin.risk_signal)
        if name != request.scope["state"].get("tenant"):
            # The next requests must find this session's tenant: remember it like ?db= does.
            attrs = "; Path=/; HttpOnly; SameSite=Lax" + (
                "; Secure" if secure_cookies(request.scope) else ""
            )
            response.headers.append("set-cookie", f"{DB_COOKIE}={name}{attrs}")
        return response

    async def _tenant(self, request: Request, db: object) -> tuple[str, TenantAuth]:
        services = request.app.state.services
        caller = caller_of(request, self.clock.now())
        name: str = await blocking(tenant_for, services, caller, db)
        wanted = request.query_params.get("db")
        if wanted is not None and wanted != name:
            raise ValidationError("The database in the address and in the call differ.")
        auth: TenantAuth = await blocking(services.auth, name)
        return name, auth

    async def get_session_info(self, request: Request) -> Response:
        request_id: Any = None
        try:
            request_id, _ = await read_call(request)
            v = self.visitor(request)
            if not v.signed_in or v.auth is None or v.session is None:
                raise FaultError(session_expired())
            tenant = request.scope["state"]["tenant"]
            info = await blocking(session_info, v.auth, v.session.uid, tenant, _base_url(request))
        except Exception as exc:
            return error_reply(request_id, exc, request.url.path)
        return reply(request_id, result=info)

    async def destroy(self, request: Request) -> Response:
        request_id: Any = None
        try:
            request_id, _ = await read_call(request)
            v = self.visitor(request)
            if v.auth is not None and v.token:
                await blocking(v.auth.sessions.revoke, v.token)
            v.clear()
        except Exception as exc:
            return error_reply(request_id, exc, request.url.path)
        return reply(request_id, result=None)

    async def call_kw(self, request: Request) -> Response:
        request_id: Any = None
        try:
            request_id, params = await read_call(request)
            v = self.visitor(request)
            if not v.signed_in or v.auth is None or v.session is None:
                raise FaultError(session_expired())
            if v.session.data.get("must_enrol"):
                raise FaultError(access_denied(MUST_ENROL))
            tenant, identity = v.auth.tenant, ApiIdentity(v.session.uid, None)
            model, method = params.get("model"), params.get("method")
            args, kwargs = params.get("args"), params.get("kwargs")
            result = await blocking(
                lambda: to_odoo(execute_kw(tenant, identity, model, method, args, kwargs))  # type: ignore[arg-type]
            )
        except Exception as exc:
            return error_reply(request_id, exc, request.url.path)
        return reply(request_id, result=result)

    async def version_info(self, request: Request) -> Response:
        request_id: Any = None
        try:
            request_id, _ = await read_call(request)
        except Exception as exc:
            return error_reply(request_id, exc, request.url.path)
        return reply(request_id, result=dict(VERSION_INFO))


def session_info(auth: TenantAuth, uid: int, db: str, base_url: str) -> dict[str, Any]:
    """Odoo's session info for `uid` (what `/web/session/authenticate` returns). Blocking."""
    user = auth.login.get_user(uid)
    tenant = auth.tenant
    with tenant.transaction(readonly=True) as tx:
        me = tx.env(uid).user
        xmlids = tx.access_data().group_xmlids
    if me is None:
        raise AccessError("Unknown or disabled user.")
    identity = ApiIdentity(uid, None)
    names = _read_names(tenant, identity, "res.company", me.company_ids)
    partner = _own_partner(tenant, identity)
    is_system = xmlids.get("base.group_system") in me.group_ids
    return {
        "uid": uid,
        "is_system": is_system,
        "is_admin": is_system,
        "is_internal_user": xmlids.get("base.group_user") in me.group_ids,
        "user_context": {"lang": "en_US", "tz": "UTC", "uid": uid},
        "db": db,
        **VERSION_INFO,
        "name": user.name,
        "username": user.login,
        "partner_display_name": user.name,
        "partner_id": partner or False,
        "company_id": me.company_id or False,
        "user_companies": {
            "current_company": me.company_id or False,
            "allowed_companies": {
                str(cid): {"id": cid, "name": names.get(cid, "")} for cid in me.company_ids
            },
        },
        "web.base.url": base_url,
    }


def _read_names(
    tenant: Any, identity: ApiIdentity, model: str, ids: tuple[int, ...]
) -> dict[int, str]:
    """Names the user may read (through their own rights); others stay blank."""
    if not ids:
        return {}
    try:
        rows = execute_kw(tenant, identity, model, "read", [list(ids), ["name"]])
    except BastionError:
        return {}
    return {row["id"]: row.get("name") or "" for row in rows}


def _own_partner(tenant: Any, identity: ApiIdentity) -> int | None:
    try:
        rows = execute_kw(tenant, identity, "res.users", "read", [[identity.uid], ["partner_id"]])
    except BastionError:
        return None
    value = rows[0].get("partner_id") if rows else None
    return value[0] if isinstance(value, list | tuple) and value else None


def _base_url(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"
