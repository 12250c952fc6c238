"""`create_app`: the ASGI application, built from `Settings` when called, never at import.

Layers, outermost first: security headers -> catch-all 500 -> Starlette's routing, whose
`HTTPException`s (404, 405) become JSON or HTML errors.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Route

from bastion.bootstrap.app import Services
from bastion.settings import Settings, load_settings
from bastion.web import pages
from bastion.web.errors import CatchAllMiddleware, http_error
from bastion.web.headers import SecurityHeadersMiddleware
from bastion.web.health import health_endpoint


def create_app(settings: Settings | None = None) -> Starlette:
    """The Bastion web app for the tenants of `settings.data_dir` (from the environment if None)."""
    settings = load_settings() if settings is None else settings
    services = Services(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            services.close()

    return Starlette(
        routes=[
            Route("/", pages.home, methods=["GET"]),
            Route("/web/login", pages.login, methods=["GET"]),
            Route("/healthz", health_endpoint(services), methods=["GET"]),
        ],
        middleware=[
            Middleware(SecurityHeadersMiddleware),
            Middleware(CatchAllMiddleware),
        ],
        exception_handlers={HTTPException: http_error},
        lifespan=lifespan,
    )
