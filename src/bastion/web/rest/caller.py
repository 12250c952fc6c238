"""Who a REST call comes from: the tenant it is for, and the bearer API key that signs it.

Only `Authorization: bearer <key>`: never a session cookie, so a page on another site cannot
make a signed-in browser call the API (no CSRF surface), and a key's scope always applies.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from anyio import to_thread
from starlette.requests import Request

from bastion.auth.apiauth import ApiIdentity
from bastion.auth.apikeys import INVALID
from bastion.bootstrap.app import Services
from bastion.bootstrap.auth import TenantAuth
from bastion.core.clock import Clock
from bastion.core.tenant import Tenant
from bastion.web.rest.errors import RestError

DATABASE_HEADER = "x-odoo-database"
NO_KEY = "Send an API key as 'Authorization: bearer <key>'."


@dataclass(frozen=True, slots=True)
class Caller:
    tenant: Tenant
    identity: ApiIdentity


def _tenant_name(request: Request, services: Services, state: dict[str, Any]) -> str:
    wanted = request.headers.get(DATABASE_HEADER)
    if wanted is None:
        name = state.get("tenant")
        if not isinstance(name, str):
            raise RestError(
                404, "tenant", "No database answers at this address: name one in X-Odoo-Database."
            )
        return name
    # Only the databases this host may reach (BASTION_DBFILTER). A name outside them gets the
    # answer a wrong key gets, so the header cannot be used to find which databases exist.
    if wanted not in services.tenants_for_host(request.headers.get("host", "")):
        raise RestError(401, "verification", INVALID)
    return wanted


def _authenticate(
    request: Request, services: Services, state: dict[str, Any], clock: Clock
) -> Caller:
    header = request.headers.get("authorization")
    name = _tenant_name(request, services, state)
    if header is None:
        raise RestError(401, "verification", NO_KEY)
    auth: TenantAuth | None = state.get("auth") if name == state.get("tenant") else None
    if auth is None:
        auth = services.auth(name)
    ip = state.get("client_ip") or (request.client.host if request.client else "")
    identity = auth.api.bearer(header, ip=ip, now=clock.now())
    return Caller(auth.tenant, identity)


async def authenticate(request: Request, clock: Clock) -> Caller:
    """The caller, or `RestError`/`BastionError` (401, 404, 429) for the route to answer."""
    services: Services = request.app.state.services
    state: dict[str, Any] = request.scope.setdefault("state", {})
    return await to_thread.run_sync(
        functools.partial(_authenticate, request, services, state, clock)
    )
