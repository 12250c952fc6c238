"""`SessionMiddleware`: which tenant, which session, which device a browser request belongs to.

It puts into the scope's state, for the routes and the CSRF check below it:

    tenant          the tenant's name, or None (no tenant or several for this host)
    host_tenants    the tenants this host may reach, as listed for this request
    auth            that tenant's `TenantAuth`
    session         the live `Session`, or None;  session_token: its cookie value
    device_id       the id of the long-lived device cookie `<id>.<mac>` (see `device_cookie`):
                    a new random one, set here, when the cookie is missing or does not verify
                    (on the API paths without a session cookie: the one sent, or None; no
                    cookie is minted or set there, as programs keep none)
    signals_signer  the `Signer` of the login page's browser-signal nonces (`risk_signals`)
    csrf_expected   the session's token, or for anonymous visitors one bound to a pre-session
                    cookie: a cross-site page can neither read that cookie nor compute the token

Routes ask for cookie changes through `state["set_session"] = (token, persistent)` or
`state["clear_session"] = True`; the cookies are written here, when the response starts.
"""

from __future__ import annotations

import logging
from http.cookies import SimpleCookie
from typing import Any

from anyio import to_thread
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bastion.auth.sessions import Session
from bastion.bootstrap.app import Services
from bastion.bootstrap.auth import TenantAuth
from bastion.core.clock import Clock, SystemClock
from bastion.crypto.random import token_urlsafe
from bastion.crypto.signing import Signer
from bastion.errors import BastionError, VerificationError
from bastion.web.device_cookie import DEVICE_PURPOSE, DeviceCookies
from bastion.web.risk_api import is_api_path
from bastion.web.risk_signals import SIGNALS_PURPOSE

log = logging.getLogger(__name__)

SESSION_COOKIE = "session_id"  # Odoo's name: its client libraries send it back as is
DEVICE_COOKIE = "bastion_device"
PRE_COOKIE = "bastion_pre"
DB_COOKIE = "bastion_db"
DEVICE_MAX_AGE = 400 * 24 * 3600  # the longest lifetime browsers accept
LOOPBACK = ("127.0.0.1", "::1", "localhost")


class SessionMiddleware:
    def __init__(self, app: ASGIApp, services: Services, clock: Clock | None = None) -> None:
        self.app = app
        self.services = services
        self.clock: Clock = clock or SystemClock()
        self._signers: tuple[DeviceCookies, Signer] | None = None
        self._pre: Signer | None = None

    def _keyed(self) -> tuple[DeviceCookies, Signer]:
        """The device cookie codec and the signal-nonce signer (the keys load on first use)."""
        if self._signers is None:
            keys = self.services.keys
            devices = DeviceCookies(keys.signer(DEVICE_PURPOSE))
            self._signers = (devices, keys.signer(SIGNALS_PURPOSE))
        return self._signers

    def _pre_signer(self) -> Signer:
        """The signer of anonymous CSRF tokens (made once: its key is derived per purpose)."""
        if self._pre is None:
            self._pre = self.services.keys.signer("csrf-pre")
        return self._pre

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        cookies = _cookies(scope)
        token = cookies.get(SESSION_COOKIE)
        # No session to load and the tenant's services built: nothing that waits on a database,
        # so no trip to a worker thread (each costs a queue, two wake-ups and GIL hand-offs).
        # Otherwise one trip for all three.
        found = None if token else self._resolve_built(scope, cookies)
        if found is not None:
            tenant, auth, session = found
        else:
            tenant, auth, session = await to_thread.run_sync(self._resolve, scope, cookies, token)
        state["tenant"] = tenant
        state["auth"] = auth
        state["session"] = session
        state["session_token"] = token if session is not None else None
        clear = bool(token) and auth is not None and session is None
        devices, signals_signer = self._keyed()
        state["signals_signer"] = signals_signer
        # A cookie whose MAC does not verify is a new device, never the one it claims to be.
        device_id = devices.read(cookies.get(DEVICE_COOKIE))
        if not token and is_api_path(scope.get("path", "")):
            # A program's call carries its own credentials (password, API key) and its clients
            # keep no cookies: a device, a pre-session and a CSRF token minted for it would be
            # thrown away with the answer. None are made, nor any cookie set.
            state["device_id"] = device_id
            state["csrf_expected"] = None
            await self.app(scope, receive, send)
            return
        new_device = device_id is None
        if device_id is None:
            device_id, device_value = devices.new()
        else:
            device_value = cookies[DEVICE_COOKIE]
        state["device_id"] = device_id
        new_pre = PRE_COOKIE not in cookies or not _sane(cookies[PRE_COOKIE])
        pre = token_urlsafe(32) if new_pre else cookies[PRE_COOKIE]
        session = state["session"]
        if session is not None:
            state["csrf_expected"] = session.csrf_token
        else:
            state["csrf_expected"] = self._pre_signer().sign(pre.encode())
        secure = secure_cookies(scope)

        async def send_with_cookies(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                attrs = "; Path=/; HttpOnly; SameSite=Lax" + ("; Secure" if secure else "")
                if new_device:
                    headers.append(
                        "set-cookie",
                        f"{DEVICE_COOKIE}={device_value}; Max-Age={DEVICE_MAX_AGE}{attrs}",
                    )
                if new_pre:
                    headers.append("set-cookie", f"{PRE_COOKIE}={pre}{attrs}")
                if tenant is not None and _cookies(scope).get(DB_COOKIE) != tenant:
                    headers.append("set-cookie", f"{DB_COOKIE}={tenant}{attrs}")
                issued = state.get("set_session")
                if issued is not None:
                    new_token, max_age = issued
                    age = f"; Max-Age={max_age}" if max_age else ""
                    headers.append("set-cookie", f"{SESSION_COOKIE}={new_token}{age}{attrs}")
                elif clear or state.get("clear_session"):
                    headers.append("set-cookie", f"{SESSION_COOKIE}=; Max-Age=0{attrs}")
                if issued is not None or state.get("session") is not None:
                    # Pages of a signed-in user must not sit in shared or back-button caches.
                    headers.setdefault("cache-control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_cookies)

    def _resolve(
        self, scope: Scope, cookies: dict[str, str], token: str | None
    ) -> tuple[str | None, TenantAuth | None, Session | None]:
        """The request's tenant, its identity services, and the live session of `token`."""
        tenant = self._tenant(scope, cookies)
        if tenant is None:
            return None, None, None
        auth = self.services.auth(tenant)
        return tenant, auth, self._load(auth, token) if token else None

    def _resolve_built(
        self, scope: Scope, cookies: dict[str, str]
    ) -> tuple[str | None, TenantAuth | None, None] | None:
        """`_resolve` without a session token when that needs no database: no tenant, or one
        whose services are built; else None."""
        tenant = self._tenant(scope, cookies)
        if tenant is None:
            return None, None, None
        auth = self.services.built_auth(tenant)
        return None if auth is None else (tenant, auth, None)

    def _load(self, auth: TenantAuth, token: str) -> Session | None:
        """The live session of an active user, or None (and a disabled user's is ended)."""
        try:
            session = auth.sessions.load(token, self.clock.now())
        except VerificationError:
            return None
        if not auth.login.is_active(session.uid):
            auth.sessions.revoke(token)
            return None
        return session

    def _tenant(self, scope: Scope, cookies: dict[str, str]) -> str | None:
        host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
        try:
            names = self.services.tenants_for_host(host)
        except BastionError:
            return None
        # For the routes that check a named database against the same list (the RPC calls).
        scope["state"]["host_tenants"] = tuple(names)
        if len(names) == 1:
            return names[0]
        wanted = _query_db(scope) or cookies.get(DB_COOKIE)
        return wanted if wanted in names else None


def _cookies(scope: Scope) -> dict[str, str]:
    raw = dict(scope.get("headers") or []).get(b"cookie", b"").decode("latin-1")
    if not raw:
        return {}  # a program's call, most often
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:  # a malformed Cookie header: treat as no cookies at all
        return {}
    return {key: morsel.value for key, morsel in jar.items()}


def _query_db(scope: Scope) -> str | None:
    from urllib.parse import parse_qs

    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("db")
    return values[0] if values else None


def _sane(value: str) -> bool:
    return 20 <= len(value) <= 100 and value.replace("-", "").replace("_", "").isalnum()


def secure_cookies(scope: Scope) -> bool:
    """Secure cookies, except over plain http from a loopback peer (a developer's machine).

    The peer is the socket's, before any forwarded address: a proxy on this machine that
    terminates TLS must be in BASTION_TRUSTED_PROXIES and send X-Forwarded-Proto, so that the
    scheme here is https and the cookies Secure.
    """
    if scope.get("scheme") == "https":
        return True
    peer = scope.get("state", {}).get("peer_ip")
    if peer is None:
        client = scope.get("client")
        peer = client[0] if client else ""
    return peer not in LOOPBACK
