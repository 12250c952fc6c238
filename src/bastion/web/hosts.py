"""`TrustedHostMiddleware`: answer only to the host names this server is configured for.

Refusing unknown Host headers answers DNS rebinding (a foreign page reaching a server on a laptop
or a private network) and host-header poisoning of absolute links and password-reset mails.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from bastion.errors import ConfigError
from bastion.web.templating import refusal

MESSAGE = "This server does not answer to that host name."
_NAME = re.compile(r"^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$")
_PORT = re.compile(r"^[0-9]{1,5}$")
_WEBSOCKET_POLICY_VIOLATION = 1008


def _name_or_address(text: str) -> str | None:
    """`text` lowercased as a DNS name, or an IP address in canonical form; None if neither."""
    text = text.lower().removesuffix(".")
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text if _NAME.match(text) and len(text) <= 253 else None


@functools.lru_cache(maxsize=1024)
def parse_host(header: str) -> str | None:
    """The host of a Host header (`name`, `name:port`, `1.2.3.4:80`, `[::1]:8069`), or None.
    The latest answers are kept: every request asks, and a server has few names."""
    if header.startswith("["):
        inside, bracket, rest = header[1:].partition("]")
        if not bracket or (rest and not (rest[0] == ":" and _PORT.match(rest[1:]))):
            return None
        try:
            return str(ipaddress.IPv6Address(inside))
        except ValueError:
            return None  # also refuses zone ids ("fe80::1%eth0"): no meaning to a server
    name, colon, port = header.partition(":")
    if colon and not _PORT.match(port):
        return None  # several colons without brackets, or a port that is not a number
    return _name_or_address(name)


def _pattern(raw: str) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigError("An allowed host must be a non-empty name.")
    text = raw.strip()
    if text == "*":
        return text
    if text.startswith("*."):
        suffix = text[2:].lower().removesuffix(".")
        host = "*." + suffix if _NAME.match(suffix) else None
    else:
        host = _name_or_address(text.removeprefix("[").removesuffix("]"))
    if host is None:
        raise ConfigError(
            f"The allowed host '{text[:60]}' must be a name, an address, '*.example.com' or '*'."
        )
    return host


class TrustedHostMiddleware:
    def __init__(self, app: ASGIApp, allowed_hosts: Sequence[str]) -> None:
        if isinstance(allowed_hosts, str) or not allowed_hosts:
            raise ConfigError("allowed_hosts must be a non-empty list of host names.")
        patterns = [_pattern(host) for host in allowed_hosts]
        self.app = app
        self.allow_any = "*" in patterns
        self.exact = frozenset(p for p in patterns if not p.startswith("*"))
        # "*.example.com" matches "a.example.com" and "a.b.example.com", not "example.com".
        self.suffixes = tuple(p[1:] for p in patterns if p.startswith("*."))

    def allows(self, host: str) -> bool:
        return host in self.exact or host.endswith(self.suffixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self.allow_any:
            await self.app(scope, receive, send)
            return
        values = [v for k, v in scope.get("headers") or () if k == b"host"]
        # Several Host headers: proxies and the app could disagree on which one counts.
        host = parse_host(values[0].decode("latin-1")) if len(values) == 1 else None
        if host is not None and self.allows(host):
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": _WEBSOCKET_POLICY_VIOLATION})
        else:
            await refusal(scope, 400, "unknown_host", MESSAGE)(scope, receive, send)
