"""The REST operations on records, each one or two `execute_kw` calls as the key's user.

    GET    /api/v1/<model>        search_read (domain, fields, limit, offset, order)
    POST   /api/v1/<model>        create          -> 201 {"id": n}, Location
    GET    /api/v1/<model>/<id>   search_read of that id
    PATCH  /api/v1/<model>/<id>   write (PUT too) -> 204
    DELETE /api/v1/<model>/<id>   unlink          -> 204

A record the user may not read answers 404, as one that does not exist (a record rule or
another company hides it: its existence must not show). One the user may read but not change
answers 403. Archived records are reached by id like any other.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response

from bastion.core.clock import Clock
from bastion.errors import BastionError
from bastion.web.rest import params
from bastion.web.rest.caller import Caller, authenticate
from bastion.web.rest.errors import RestError, from_error, from_rest_error, problem
from bastion.web.rest.values import JsonResponse
from bastion.web.rpc.dispatch import execute_kw

#: Reaching a record by id finds it archived or not.
BY_ID = {"active_test": False}
NOT_FOUND = "Record does not exist or you may not see it."
#: Methods whose body holds a record's values.
VALUE_METHODS = frozenset({"POST", "PATCH", "PUT"})

Handler = Callable[[Request, Caller], Awaitable[Response]]


async def call(
    caller: Caller,
    model: str,
    method: str,
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
) -> Any:
    """`execute_kw` in a worker thread: it blocks on the database."""
    run = functools.partial(
        execute_kw, caller.tenant, caller.identity, model, method, list(args), dict(kwargs or {})
    )
    return await to_thread.run_sync(run)


def _known_model(caller: Caller, model: str) -> None:
    if model not in caller.tenant.registry:
        raise RestError(404, "not_found", f"There is no model named '{model}'.")


async def _visible(caller: Caller, model: str, rid: int) -> None:
    """404 unless the user may read record `rid` (missing and hidden look the same)."""
    found = await call(caller, model, "search", [[["id", "=", rid]]], {"context": BY_ID})
    if not found:
        raise RestError(404, "missing", NOT_FOUND)


async def list_records(request: Request, caller: Caller) -> Response:
    model = params.model_name(request)
    _known_model(caller, model)
    query = params.list_query(request.query_params)
    records = await call(
        caller,
        model,
        "search_read",
        kwargs={
            "domain": query.domain,
            "fields": query.fields,
            "offset": query.offset,
            "limit": query.limit,
            "order": query.order,
        },
    )
    return JsonResponse({"records": records, "offset": query.offset, "limit": query.limit})


async def get_record(request: Request, caller: Caller) -> Response:
    model = params.model_name(request)
    rid = params.record_id(request)
    _known_model(caller, model)
    fields = params.fields_param(request.query_params)
    records = await call(
        caller,
        model,
        "search_read",
        kwargs={
            "domain": [["id", "=", rid]],
            "fields": fields,
            "limit": 1,
            "context": BY_ID,
        },
    )
    if not records:
        raise RestError(404, "missing", NOT_FOUND)
    return JsonResponse(records[0])


async def create_record(request: Request, caller: Caller) -> Response:
    model = params.model_name(request)
    _known_model(caller, model)
    values = await params.values_body(request)
    rid = await call(caller, model, "create", [values])
    return JsonResponse({"id": rid}, 201, headers={"location": f"/api/v1/{model}/{rid}"})


async def update_record(request: Request, caller: Caller) -> Response:
    model = params.model_name(request)
    rid = params.record_id(request)
    _known_model(caller, model)
    values = await params.values_body(request)
    await _visible(caller, model, rid)
    await call(caller, model, "write", [[rid], values])
    return Response(status_code=204)


async def delete_record(request: Request, caller: Caller) -> Response:
    model = params.model_name(request)
    rid = params.record_id(request)
    _known_model(caller, model)
    await _visible(caller, model, rid)
    await call(caller, model, "unlink", [[rid]])
    return Response(status_code=204)


def endpoint(
    handlers: Mapping[str, Handler], clock: Clock
) -> Callable[[Request], Awaitable[Response]]:
    """One path's methods: authenticate, run the method's handler, answer every refusal in the
    REST error shape. (HEAD is answered like GET by the router.)"""

    async def run(request: Request) -> Response:
        handler = handlers.get("GET" if request.method == "HEAD" else request.method)
        if handler is None:  # the router has already refused the other methods
            return problem(405, "method_not_allowed", "This address does not accept that method.")
        try:
            caller = await authenticate(request, clock)
            return await handler(request, caller)
        except RestError as exc:
            return from_rest_error(exc)
        except BastionError as exc:
            # A ValidationError about a body's values means the values were refused (422),
            # not that the request was malformed (400).
            return from_error(exc, values=request.method in VALUE_METHODS)

    return run
