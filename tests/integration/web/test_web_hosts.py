"""`TrustedHostMiddleware`: exact names, suffix patterns, IP literals; refusals and pass-through."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bastion.errors import ConfigError
from bastion.web.hosts import MESSAGE, TrustedHostMiddleware, parse_host


async def _ok(request: Request) -> Response:
    return PlainTextResponse("ok")


INNER = Starlette(routes=[Route("/", _ok)])


def _get(allowed: list[str], host: str, accept: str = "application/json") -> httpx.Response:
    async def run() -> httpx.Response:
        app = TrustedHostMiddleware(INNER, allowed)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ignored") as client:
            return await client.get("/", headers={"host": host, "accept": accept})

    return asyncio.run(run())


@pytest.mark.parametrize(
    ("allowed", "host"),
    [
        (["example.com"], "example.com"),
        (["example.com"], "EXAMPLE.com:8069"),
        (["example.com"], "example.com."),
        (["*.example.com"], "erp.example.com"),
        (["*.example.com"], "a.b.example.com:443"),
        (["*"], "anything.test"),
        (["127.0.0.1"], "127.0.0.1:8069"),
        (["::1"], "[::1]:8069"),
        (["[::1]"], "[::1]"),
        (["2001:db8::1"], "[2001:DB8:0:0::1]"),
    ],
)
def test_allowed_host_reaches_the_app(allowed: list[str], host: str) -> None:
    response = _get(allowed, host)
    assert (response.status_code, response.text) == (200, "ok")


@pytest.mark.parametrize(
    ("allowed", "host"),
    [
        (["example.com"], "evil.test"),
        (["example.com"], "example.com.evil.test"),
        (["example.com"], "sub.example.com"),
        (["*.example.com"], "example.com"),
        (["*.example.com"], "badexample.com"),
        (["127.0.0.1"], "127.0.0.2"),
        (["::1"], "[::2]:8069"),
        (["::1"], "::1"),  # an IPv6 literal needs its brackets in a Host header
        (["example.com"], "example.com:http"),
        (["example.com"], "example.com:80:80"),
        (["example.com"], "exa mple.com"),
        (["example.com"], ""),
        (["::1"], "[::1"),
        (["::1"], "[::1]x"),
        (["fe80::1"], "[fe80::1%25eth0]"),
    ],
)
def test_unknown_host_is_refused_with_400(allowed: list[str], host: str) -> None:
    response = _get(allowed, host)
    assert response.status_code == 400
    assert response.json() == {"error": "unknown_host", "message": MESSAGE}


def test_refusal_is_a_page_for_a_browser() -> None:
    response = _get(["example.com"], "evil.test", accept="text/html,*/*")
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert MESSAGE in response.text


def test_refusal_is_json_for_an_api_client() -> None:
    response = _get(["example.com"], "evil.test", accept="application/json")
    assert response.headers["content-type"] == "application/json"


def _raw(app: Any, scope: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def _recording_inner(seen: list[str]) -> Any:
    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    return inner


def test_missing_host_header_is_refused() -> None:
    seen: list[str] = []
    app = TrustedHostMiddleware(_recording_inner(seen), ["example.com"])
    sent = _raw(app, {"type": "http", "method": "GET", "path": "/", "headers": []})
    assert sent[0]["status"] == 400 and seen == []


def test_two_host_headers_are_refused() -> None:
    seen: list[str] = []
    app = TrustedHostMiddleware(_recording_inner(seen), ["example.com"])
    headers = [(b"host", b"example.com"), (b"host", b"evil.test")]
    sent = _raw(app, {"type": "http", "method": "GET", "path": "/", "headers": headers})
    assert sent[0]["status"] == 400 and seen == []


def test_lifespan_passes_through() -> None:
    seen: list[str] = []
    app = TrustedHostMiddleware(_recording_inner(seen), ["example.com"])
    assert _raw(app, {"type": "lifespan"}) == []
    assert seen == ["lifespan"]


def test_websocket_with_known_host_passes_through() -> None:
    seen: list[str] = []
    app = TrustedHostMiddleware(_recording_inner(seen), ["example.com"])
    scope = {"type": "websocket", "path": "/", "headers": [(b"host", b"example.com")]}
    assert _raw(app, scope) == []
    assert seen == ["websocket"]


def test_websocket_with_unknown_host_is_closed() -> None:
    seen: list[str] = []
    app = TrustedHostMiddleware(_recording_inner(seen), ["example.com"])
    scope = {"type": "websocket", "path": "/", "headers": [(b"host", b"evil.test")]}
    assert _raw(app, scope) == [{"type": "websocket.close", "code": 1008}]
    assert seen == []


@pytest.mark.parametrize(
    "allowed",
    [[], "example.com", [""], ["*example.com"], ["ex*ample.com"], ["*.*.example.com"], ["a b"]],
)
def test_bad_allowed_hosts_are_refused_at_startup(allowed: Any) -> None:
    with pytest.raises(ConfigError):
        TrustedHostMiddleware(INNER, allowed)


def test_good_allowed_hosts_are_accepted_at_startup() -> None:
    app = TrustedHostMiddleware(INNER, ["Example.COM", "*.example.org", "[::1]", "10.0.0.1"])
    assert app.allows("example.com") and app.allows("x.example.org") and app.allows("::1")


@pytest.mark.parametrize(
    ("header", "host"),
    [("Example.com:80", "example.com"), ("[::1]:1", "::1"), ("10.0.0.1", "10.0.0.1")],
)
def test_parse_host_normalises(header: str, host: str) -> None:
    assert parse_host(header) == host


@pytest.mark.parametrize("header", ["", ":80", "a:b:c", "[::1]:", "[nothost]", "ex_ample..com"])
def test_parse_host_refuses_malformed(header: str) -> None:
    assert parse_host(header) is None
