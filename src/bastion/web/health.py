"""`GET /healthz`: whether each tenant's database answers, for load balancers and operators."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from bastion.bootstrap.app import Services


def health_endpoint(services: Services) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def healthz(request: Request) -> JSONResponse:
        names = await run_in_threadpool(services.tenant_names)
        tenants: dict[str, str] = {}
        for name in names:
            # Database drivers block: ping in a worker thread, never on the event loop.
            ok = await run_in_threadpool(services.ping, name)
            tenants[name] = "ok" if ok else "unreachable"
        healthy = all(state == "ok" for state in tenants.values())
        return JSONResponse(
            {"status": "ok" if healthy else "degraded", "tenants": tenants},
            status_code=200 if healthy else 503,
            headers={"cache-control": "no-store"},
        )

    return healthz
