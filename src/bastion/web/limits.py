"""`BodySizeLimitMiddleware`: refuse request bodies above a size, declared or streamed.

Answers memory and disk exhaustion by one large (or endless chunked) upload: the app never
receives more than `max_bytes`, whatever Content-Length claims.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bastion.web.templating import refusal

TOO_LARGE = "The request body is larger than this server accepts."
MALFORMED = "The Content-Length header of the request is malformed."


class BodyTooLarge(HTTPException):
    """Raised from `receive` once the streamed body passes the limit. An `HTTPException`, so a
    Starlette app's exception handler answers 413 when the endpoint was the one reading."""

    def __init__(self) -> None:
        super().__init__(413, TOO_LARGE)


def declared_length(scope: Scope) -> int | None:
    """Content-Length as a number, None when absent; ValueError when malformed or repeated."""
    values = [v for k, v in scope.get("headers") or () if k == b"content-length"]
    if not values:
        return None
    # Two lengths, signs or spaces: a proxy and the server might read different bodies.
    if len(values) > 1 or not values[0].isdigit() or len(values[0]) > 19:
        raise ValueError("malformed Content-Length")
    return int(values[0])


async def body_too_large(request: Request, exc: Exception) -> Response:
    """Exception handler for `BodyTooLarge`, so a Starlette app answers as the middleware does."""
    return refusal(request.scope, 413, "body_too_large", TOO_LARGE)


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0:
            raise ValueError("max_bytes must be a whole number of bytes, zero or more.")
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            length = declared_length(scope)
        except ValueError:
            await refusal(scope, 400, "bad_content_length", MALFORMED)(scope, receive, send)
            return
        if length is not None and length > self.max_bytes:
            # Refused before a byte is read: the client learns at once, we buffer nothing.
            await refusal(scope, 413, "body_too_large", TOO_LARGE)(scope, receive, send)
            return

        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge:
            if started:
                return  # too late for a status: stop here, the server closes the connection
            await refusal(scope, 413, "body_too_large", TOO_LARGE)(scope, receive, send)
