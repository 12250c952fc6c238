"""`create_app`: the ASGI application, built from `Settings` when called, never at import.

Layers, outermost first: security headers -> catch-all 500 -> trusted hosts -> trusted proxies
(client address and scheme) -> request size limit -> tenant and session -> risk guard (session
binding, API call profiling) -> CSRF -> routes.
"""

from __future__ import annotations

import contextlib
import gc
import sys
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Mount, Route

from bastion.bootstrap.app import Services
from bastion.core.clock import Clock, clock_from_environment
from bastion.errors import BastionError
from bastion.settings import Settings, load_settings
from bastion.web import pages
from bastion.web.csrf import CsrfMiddleware
from bastion.web.errors import CatchAllMiddleware, bastion_error, http_error
from bastion.web.headers import SecurityHeadersMiddleware
from bastion.web.health import health_endpoint
from bastion.web.hosts import TrustedHostMiddleware
from bastion.web.limits import BodySizeLimitMiddleware, BodyTooLarge, body_too_large
from bastion.web.login_routes import LoginPages
from bastion.web.proxies import ProxyHeadersMiddleware
from bastion.web.records.routes import records_routes
from bastion.web.rest.routes import rest_routes
from bastion.web.reverify_routes import ReverifyPages
from bastion.web.risk_guard import RiskGuardMiddleware
from bastion.web.rpc.routes import rpc_routes
from bastion.web.security_events_routes import SecurityEventsPages
from bastion.web.security_routes import SecurityPages
from bastion.web.session import SessionMiddleware
from bastion.web.templating import static_app

#: How long a thread may keep the GIL while another waits for it: 1 ms, where CPython's
#: default is 5 ms. Each database or Redis round trip of a request's worker thread gives the
#: GIL up and must win it back; behind a thread that computes (another request's middleware,
#: risk engine or page), each of those waits could last the whole interval. Under a sign-in
#: flood, real users' p99 went from 1.51 / 1.76 times its idle value to 1.16 / 1.08 and
#: 1.33 / 1.56 in the runs around it (bench/login.py, docs/benchmarks.md).
GIL_SWITCH_SECONDS = 0.001


def shorten_gil_switch(seconds: float = GIL_SWITCH_SECONDS) -> None:
    """Lower the process's GIL switch interval to `seconds` (never raise it)."""
    if sys.getswitchinterval() > seconds:
        sys.setswitchinterval(seconds)


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> Starlette:
    """The Bastion web app for the tenants of `settings.data_dir` (from the environment if None)."""
    settings = load_settings() if settings is None else settings
    # The system clock; a benchmark's file clock only when asked for twice (core.clock).
    clock = clock or clock_from_environment()
    services = Services(settings, clock)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        shorten_gil_switch()  # in each worker process, as it starts serving
        # What start-up made (modules, the app, settings: about 100,000 objects) lives as long
        # as the process: out of the collector's sight, a full collection no longer walks it
        # (54 ms each on these machines, a pause for every request in flight: bench/rpc.py).
        gc.freeze()
        try:
            yield
        finally:
            services.close()

    app = Starlette(
        # The programs' routes first: the router tries routes in order, and a program's call
        # is the most frequent request (no path of theirs overlaps a page's).
        routes=[
            *rpc_routes(settings, clock, list_db=settings.list_db),
            *rest_routes(settings, clock),
            Route("/", pages.home, methods=["GET"]),
            Route("/healthz", health_endpoint(services), methods=["GET"]),
            *LoginPages(settings, clock).routes(),
            *SecurityPages(settings, clock).routes(),
            *SecurityEventsPages(settings, clock).routes(),
            *ReverifyPages(settings, clock).routes(),
            *records_routes(settings, clock),
            Mount("/web/static", app=static_app(), name="static"),
        ],
        middleware=[
            Middleware(SecurityHeadersMiddleware),
            Middleware(CatchAllMiddleware),
            Middleware(TrustedHostMiddleware, allowed_hosts=settings.allowed_hosts),
            Middleware(ProxyHeadersMiddleware, trusted=settings.trusted_proxies),
            Middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes),
            Middleware(SessionMiddleware, services=services, clock=clock),
            Middleware(RiskGuardMiddleware, services=services, clock=clock),
            Middleware(CsrfMiddleware),
        ],
        exception_handlers={
            BodyTooLarge: body_too_large,
            HTTPException: http_error,
            BastionError: bastion_error,
        },
        lifespan=lifespan,
    )
    app.state.services = services
    return app
