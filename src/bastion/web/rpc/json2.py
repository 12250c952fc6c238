"""`POST /json/2/<model>/<method>`: Odoo 19's JSON API, with `Authorization: bearer <api key>`.

The body is a JSON object of named arguments: `ids` for methods on records (read, write,
unlink), the method's own parameters otherwise (`{"domain": [...], "fields": [...]}` for
search_read, `{"vals_list": [...]}` for create), and an optional `context`. The database is the
host's, or the one named by `X-Odoo-Database` (among those the host may reach). The result is
the body of a 200; a refusal is an HTTP status with Odoo's error body
`{"name", "message", "arguments", "context", "debug": ""}`.
"""

from __future__ import annotations

import inspect
from typing import Any

import orjson
from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bastion.auth.apiauth import ApiIdentity
from bastion.core.clock import Clock
from bastion.core.tenant import Tenant
from bastion.errors import ValidationError, VerificationError
from bastion.web.rpc.dispatch import execute_kw
from bastion.web.rpc.faults import (
    Fault,
    FaultError,
    bad_request,
    fault_of,
    json2_body,
    not_found,
)
from bastion.web.rpc.jsonrpc import NOT_JSON, caller_of, is_json, read_body
from bastion.web.rpc.services import NO_DATABASE, Caller, tenant_for
from bastion.web.rpc.values import check_depth, to_odoo

HINT = "Did you mean POST /json/2/<model>/<method>?"
NAME_THE_DATABASE = "Name the database with the X-Odoo-Database header."
_ANY_METHOD = ["GET", "POST", "PUT", "DELETE", "PATCH"]


def unprocessable(message: str) -> Fault:
    return Fault("werkzeug.exceptions.UnprocessableEntity", message, 1, message, 422)


def unauthorized(message: str) -> Fault:
    return Fault("werkzeug.exceptions.Unauthorized", message, 3, "AccessDenied", 401)


class Json2:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def routes(self) -> list[Route]:
        return [
            Route("/json/2/{model}/{method}", self.call, methods=["POST"]),
            Route("/json/2", self.hint, methods=_ANY_METHOD),
            Route("/json/2/{rest:path}", self.hint, methods=_ANY_METHOD),
        ]

    async def hint(self, request: Request) -> Response:
        return _error(not_found(HINT))

    async def call(self, request: Request) -> Response:
        model, method = request.path_params["model"], request.path_params["method"]
        try:
            params = await _named_arguments(request)
            caller = caller_of(request, self.clock.now())
            services = request.app.state.services
            wanted = request.headers.get("x-odoo-database")
            state_tenant = request.scope.get("state", {}).get("tenant")
            authorization = request.headers.get("authorization")

            def run() -> bytes:
                name = _tenant_name(services, caller, wanted, state_tenant)
                auth = services.auth(name)
                identity = auth.api.bearer(authorization, ip=caller.ip, now=caller.now)
                result = call(auth.tenant, identity, model, method, params)
                return orjson.dumps(to_odoo(result))

            payload = await to_thread.run_sync(run)
        except Exception as exc:
            if isinstance(exc, VerificationError):
                return _error(unauthorized(exc.message), {"www-authenticate": "Bearer"})
            return _error(fault_of(exc, where="/json/2"))
        headers = {"cache-control": "no-store"}
        return Response(payload, 200, headers, media_type="application/json")


def call(
    tenant: Tenant, identity: ApiIdentity, model: str, method: str, params: dict[str, Any]
) -> Any:
    """Map `/json/2` named arguments onto the method's signature and run it. Blocking."""
    if model not in tenant.registry:
        raise FaultError(not_found(f"The model '{model[:60]}' does not exist."))
    cls = tenant.registry[model]
    params = dict(params)
    ids = params.pop("ids", None)
    takes_ids = False
    # Only an allow-listed method's signature is looked at; `execute_kw` refuses the rest.
    if method in cls.rpc_methods():
        names = list(inspect.signature(getattr(cls, method)).parameters)[1:]
        takes_ids = bool(names) and names[0] == "ids"
    if takes_ids:
        args: list[Any] = [[] if ids is None else ids]
    elif ids:
        raise FaultError(unprocessable(f"{model}.{method} is not called on records: send no ids."))
    else:
        args = []
    return execute_kw(tenant, identity, model, method, args, params)


def _tenant_name(services: Any, caller: Caller, wanted: str | None, state_tenant: Any) -> str:
    if wanted is not None:
        try:
            return tenant_for(services, caller, wanted)
        except (FaultError, ValidationError):
            raise FaultError(not_found(NO_DATABASE)) from None
    if not isinstance(state_tenant, str):
        raise FaultError(not_found(NAME_THE_DATABASE))
    return state_tenant


async def _named_arguments(request: Request) -> dict[str, Any]:
    body = await read_body(request, None)
    if not body.strip():
        return {}
    if not is_json(request):
        raise FaultError(bad_request(NOT_JSON, status=415), 415)
    try:
        params = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise FaultError(bad_request("The body is not valid JSON.")) from None
    if not isinstance(params, dict):
        raise FaultError(bad_request("The body must be a JSON object of named arguments."))
    try:
        check_depth(params)
    except ValidationError as exc:
        raise FaultError(bad_request(exc.message)) from None
    return params


def _error(fault: Fault, headers: dict[str, str] | None = None) -> Response:
    extra = {"cache-control": "no-store", **(headers or {})}
    if fault.retry_after is not None:
        extra["retry-after"] = str(fault.retry_after)
    body = orjson.dumps(json2_body(fault))
    return Response(body, fault.status, extra, media_type="application/json")
