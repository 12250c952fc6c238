"""`GET /healthz`: whether the tenants' databases answer, for load balancers and operators.

Only counts are shown: tenant names are not listed to anonymous callers (database listing is
off by default); operators see names with `bastion tenants`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from bastion.bootstrap.app import Services


def health_endpoint(services: Services) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def healthz(request: Request) -> JSONResponse:
        names = await run_in_threadpool(services.tenant_names)
        tenants = {"ok": 0, "unreachable": 0}
        for name in names:
            # Database drivers block: ping in a worker thread, never on the event loop.
            ok = await run_in_threadpool(services.ping, name)
            tenants["ok" if ok else "unreachable"] += 1
        healthy = tenants["unreachable"] == 0
        return JSONResponse(
            {"status": "ok" if healthy else "degraded", "tenants": tenants},
            status_code=200 if healthy else 503,
            headers={"cache-control": "no-store"},
        )

    return healthz
