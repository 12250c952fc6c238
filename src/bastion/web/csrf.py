"""`CsrfMiddleware`: a state-changing browser request must come from one of our own pages.

Answers cross-site request forgery: a foreign page can make a signed-in browser send a POST, but
cannot read the synchronizer token out of our pages, and modern browsers tell where a request
comes from (Origin, Sec-Fetch-Site). Token-less RPC paths, authenticated by credentials in each
call rather than by the cookie alone, are exempt.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence
from urllib.parse import unquote_plus

from python_multipart import MultipartParser, QuerystringParser
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bastion.crypto.digest import constant_time_equal
from bastion.web.templating import refusal

log = logging.getLogger(__name__)

REASON_NO_SESSION = "no_session"  # no token to expect: the session middleware found none
REASON_CROSS_SITE = "cross_site"  # Sec-Fetch-Site says another site (or a sibling) sent it
REASON_BAD_ORIGIN = "bad_origin"  # Origin is not this server's scheme and host
REASON_NO_TOKEN = "no_token"  # noqa: S105 - neither the X-CSRF-Token header nor the csrf_token field
REASON_BAD_TOKEN = "bad_token"  # noqa: S105 - a token, but not this session's
REASONS = frozenset(
    {REASON_NO_SESSION, REASON_CROSS_SITE, REASON_BAD_ORIGIN, REASON_NO_TOKEN, REASON_BAD_TOKEN}
)
MESSAGE = "This form has expired or did not come from this site; reload the page and try again."

#: A prefix ending in "/" covers what is below it; any other is the path or what is below it.
DEFAULT_EXEMPT = (
    "/xmlrpc/",
    "/jsonrpc",
    "/json/2/",
    "/api/v1/",
    "/web/session/authenticate",
    "/web/session/get_session_info",
    "/web/session/destroy",
    "/web/dataset/",
    "/web/webclient/",
)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})  # everything else is checked
TOKEN_FIELD = b"csrf_token"
TOKEN_HEADER = b"x-csrf-token"
MAX_TOKEN_BYTES = 512  # far above a real token; more is not kept in memory
_SAME_SITE = frozenset({"same-origin", "none"})  # "none": typed URL, bookmark
_DEFAULT_PORTS = {"http": ":80", "https": ":443"}


def reject(scope: Scope, reason: str) -> Response:
    """The one way a request is refused: logged with its reason (never the token), then 403."""
    if reason not in REASONS:
        raise ValueError(f"Unknown CSRF rejection reason {reason!r}.")
    ip = (scope.get("state") or {}).get("client_ip", "")
    log.warning("CSRF check failed (%s): %s %s from %s", reason, scope["method"], scope["path"], ip)
    return refusal(scope, 403, "csrf_failed", MESSAGE, reason=reason)


def _origin(scheme: str, host: str) -> str:
    """`scheme://host[:port]` without the scheme's default port, as browsers send Origin."""
    default = _DEFAULT_PORTS.get(scheme)
    host = host.lower()
    return f"{scheme}://{host.removesuffix(default) if default else host}"


class _FieldFinder:
    """Streams a form body (urlencoded or multipart) and keeps only the `csrf_token` value."""

    def __init__(self, content_type: bytes) -> None:
        kind, options = parse_options_header(content_type)
        self.value: str | None = None
        self._name = bytearray()
        self._data = bytearray()
        self._is_token = False
        self.parser: QuerystringParser | MultipartParser | None = None
        if kind == b"application/x-www-form-urlencoded":
            self.parser = QuerystringParser(
                {
                    "on_field_start": self._start,
                    "on_field_name": self._collect(self._name, len(TOKEN_FIELD) * 3),
                    "on_field_data": self._collect(self._data, MAX_TOKEN_BYTES),
                    "on_field_end": self._end_field,
                }
            )
        elif kind == b"multipart/form-data" and options.get(b"boundary"):
            self.parser = MultipartParser(
                options[b"boundary"],
                {
                    "on_part_begin": self._start,
                    "on_header_field": self._collect(self._name, 64),
                    "on_header_value": self._collect(self._data, 1024),
                    "on_header_end": self._end_header,
                    "on_part_data": self._collect_token,
                    "on_part_end": self._end_part,
                },
            )

    def _start(self) -> None:
        self._name.clear()
        self._data.clear()
        self._is_token = False

    @staticmethod
    def _collect(into: bytearray, limit: int) -> Callable[[bytes, int, int], None]:
        def collect(data: bytes, start: int, end: int) -> None:
            into.extend(data[start : min(end, start + limit + 1 - len(into))])

        return collect

    def _end_field(self) -> None:
        if self.value is None and unquote_plus(self._name.decode("latin-1")) == "csrf_token":
            self.value = unquote_plus(self._data.decode("latin-1"))

    def _end_header(self) -> None:
        if self._name.lower() == b"content-disposition":
            _, options = parse_options_header(bytes(self._data))
            self._is_token = options.get(b"name") == TOKEN_FIELD and b"filename" not in options
        self._name.clear()
        self._data.clear()

    def _collect_token(self, data: bytes, start: int, end: int) -> None:
        if self._is_token:
            self._collect(self._data, MAX_TOKEN_BYTES)(data, start, end)

    def _end_part(self) -> None:
        if self.value is None and self._is_token:
            self.value = self._data.decode("utf-8", "replace")


async def _token_from_body(scope: Scope, receive: Receive) -> tuple[str | None, list[Message]]:
    """Reads the body only until the token field is complete; returns what was read for replay."""
    content_type = next((v for k, v in scope["headers"] if k == b"content-type"), b"")
    finder = _FieldFinder(content_type)
    read: list[Message] = []
    if finder.parser is None:
        return None, read
    try:
        while finder.value is None:
            message = await receive()
            read.append(message)
            if message["type"] != "http.request":
                break  # the client went away
            finder.parser.write(message.get("body", b""))
            if not message.get("more_body", False):
                finder.parser.finalize()
                break
    except FormParserError:
        return None, read  # a malformed form carries no token we could believe
    return finder.value, read


class CsrfMiddleware:
    def __init__(self, app: ASGIApp, exempt_prefixes: Sequence[str] = DEFAULT_EXEMPT) -> None:
        if isinstance(exempt_prefixes, str) or not all(
            isinstance(p, str) and p.startswith("/") for p in exempt_prefixes
        ):
            raise ValueError("exempt_prefixes must be a list of paths starting with '/'.")
        self.app = app
        self.exempt = tuple(exempt_prefixes)

    def is_exempt(self, path: str) -> bool:
        return any(
            path.startswith(p) if p.endswith("/") else path == p or path.startswith(p + "/")
            for p in self.exempt
        )

    def _check_origin(self, scope: Scope) -> str | None:
        headers = dict(scope["headers"])
        site = headers.get(b"sec-fetch-site")
        if site is not None and site.decode("latin-1").lower() not in _SAME_SITE:
            return REASON_CROSS_SITE
        origin = headers.get(b"origin")
        if origin is not None:
            scheme, _, host = origin.decode("latin-1").lower().partition("://")
            own = _origin(scope.get("scheme", "http"), headers.get(b"host", b"").decode("latin-1"))
            # "null" (sandboxed frames, some redirects) never equals an origin of ours.
            if not host or _origin(scheme, host) != own:
                return REASON_BAD_ORIGIN
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] in SAFE_METHODS
            or self.is_exempt(scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        reason = self._check_origin(scope)
        expected = (scope.get("state") or {}).get("csrf_expected")
        if reason is None and not expected:
            reason = REASON_NO_SESSION
        read: list[Message] = []
        if reason is None:
            header = next((v for k, v in scope["headers"] if k == TOKEN_HEADER), None)
            if header is not None:
                token: str | None = header.decode("latin-1")
            else:
                token, read = await _token_from_body(scope, receive)
            if not token:
                reason = REASON_NO_TOKEN
            elif not constant_time_equal(token, str(expected)):
                reason = REASON_BAD_TOKEN
        if reason is not None:
            await reject(scope, reason)(scope, receive, send)
            return
        pending = deque(read)

        async def replay() -> Message:
            # The app reads the very messages we consumed, then the rest of the stream.
            return pending.popleft() if pending else await receive()

        await self.app(scope, replay, send)
