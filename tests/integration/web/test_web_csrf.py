"""`CsrfMiddleware`: each rejection reason with its accepted twin, exact body replay, exemptions."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bastion.web.csrf import (
    DEFAULT_EXEMPT,
    MESSAGE,
    REASON_BAD_ORIGIN,
    REASON_BAD_TOKEN,
    REASON_CROSS_SITE,
    REASON_NO_SESSION,
    REASON_NO_TOKEN,
    CsrfMiddleware,
    reject,
)

TOKEN = "k3Y_sEcReT-token-0123456789abcdefghijklmno"
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


async def _echo(request: Request) -> Response:
    body = await request.body()
    return JSONResponse({"body": body.decode("latin-1"), "length": len(body)})


async def _form(request: Request) -> Response:
    async with request.form() as form:  # closes uploaded files
        return JSONResponse({k: str(v) for k, v in form.items() if isinstance(v, str)})


INNER = Starlette(routes=[Route("/{path:path}", _echo, methods=METHODS)])
FORM_APP = Starlette(routes=[Route("/form", _form, methods=["POST"])])


def _with_session(app: Any, expected: str | None) -> Any:
    """Stands in for the lead's session middleware: it sets the token to expect."""

    async def session(scope: Any, receive: Any, send: Any) -> None:
        if expected is not None:
            scope.setdefault("state", {})["csrf_expected"] = expected
        await app(scope, receive, send)

    return session


def _send(
    method: str,
    path: str = "/change",
    *,
    content: bytes | AsyncIterator[bytes] | None = None,
    headers: Mapping[str, str] | None = None,
    expected: str | None = TOKEN,
    base_url: str = "https://bastion.test",
    inner: Any = INNER,
) -> httpx.Response:
    async def run() -> httpx.Response:
        app = _with_session(CsrfMiddleware(inner), expected)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            return await client.request(method, path, content=content, headers=headers)

    return asyncio.run(run())


def _form_post(fields: Mapping[str, str], path: str = "/change", **kwargs: Any) -> httpx.Response:
    headers = {"content-type": "application/x-www-form-urlencoded", **kwargs.pop("headers", {})}
    return _send("POST", path, content=urlencode(fields).encode(), headers=headers, **kwargs)


def _reason(response: httpx.Response) -> str:
    assert response.status_code == 403
    body = response.json()
    assert (body["error"], body["message"]) == ("csrf_failed", MESSAGE)
    return str(body["reason"])


# -- methods ---------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
def test_safe_method_needs_no_token(method: str) -> None:
    assert _send(method, expected=None).status_code == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_unsafe_method_without_token_is_refused(method: str) -> None:
    assert _reason(_send(method)) == REASON_NO_TOKEN


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_unsafe_method_with_header_token_is_accepted(method: str) -> None:
    assert _send(method, headers={"x-csrf-token": TOKEN}).status_code == 200


# -- token -----------------------------------------------------------------------------------


def test_form_token_is_accepted_and_the_form_reaches_the_app() -> None:
    fields = {"csrf_token": TOKEN, "login": "ana", "password": "p&ss=wörd+1"}
    response = _form_post(fields, "/form", inner=FORM_APP)
    assert response.status_code == 200
    assert response.json() == fields


def test_form_with_wrong_token_is_refused() -> None:
    assert _reason(_form_post({"csrf_token": TOKEN[:-1] + "x"})) == REASON_BAD_TOKEN


def test_form_without_token_is_refused() -> None:
    assert _reason(_form_post({"login": "ana"})) == REASON_NO_TOKEN


def test_form_with_empty_token_is_refused() -> None:
    assert _reason(_form_post({"csrf_token": ""})) == REASON_NO_TOKEN


def test_header_token_is_accepted_for_json() -> None:
    headers = {"x-csrf-token": TOKEN, "content-type": "application/json"}
    response = _send("POST", content=b'{"a": 1}', headers=headers)
    assert response.json() == {"body": '{"a": 1}', "length": 8}


def test_header_with_wrong_token_is_refused() -> None:
    response = _send("POST", content=b"{}", headers={"x-csrf-token": "nope"})
    assert _reason(response) == REASON_BAD_TOKEN


def test_json_body_without_header_is_refused() -> None:
    body = b'{"csrf_token": "' + TOKEN.encode() + b'"}'  # only forms carry the field
    response = _send("POST", content=body, headers={"content-type": "application/json"})
    assert _reason(response) == REASON_NO_TOKEN


def test_header_is_checked_before_the_form_field() -> None:
    headers = {"x-csrf-token": "wrong", "content-type": "application/x-www-form-urlencoded"}
    response = _send("POST", content=f"csrf_token={TOKEN}".encode(), headers=headers)
    assert _reason(response) == REASON_BAD_TOKEN


def test_token_in_the_query_string_is_not_accepted() -> None:
    # URLs end up in logs and Referer headers: a token there is no proof.
    assert _reason(_send("POST", f"/change?csrf_token={TOKEN}")) == REASON_NO_TOKEN


def test_multipart_token_is_accepted() -> None:
    files = {"upload": ("a.txt", b"file bytes", "text/plain")}
    request = httpx.Request("POST", "https://t/", data={"csrf_token": TOKEN}, files=files)
    body = request.read()
    headers = {"content-type": request.headers["content-type"]}
    response = _send("POST", content=body, headers=headers)
    assert response.status_code == 200
    assert response.json()["body"].encode("latin-1") == body


def test_multipart_form_reaches_the_app_after_the_check() -> None:
    request = httpx.Request(
        "POST", "https://t/", data={"name": "x", "csrf_token": TOKEN}, files={"f": b"data"}
    )
    headers = {"content-type": request.headers["content-type"]}
    response = _send("POST", "/form", content=request.read(), headers=headers, inner=FORM_APP)
    assert response.json() == {"name": "x", "csrf_token": TOKEN}


def test_multipart_without_token_is_refused() -> None:
    files = {"csrf_token": ("csrf_token", TOKEN.encode(), "text/plain")}  # a file is no field
    request = httpx.Request("POST", "https://t/", data={"name": "x"}, files=files)
    headers = {"content-type": request.headers["content-type"]}
    assert _reason(_send("POST", content=request.read(), headers=headers)) == REASON_NO_TOKEN


def test_malformed_multipart_is_refused() -> None:
    headers = {"content-type": "multipart/form-data; boundary=zzz"}
    response = _send("POST", content=b"--zzz\r\nno headers end", headers=headers)
    assert _reason(response) == REASON_NO_TOKEN


def test_multipart_without_boundary_is_refused() -> None:
    headers = {"content-type": "multipart/form-data"}
    response = _send("POST", content=f"csrf_token={TOKEN}".encode(), headers=headers)
    assert _reason(response) == REASON_NO_TOKEN


# -- body replay -----------------------------------------------------------------------------


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def test_body_is_replayed_exactly_when_read_in_chunks() -> None:
    parts = (b"a=1&csrf_", b"token=" + TOKEN.encode() + b"&b=", b"x" * 5000, b"&c=%FF%00")
    headers = {"content-type": "application/x-www-form-urlencoded"}
    response = _send("POST", content=_chunks(*parts), headers=headers)
    assert response.status_code == 200
    assert response.json()["body"].encode("latin-1") == b"".join(parts)


def test_body_is_replayed_exactly_when_the_token_comes_last() -> None:
    body = b"z=" + bytes(range(32, 127)).replace(b"&", b"") + b"&csrf_token=" + TOKEN.encode()
    headers = {"content-type": "application/x-www-form-urlencoded; charset=utf-8"}
    response = _send("POST", content=body, headers=headers)
    assert response.json()["body"].encode("latin-1") == body


# -- origin and fetch metadata ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "base_url"),
    [
        ("https://bastion.test", "https://bastion.test"),
        ("https://BASTION.test:443", "https://bastion.test"),
        ("http://bastion.test:8069", "http://bastion.test:8069"),
        ("http://[::1]:8069", "http://[::1]:8069"),
    ],
)
def test_same_origin_is_accepted(origin: str, base_url: str) -> None:
    headers = {"origin": origin, "x-csrf-token": TOKEN}
    assert _send("POST", headers=headers, base_url=base_url).status_code == 200


@pytest.mark.parametrize(
    ("origin", "base_url"),
    [
        ("https://evil.test", "https://bastion.test"),
        ("http://bastion.test", "https://bastion.test"),  # a downgrade is another origin
        ("https://bastion.test:8443", "https://bastion.test"),
        ("https://sub.bastion.test", "https://bastion.test"),
        ("null", "https://bastion.test"),
        ("", "https://bastion.test"),
    ],
)
def test_foreign_origin_is_refused(origin: str, base_url: str) -> None:
    headers = {"origin": origin, "x-csrf-token": TOKEN}
    assert _reason(_send("POST", headers=headers, base_url=base_url)) == REASON_BAD_ORIGIN


@pytest.mark.parametrize("site", ["same-origin", "none", "Same-Origin"])
def test_same_site_fetch_is_accepted(site: str) -> None:
    headers = {"sec-fetch-site": site, "x-csrf-token": TOKEN}
    assert _send("POST", headers=headers).status_code == 200


@pytest.mark.parametrize("site", ["cross-site", "same-site", "bogus"])
def test_cross_site_fetch_is_refused(site: str) -> None:
    headers = {"sec-fetch-site": site, "x-csrf-token": TOKEN}
    assert _reason(_send("POST", headers=headers)) == REASON_CROSS_SITE


# -- session ---------------------------------------------------------------------------------


@pytest.mark.parametrize("expected", [None, ""])
def test_request_without_an_expected_token_is_refused(expected: str | None) -> None:
    response = _send("POST", headers={"x-csrf-token": TOKEN}, expected=expected)
    assert _reason(response) == REASON_NO_SESSION


def test_request_with_an_expected_token_is_accepted() -> None:
    assert _send("POST", headers={"x-csrf-token": TOKEN}, expected=TOKEN).status_code == 200


# -- exemptions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/xmlrpc/2/object",
        "/jsonrpc",
        "/json/2/res.partner/search",
        "/api/v1/records",
        "/web/session/authenticate",
        "/web/dataset/call_kw",
        "/web/webclient/version_info",
    ],
)
def test_exempt_paths_need_no_token(path: str) -> None:
    assert _send("POST", path, content=b"{}", expected=None).status_code == 200


@pytest.mark.parametrize(
    "path", ["/jsonrpcx", "/web/session/authenticated", "/xmlrpc", "/api/v2/x", "/web/dataset"]
)
def test_paths_next_to_exempt_ones_need_a_token(path: str) -> None:
    assert _reason(_send("POST", path, content=b"{}")) == REASON_NO_TOKEN


def test_custom_exempt_prefixes_replace_the_defaults() -> None:
    middleware = CsrfMiddleware(INNER, exempt_prefixes=("/hooks/",))
    assert middleware.is_exempt("/hooks/x") and not middleware.is_exempt("/jsonrpc")
    assert CsrfMiddleware(INNER).exempt == DEFAULT_EXEMPT


@pytest.mark.parametrize("prefixes", ["/jsonrpc", ["jsonrpc"], [""]])
def test_bad_exempt_prefixes_are_refused(prefixes: Any) -> None:
    with pytest.raises(ValueError):
        CsrfMiddleware(INNER, exempt_prefixes=prefixes)


# -- the rejection ---------------------------------------------------------------------------


def test_rejection_is_a_page_for_a_browser() -> None:
    response = _form_post({"csrf_token": "wrong"}, headers={"accept": "text/html"})
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "did not come from this site" in response.text


def test_rejection_is_logged_with_its_reason_but_never_the_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sent = "WRONG-" + TOKEN
    with caplog.at_level(logging.WARNING, logger="bastion.web.csrf"):
        _form_post({"csrf_token": sent})
    assert REASON_BAD_TOKEN in caplog.text
    assert sent not in caplog.text and TOKEN not in caplog.text


def test_reject_refuses_an_unknown_reason() -> None:
    with pytest.raises(ValueError):
        reject({"type": "http", "method": "POST", "path": "/", "headers": []}, "because")


def test_non_http_scopes_pass_through() -> None:
    seen: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    asyncio.run(CsrfMiddleware(inner)({"type": "websocket", "path": "/"}, None, None))  # type: ignore[arg-type]
    assert seen == ["websocket"]
