"""`SecurityHeadersMiddleware` on its own: non-http scopes pass through, own headers win."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bastion.web.headers import SecurityHeadersMiddleware


def test_non_http_scopes_pass_through_untouched() -> None:
    seen: list[dict[str, Any]] = []
    sent: list[dict[str, Any]] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope)
        await send({"type": "lifespan.startup.complete"})

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "lifespan.startup"}

    scope = {"type": "lifespan"}
    asyncio.run(SecurityHeadersMiddleware(inner)(scope, receive, send))
    assert seen == [scope]
    assert sent == [{"type": "lifespan.startup.complete"}]


def test_a_header_set_by_the_endpoint_is_kept() -> None:
    sent: list[dict[str, Any]] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"x-frame-options", b"SAMEORIGIN")],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.request"}

    scope = {"type": "http", "scheme": "http", "method": "GET", "path": "/", "headers": []}
    asyncio.run(SecurityHeadersMiddleware(inner)(scope, receive, send))
    headers = dict(sent[0]["headers"])
    assert headers[b"x-frame-options"] == b"SAMEORIGIN"
    assert headers[b"x-content-type-options"] == b"nosniff"


@pytest.mark.parametrize("options", [{"content_security_policy": " "}, {"hsts_max_age": -1}])
def test_bad_options_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        SecurityHeadersMiddleware(lambda s, r, c: None, **options)  # type: ignore[arg-type]
