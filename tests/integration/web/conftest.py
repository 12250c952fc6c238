"""Call the ASGI app in-process (httpx over ASGI, lifespan included), or a real `bastion serve`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import httpx
import pytest
from starlette.applications import Starlette

Get = Callable[..., httpx.Response]


async def _request(
    app: Starlette, method: str, path: str, headers: Mapping[str, str], base_url: str
) -> httpx.Response:
    async with app.router.lifespan_context(app):  # opens and, after, disposes the tenants
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            response = await client.request(method, path, headers=dict(headers))
            await response.aread()
            return response


@pytest.fixture
def call() -> Get:
    """`call(app, "GET", "/healthz", headers={...}, base_url="https://localhost")`."""

    def run(
        app: Starlette,
        method: str,
        path: str,
        headers: Mapping[str, str] | None = None,
        base_url: str = "http://localhost",
    ) -> httpx.Response:
        return asyncio.run(_request(app, method, path, headers or {}, base_url))

    return run
