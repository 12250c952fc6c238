"""`client_ip` and `ProxyHeadersMiddleware`: X-Forwarded-For believed only from trusted proxies."""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bastion.errors import ConfigError
from bastion.web.proxies import ProxyHeadersMiddleware, client_ip, parse_address

TRUSTED = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "192.168.1.1", "2001:db8:ffff::/48")
)


@pytest.mark.parametrize(
    ("peer", "xff", "expected"),
    [
        # An untrusted peer is the client; whatever it claims is ignored (spoofing).
        ("203.0.113.9", ["1.2.3.4"], "203.0.113.9"),
        ("203.0.113.9", ["10.0.0.1"], "203.0.113.9"),
        ("203.0.113.9", [], "203.0.113.9"),
        ("2001:db8::9", ["1.2.3.4"], "2001:db8::9"),
        # A trusted peer without the header: the peer.
        ("10.0.0.1", [], "10.0.0.1"),
        # One trusted proxy: the entry it appended.
        ("10.0.0.1", ["198.51.100.7"], "198.51.100.7"),
        # A client-forged entry left of the real one is never picked.
        ("10.0.0.1", ["1.1.1.1, 198.51.100.7"], "198.51.100.7"),
        ("10.0.0.1", ["1.1.1.1", "198.51.100.7"], "198.51.100.7"),
        # Several trusted hops are skipped from the right.
        ("10.0.0.1", ["198.51.100.7, 192.168.1.1, 10.0.0.2"], "198.51.100.7"),
        # A forged "trusted" entry left of the client does not hide it.
        ("10.0.0.1", ["10.9.9.9, 198.51.100.7, 10.0.0.2"], "198.51.100.7"),
        # Every hop trusted: the leftmost.
        ("10.0.0.1", ["10.0.0.3, 10.0.0.2"], "10.0.0.3"),
        # An invalid entry stops the walk at the last valid address reached.
        ("10.0.0.1", ["198.51.100.7, unknown, 10.0.0.2"], "10.0.0.2"),
        ("10.0.0.1", ["garbage"], "10.0.0.1"),
        ("10.0.0.1", [""], "10.0.0.1"),
        # IPv6, with and without brackets and ports; mixed families.
        ("2001:db8:ffff::1", ["2001:db8:1::5"], "2001:db8:1::5"),
        ("2001:db8:ffff::1", ["[2001:db8:1::5]:4711"], "2001:db8:1::5"),
        ("10.0.0.1", ["2001:db8:1::5, 2001:db8:ffff::2"], "2001:db8:1::5"),
        ("2001:db8:ffff::1", ["198.51.100.7:4711"], "198.51.100.7"),
        # IPv4-mapped addresses count as IPv4 for trust and are reported as IPv4.
        ("::ffff:10.0.0.1", ["198.51.100.7"], "198.51.100.7"),
        ("::ffff:203.0.113.9", ["198.51.100.7"], "203.0.113.9"),
        # No peer (a Unix socket): unknown, and the header is not believed.
        (None, ["198.51.100.7"], ""),
    ],
)
def test_client_ip(peer: str | None, xff: list[str], expected: str) -> None:
    assert client_ip(peer, xff, TRUSTED) == expected


def test_client_ip_without_trusted_proxies_is_the_peer() -> None:
    assert client_ip("10.0.0.1", ["198.51.100.7"], ()) == "10.0.0.1"


@pytest.mark.parametrize("text", ["unknown", "_hidden", "1.2.3", "[::1", "1.2.3.4:5:6"])
def test_parse_address_refuses_non_addresses(text: str) -> None:
    assert parse_address(text) is None


async def _echo(request: Request) -> Response:
    return JSONResponse(
        {
            "client": list(request.client) if request.client else None,
            "state_ip": request.scope["state"]["client_ip"],
            "scheme": request.url.scheme,
        }
    )


INNER = Starlette(routes=[Route("/", _echo)])


def _get(peer: str, headers: list[tuple[str, str]], base_url: str = "http://t") -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        app = ProxyHeadersMiddleware(INNER, ["10.0.0.0/8", "2001:db8:ffff::/48"])
        transport = httpx.ASGITransport(app=app, client=(peer, 4242))
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            response = await client.get("/", headers=headers)
            result: dict[str, Any] = response.json()
            return result

    return asyncio.run(run())


def test_trusted_proxy_sets_client_and_state() -> None:
    seen = _get("10.0.0.1", [("x-forwarded-for", "198.51.100.7")])
    assert seen["client"] == ["198.51.100.7", 0]
    assert seen["state_ip"] == "198.51.100.7"


def test_untrusted_peer_keeps_its_address_and_port() -> None:
    seen = _get("203.0.113.9", [("x-forwarded-for", "198.51.100.7")])
    assert seen["client"] == ["203.0.113.9", 4242]
    assert seen["state_ip"] == "203.0.113.9"


def test_trusted_proxy_sets_https_from_forwarded_proto() -> None:
    seen = _get("10.0.0.1", [("x-forwarded-proto", "https")])
    assert seen["scheme"] == "https"
    assert seen["client"] == ["10.0.0.1", 4242]


def test_untrusted_peer_cannot_set_the_scheme() -> None:
    assert _get("203.0.113.9", [("x-forwarded-proto", "https")])["scheme"] == "http"


def test_forwarded_proto_reads_the_rightmost_value() -> None:
    headers = [("x-forwarded-proto", "https"), ("x-forwarded-proto", "http")]
    assert _get("10.0.0.1", headers)["scheme"] == "http"
    assert _get("10.0.0.1", [("x-forwarded-proto", "http, HTTPS")])["scheme"] == "https"


@pytest.mark.parametrize("proto", ["ftp", "javascript", "", "wss"])
def test_forwarded_proto_other_values_are_ignored(proto: str) -> None:
    assert _get("10.0.0.1", [("x-forwarded-proto", proto)], "https://t")["scheme"] == "https"


def test_ipv6_proxy_is_trusted_by_network() -> None:
    seen = _get("2001:db8:ffff::1", [("x-forwarded-for", "2001:db8:1::5")])
    assert seen["state_ip"] == "2001:db8:1::5"


def test_ipv6_peer_outside_trusted_network_is_not_believed() -> None:
    seen = _get("2001:db8:fffe::1", [("x-forwarded-for", "2001:db8:1::5")])
    assert seen["state_ip"] == "2001:db8:fffe::1"


def test_lifespan_passes_through() -> None:
    seen: list[dict[str, Any]] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(dict(scope))

    async def receive() -> Any:
        return {"type": "lifespan.startup"}

    async def send(message: Any) -> None:
        raise AssertionError("nothing to send")

    asyncio.run(ProxyHeadersMiddleware(inner, ["10.0.0.1"])({"type": "lifespan"}, receive, send))
    assert seen == [{"type": "lifespan"}]


def test_websocket_from_trusted_proxy_gets_wss() -> None:
    seen: list[dict[str, Any]] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope)

    scope = {
        "type": "websocket",
        "scheme": "ws",
        "client": ("10.0.0.1", 1),
        "headers": [(b"x-forwarded-proto", b"https"), (b"x-forwarded-for", b"198.51.100.7")],
    }
    asyncio.run(ProxyHeadersMiddleware(inner, ["10.0.0.1"])(scope, None, None))  # type: ignore[arg-type]
    assert seen[0]["scheme"] == "wss"
    assert seen[0]["state"]["client_ip"] == "198.51.100.7"


@pytest.mark.parametrize("trusted", ["10.0.0.1", ["not-an-ip"], ["10.0.0.0/33"], [None]])
def test_bad_trusted_proxies_are_refused_at_startup(trusted: Any) -> None:
    with pytest.raises(ConfigError):
        ProxyHeadersMiddleware(INNER, trusted)


def test_trusted_proxies_accept_networks_and_strings() -> None:
    app = ProxyHeadersMiddleware(INNER, [ipaddress.ip_network("10.0.0.0/8"), "::1"])
    assert [str(n) for n in app.trusted] == ["10.0.0.0/8", "::1/128"]
