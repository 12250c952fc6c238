"""`BodySizeLimitMiddleware`: declared and streamed bodies above the limit never reach the app."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bastion.web.limits import (
    MALFORMED,
    TOO_LARGE,
    BodySizeLimitMiddleware,
    BodyTooLarge,
    body_too_large,
)

LIMIT = 100


def _app(received: list[int], handler: bool = True) -> Starlette:
    async def upload(request: Request) -> Response:
        body = await request.body()
        received.append(len(body))
        return PlainTextResponse(f"got {len(body)}")

    handlers = {BodyTooLarge: body_too_large} if handler else {}
    return Starlette(routes=[Route("/", upload, methods=["POST"])], exception_handlers=handlers)


def _post(
    content: bytes | AsyncIterator[bytes], accept: str = "application/json", handler: bool = True
) -> Any:
    received: list[int] = []

    async def run() -> httpx.Response:
        app = BodySizeLimitMiddleware(_app(received, handler), LIMIT)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.post("/", content=content, headers={"accept": accept})

    return asyncio.run(run()), received


async def _chunks(*sizes: int) -> AsyncIterator[bytes]:
    for size in sizes:
        yield b"x" * size


def test_body_at_the_limit_is_accepted() -> None:
    response, received = _post(b"x" * LIMIT)
    assert (response.status_code, received) == (200, [LIMIT])


def test_declared_body_over_the_limit_is_refused_before_reading() -> None:
    response, received = _post(b"x" * (LIMIT + 1))
    assert response.status_code == 413
    assert response.json() == {"error": "body_too_large", "message": TOO_LARGE}
    assert received == []


def test_refusal_is_a_page_for_a_browser() -> None:
    response, _ = _post(b"x" * (LIMIT + 1), accept="text/html")
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("text/html")
    assert TOO_LARGE in response.text


def test_streamed_body_within_the_limit_is_accepted() -> None:
    response, received = _post(_chunks(40, 40, 20))
    assert (response.status_code, received) == (200, [LIMIT])


def test_streamed_body_over_the_limit_is_refused() -> None:
    response, received = _post(_chunks(40, 40, 40))
    assert response.status_code == 413
    assert response.json() == {"error": "body_too_large", "message": TOO_LARGE}
    assert received == []


def test_streamed_body_over_the_limit_is_413_even_without_our_handler() -> None:
    response, received = _post(_chunks(40, 40, 40), handler=False)
    assert (response.status_code, received) == (413, [])


def _raw(app: Any, headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> list[Any]:
    sent: list[Any] = []
    messages = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]

    async def receive() -> Any:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    asyncio.run(app(scope, receive, send))
    return sent


def test_app_never_receives_more_than_the_limit() -> None:
    given: list[bytes] = []

    async def greedy(scope: Any, receive: Any, send: Any) -> None:
        while True:  # a raw app that reads without handling errors
            message = await receive()
            given.append(message["body"])
            if not message["more_body"]:
                break

    sent = _raw(BodySizeLimitMiddleware(greedy, LIMIT), [], [b"a" * 60, b"b" * 60, b"c"])
    assert given == [b"a" * 60]
    assert sent[0]["status"] == 413


def test_limit_passed_after_the_response_started_just_stops() -> None:
    async def streaming(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        while (await receive())["more_body"]:
            await send({"type": "http.response.body", "body": b".", "more_body": True})

    sent = _raw(BodySizeLimitMiddleware(streaming, LIMIT), [], [b"a" * 60, b"b" * 60, b""])
    assert [m.get("status") for m in sent] == [200, None]  # no second response start


@pytest.mark.parametrize(
    "values", [[b"abc"], [b"-1"], [b" 10"], [b"1e3"], [b"10", b"10"], [b"9" * 30]]
)
def test_malformed_content_length_is_refused_with_400(values: list[bytes]) -> None:
    called: list[bool] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        called.append(True)

    headers = [(b"content-length", v) for v in values]
    sent = _raw(BodySizeLimitMiddleware(inner, LIMIT), headers, [b""])
    assert sent[0]["status"] == 400
    assert MALFORMED.encode() in sent[1]["body"]
    assert called == []


def test_well_formed_content_length_is_accepted() -> None:
    called: list[bool] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        called.append(True)

    _raw(BodySizeLimitMiddleware(inner, LIMIT), [(b"content-length", b"0100")], [b""])
    assert called == [True]


def test_non_http_scopes_pass_through() -> None:
    seen: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    asyncio.run(BodySizeLimitMiddleware(inner, 0)({"type": "lifespan"}, None, None))  # type: ignore[arg-type]
    assert seen == ["lifespan"]


@pytest.mark.parametrize("max_bytes", [-1, 1.5, "10", True])
def test_bad_limit_is_refused_at_startup(max_bytes: Any) -> None:
    with pytest.raises(ValueError):
        BodySizeLimitMiddleware(_app([]), max_bytes)
