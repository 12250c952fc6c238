"""`POST /jsonrpc`: Odoo's JSON-RPC 2.0 entry to the `common`, `object` and `db` services.

    {"jsonrpc": "2.0", "method": "call", "id": 1,
     "params": {"service": "object", "method": "execute_kw", "args": [db, uid, key, ...]}}

Replies are HTTP 200 with `result` or Odoo's `error` object, even for refused calls: Odoo's
clients read the error from the body and treat any other status as a broken connection. A
body that is not a JSON-RPC request at all (not JSON, not an object, nested too deep) gets a
4xx status with a JSON-RPC error body; JSON needs `Content-Type: application/json`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from bastion.core.clock import Clock
from bastion.errors import ValidationError
from bastion.web.limits import TOO_LARGE, BodyTooLarge
from bastion.web.rpc.credentials import VerifiedPasswords
from bastion.web.rpc.faults import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    PARSE_ERROR,
    Fault,
    FaultError,
    bad_request,
    fault_of,
    jsonrpc_error,
)
from bastion.web.rpc.lanes import LANE_THREADS, KeptReadLane
from bastion.web.rpc.services import Caller, call_service
from bastion.web.rpc.values import check_depth, to_odoo

JSON_TYPES = frozenset({"application/json", "application/json-rpc"})
NOT_JSON = "Send JSON-RPC requests with Content-Type: application/json."


def caller_of(request: Request, now: datetime) -> Caller:
    state = request.scope.get("state", {})
    ip = state.get("client_ip") or (request.client.host if request.client else "0.0.0.0")  # noqa: S104
    listed = state.get("host_tenants")
    return Caller(request.headers.get("host", ""), ip, now, listed)


def is_json(request: Request) -> bool:
    """Content-Type is JSON: a cross-site form cannot send it without a CORS preflight, which
    we never grant, so cookie-authenticated JSON routes need no CSRF token."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return kind in JSON_TYPES


async def read_call(request: Request) -> tuple[Any, dict[str, Any]]:
    """The (id, params) of a JSON-RPC request; `FaultError` with a 4xx status if malformed."""
    if not is_json(request):
        raise FaultError(bad_request(NOT_JSON, INVALID_REQUEST, 415), 415)
    body = await read_body(request, None)
    try:
        doc = orjson.loads(body)  # orjson refuses nesting past 1,024 levels: no recursion risk
    except orjson.JSONDecodeError:
        raise FaultError(bad_request("The body is not valid JSON.", PARSE_ERROR), 400) from None
    if not isinstance(doc, dict):
        raise FaultError(bad_request("A JSON-RPC request is one JSON object (no batches)."), 400)
    request_id = doc.get("id")
    if request_id is not None and not isinstance(request_id, str | int | float):
        raise FaultError(bad_request("The id must be a string or a number."), 400)
    if doc.get("jsonrpc", "2.0") != "2.0" or not isinstance(doc.get("method", "call"), str):
        raise FaultError(bad_request('Send "jsonrpc": "2.0" and "method": "call".'), 400)
    params = doc.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise FaultError(bad_request("The params must be an object.", INVALID_PARAMS), 400)
    try:
        check_depth(params)
    except ValidationError as exc:
        raise FaultError(bad_request(exc.message, INVALID_PARAMS), 400) from None
    return request_id, params


async def read_body(request: Request, limit: int | None) -> bytes:
    """The body, refused with 413 past `limit` bytes (or past the server's body limit)."""
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if limit is not None and size > limit:
                raise FaultError(bad_request(TOO_LARGE, INVALID_REQUEST, 413), 413)
            chunks.append(chunk)
    except BodyTooLarge:
        raise FaultError(bad_request(TOO_LARGE, INVALID_REQUEST, 413), 413) from None
    return b"".join(chunks)


def reply(
    request_id: Any, *, result: Any = None, fault: Fault | None = None, status: int = 200
) -> Response:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id}
    if fault is not None:
        body["error"] = jsonrpc_error(fault)
    else:
        body["result"] = result
    headers = {"cache-control": "no-store"}
    if fault is not None and fault.retry_after is not None:
        headers["retry-after"] = str(fault.retry_after)
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


def error_reply(request_id: Any, exc: BaseException, where: str) -> Response:
    fault = fault_of(exc, where=where)
    status = exc.http_status if isinstance(exc, FaultError) else 200
    return reply(request_id, fault=fault, status=status)


class JsonRpc:
    """The `/jsonrpc` endpoint; `list_db` lets `db.list` answer (off by default)."""

    def __init__(
        self,
        clock: Clock,
        *,
        list_db: bool = False,
        passwords: VerifiedPasswords | None = None,
        lane_threads: int = LANE_THREADS,
    ) -> None:
        self.clock = clock
        self.list_db = list_db
        self.passwords = passwords
        self.lane = KeptReadLane(passwords, lane_threads)

    async def endpoint(self, request: Request) -> Response:
        request_id: Any = None
        try:
            request_id, params = await read_call(request)
            service, method = params.get("service"), params.get("method")
            args = params.get("args", [])
            if not isinstance(args, list):
                raise FaultError(bad_request("The args must be a list.", INVALID_PARAMS))
            caller = caller_of(request, self.clock.now())
            services = request.app.state.services
            lane = self.lane.takes(service, method, args, ip=caller.ip, now=caller.now)
            result = await self.lane.run(
                lambda: to_odoo(
                    call_service(
                        services,
                        caller,
                        service,
                        method,
                        args,
                        list_db=self.list_db,
                        passwords=self.passwords,
                    )
                ),
                lane=lane,
            )
        except Exception as exc:
            return error_reply(request_id, exc, "/jsonrpc")
        return reply(request_id, result=result)
