"""`SecurityHeadersMiddleware` on its own: non-http scopes pass through, own headers win."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bastion.web.headers import CONTENT_SECURITY_POLICY, SecurityHeadersMiddleware


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


def _run_http(app: Any, scheme: str = "http") -> tuple[dict[bytes, bytes], dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.request"}

    scope: dict[str, Any] = {
        "type": "http",
        "scheme": scheme,
        "method": "GET",
        "path": "/",
        "headers": [],
    }
    asyncio.run(SecurityHeadersMiddleware(app)(scope, receive, send))
    return dict(sent[0]["headers"]), scope


async def _empty(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def _page(scope: Any, receive: Any, send: Any) -> None:
    """A page that puts the nonce on a script tag (turns it into text), as templates do."""
    scope["state"]["page"] = f'<script nonce="{scope["state"]["csp_nonce"]}">'
    await _empty(scope, receive, send)


def test_nonce_is_in_state_before_the_app_runs_and_in_the_csp() -> None:
    seen: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(str(scope["state"]["csp_nonce"]))
        await _empty(scope, receive, send)

    headers, _ = _run_http(inner)
    (nonce,) = seen
    assert len(nonce) >= 22  # 16 random bytes
    assert headers[b"content-security-policy"].decode() == CONTENT_SECURITY_POLICY.replace(
        "{nonce}", nonce
    )
    assert f"script-src 'self' 'nonce-{nonce}'" in headers[b"content-security-policy"].decode()


def test_each_request_gets_a_new_nonce() -> None:
    first, _ = _run_http(_page)
    second, _ = _run_http(_page)
    assert b"'nonce-" in first[b"content-security-policy"]
    assert first[b"content-security-policy"] != second[b"content-security-policy"]


def test_a_response_that_never_used_the_nonce_allows_no_inline_script() -> None:
    headers, scope = _run_http(_empty)
    csp = headers[b"content-security-policy"].decode()
    assert "nonce" not in csp
    assert "script-src 'self';" in csp
    assert not scope["state"]["csp_nonce"].used
    # The twin: the same response with the nonce put on a page names exactly that nonce.
    headers, scope = _run_http(_page)
    nonce = str(scope["state"]["csp_nonce"])
    assert f"script-src 'self' 'nonce-{nonce}';" in headers[b"content-security-policy"].decode()
    assert nonce in scope["state"]["page"]


def test_a_nonce_is_not_shown_by_repr() -> None:
    _, scope = _run_http(_page)
    nonce = scope["state"]["csp_nonce"]
    assert str(nonce) not in repr(nonce) and repr(nonce) == "CspNonce(used)"


def test_csp_forbids_framing_inline_style_and_foreign_targets() -> None:
    csp = _run_http(_empty)[0][b"content-security-policy"].decode()
    for directive in (
        "default-src 'none'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ):
        assert directive in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp


def test_a_csp_set_by_the_endpoint_is_kept() -> None:
    async def inner(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-security-policy", b"default-src 'none'")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    assert _run_http(inner)[0][b"content-security-policy"] == b"default-src 'none'"


def test_hsts_only_over_https() -> None:
    assert b"strict-transport-security" in _run_http(_empty, "https")[0]
    assert b"strict-transport-security" not in _run_http(_empty, "http")[0]


def test_hsts_follows_a_scheme_set_by_inner_middleware() -> None:
    async def behind_proxy(scope: Any, receive: Any, send: Any) -> None:
        scope["scheme"] = "https"  # what ProxyHeadersMiddleware does for a trusted proxy
        await _empty(scope, receive, send)

    assert b"strict-transport-security" in _run_http(behind_proxy, "http")[0]
