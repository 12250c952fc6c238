"""Errors at the edge: HTTP errors as JSON or HTML, and a last-resort catch for everything else.

No traceback, exception text or path detail ever reaches a client: the client gets a status and
a fixed sentence, the server log gets the traceback.
"""

from __future__ import annotations

import html
import logging
from http import HTTPStatus

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

#: HTTP status of each `BastionError` code that escapes a route (a route should catch its own).
STATUS_BY_CODE = {
    "validation": 400,
    "access": 403,
    "missing": 404,
    "user": 400,
    "verification": 401,
    "rate_limit": 429,
    "tenant": 404,
}

MESSAGES = {
    404: "There is nothing at this address.",
    405: "This address does not accept that method.",
    500: "Something went wrong on our side; it has been logged.",
}


def error_response(status: int, accept: str, message: str | None = None) -> Response:
    """A JSON error, or a small HTML page for a browser (one that asks for text/html)."""
    phrase = HTTPStatus(status).phrase
    message = message or MESSAGES.get(status, phrase + ".")
    headers = {"cache-control": "no-store"}
    if "text/html" in accept:
        body = (
            f"<!doctype html><html lang=en><head><meta charset=utf-8>"
            f"<title>{status} {html.escape(phrase)}</title></head><body>"
            f"<h1>{status} {html.escape(phrase)}</h1><p>{html.escape(message)}</p></body></html>"
        )
        return HTMLResponse(body, status, headers=headers)
    code = phrase.lower().replace(" ", "_")
    return JSONResponse({"error": code, "message": message}, status, headers=headers)


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's exception handler for `HTTPException` (unknown path, wrong method, ...)."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    response = error_response(status, request.headers.get("accept", ""))
    if isinstance(exc, HTTPException) and exc.headers:
        allow = exc.headers.get("Allow")
        if allow:
            response.headers["allow"] = allow
    return response


async def bastion_error(request: Request, exc: Exception) -> Response:
    """A domain error no route handled: its own one-sentence message, never a traceback."""
    from bastion.errors import BastionError, RateLimitError

    if not isinstance(exc, BastionError) or exc.code not in STATUS_BY_CODE:
        log.error("Unmapped error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(500, request.headers.get("accept", ""))
    status = STATUS_BY_CODE[exc.code]
    response = error_response(status, request.headers.get("accept", ""), exc.message)
    if isinstance(exc, RateLimitError):
        response.headers["retry-after"] = str(exc.retry_after)
    return response


class CatchAllMiddleware:
    """Turns any exception into a generic 500 and logs it; inside the security headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            # The path only: a query string may carry tokens.
            log.exception("Unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise  # too late for a clean reply: let the server drop the connection
            accept = dict(scope.get("headers") or []).get(b"accept", b"").decode("latin-1")
            await error_response(500, accept)(scope, receive, send)
