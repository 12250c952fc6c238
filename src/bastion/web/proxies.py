"""`ProxyHeadersMiddleware`: the client's address (and scheme) as seen through trusted proxies.

X-Forwarded-For is believed only when the socket peer is a trusted proxy, and read from the
right: each trusted hop appends the address it saw, so the first untrusted address from the
right is the client, and everything left of it may be forged by that client (answers spoofing
of the address that throttles and audit records key on).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from bastion.errors import ConfigError

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@functools.lru_cache(maxsize=1024)
def parse_address(text: str) -> IPAddress | None:
    """An address from a peer or an X-Forwarded-For entry (`1.2.3.4`, `1.2.3.4:5`, `::1`,
    `[::1]:5`); IPv4-mapped IPv6 becomes IPv4, so `::ffff:10.0.0.1` matches `10.0.0.0/8`.
    The latest answers are kept: every request asks about its peer, usually one of a few."""
    text = text.strip()
    port = ""
    if text.startswith("["):
        text, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            return None
        port = rest[1:] if rest else ""
    elif text.count(":") == 1:
        text, _, port = text.partition(":")
    if port and not (port.isascii() and port.isdigit()):
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None  # "unknown", obfuscated identifiers, garbage
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_trusted(address: IPAddress, trusted: Iterable[IPNetwork]) -> bool:
    return any(address.version == net.version and address in net for net in trusted)


def client_ip(peer: str | None, forwarded_for: list[str], trusted: Sequence[IPNetwork]) -> str:
    """The client's address. `forwarded_for` holds the X-Forwarded-For header values in order.

    - An untrusted (or unparsable) peer is the client: its X-Forwarded-For is ignored.
    - Otherwise the entries are walked from the right, skipping trusted hops; the first untrusted
      one is the client. If every entry is trusted, the leftmost is.
    - An invalid entry stops the walk: the last valid address reached (a trusted hop, or the
      peer) is the client, as nothing left of the invalid entry can be believed.
    - No peer at all (a Unix socket without proxy headers) gives "".
    """
    if peer is None:
        return ""
    current = parse_address(peer)
    if current is None or not _is_trusted(current, trusted):
        return str(current) if current is not None else peer
    entries = [item for value in forwarded_for for item in value.split(",")]
    for entry in reversed(entries):
        address = parse_address(entry)
        if address is None:
            break
        current = address
        if not _is_trusted(address, trusted):
            break
    return str(current)


def _networks(items: Sequence[IPNetwork | str]) -> tuple[IPNetwork, ...]:
    if isinstance(items, str):
        raise ConfigError("trusted proxies must be a list of addresses or networks.")
    networks: list[IPNetwork] = []
    for item in items:
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except (TypeError, ValueError):
            raise ConfigError(f"The trusted proxy '{str(item)[:60]}' is not an address.") from None
    return tuple(networks)


class ProxyHeadersMiddleware:
    """Sets `scope["client"]`, `scope["state"]["client_ip"]` and, from a trusted proxy, the
    scheme from X-Forwarded-Proto. The scope is changed in place on purpose: the security
    headers outside read the scheme back for HSTS."""

    def __init__(self, app: ASGIApp, trusted: Sequence[IPNetwork | str] = ()) -> None:
        self.app = app
        self.trusted = _networks(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        peer = parse_address(str(client[0])) if client else None
        forwarded: list[str] = []
        protos: list[str] = []
        for key, value in scope.get("headers") or ():
            if key == b"x-forwarded-for":
                forwarded.append(value.decode("latin-1"))
            elif key == b"x-forwarded-proto":
                protos.extend(value.decode("latin-1").split(","))
        ip = client_ip(str(client[0]) if client else None, forwarded, self.trusted)
        if client:
            # The client's port is not forwarded: 0 says unknown.
            scope["client"] = (ip, client[1] if ip == str(peer) else 0)
        state = scope.setdefault("state", {})
        state["client_ip"] = ip
        state["peer_ip"] = str(peer) if peer is not None else ""
        if peer is not None and _is_trusted(peer, self.trusted) and protos:
            # The rightmost value was set by the proxy next to us; only two values mean anything.
            proto = protos[-1].strip().lower()
            if proto in ("http", "https"):
                secure = proto == "https"
                if scope["type"] == "websocket":
                    scope["scheme"] = "wss" if secure else "ws"
                else:
                    scope["scheme"] = proto
        await self.app(scope, receive, send)
