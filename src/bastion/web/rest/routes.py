"""The REST routes: `rest_routes(settings, clock)` gives the app its `/api/v1/...` routes."""

from __future__ import annotations

import functools

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bastion import __version__
from bastion.core.clock import Clock
from bastion.settings import Settings
from bastion.web.rest import handlers, openapi
from bastion.web.rest.caller import Caller
from bastion.web.rest.handlers import endpoint
from bastion.web.rest.values import JsonResponse


async def _openapi(request: Request, caller: Caller) -> Response:
    run = functools.partial(openapi.describe, caller.tenant, caller.identity)
    described = await to_thread.run_sync(run)
    return JsonResponse(openapi.document(caller.tenant, described, __version__))


def rest_routes(settings: Settings, clock: Clock) -> list[Route]:
    """`/api/v1/openapi.json`, `/api/v1/{model}` and `/api/v1/{model}/{id}`.

    Every route needs `Authorization: bearer <api key>` (the document too: it lists what the
    key can reach). `settings` is taken for symmetry with the other route factories.
    """
    del settings  # nothing to configure yet: limits come from the edge's middleware
    prefix = openapi.PREFIX
    collection = {"GET": handlers.list_records, "POST": handlers.create_record}
    record = {
        "GET": handlers.get_record,
        "PATCH": handlers.update_record,
        "PUT": handlers.update_record,
        "DELETE": handlers.delete_record,
    }
    return [
        # before /{model}: "openapi.json" is also a well-formed model name
        Route(f"{prefix}/openapi.json", endpoint({"GET": _openapi}, clock), methods=["GET"]),
        Route(f"{prefix}/{{model}}", endpoint(collection, clock), methods=list(collection)),
        Route(f"{prefix}/{{model}}/{{id}}", endpoint(record, clock), methods=list(record)),
    ]
