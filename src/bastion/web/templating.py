"""Jinja2 pages: one autoescaping environment, `render` for routes, refusal pages for middleware,
and the static files mount served at `/web/static/`."""

from __future__ import annotations

import datetime as dt
import functools
import os
from collections.abc import Mapping
from http import HTTPStatus
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.staticfiles import PathLike, StaticFiles
from starlette.types import Scope

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
STATIC_URL = "/web/static"

# Pages carry the CSRF token and personal data: no shared or browser cache may keep them.
_NO_STORE = {"cache-control": "no-store"}


def when(value: object) -> str:
    """Epoch seconds or an aware datetime as `2026-01-05 09:00 UTC`; None reads "never"."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        moment = dt.datetime.fromtimestamp(value, dt.UTC)
    else:
        return "never" if value is None else ""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


@functools.cache
def environment() -> jinja2.Environment:
    """The shared environment; autoescape is on for every template (answers stored XSS)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.globals["static_url"] = STATIC_URL
    env.filters["when"] = when
    return env


def _scope_of(request_or_scope: Request | Scope) -> Scope:
    return request_or_scope.scope if isinstance(request_or_scope, Request) else request_or_scope


def render(
    request_or_scope: Request | Scope, name: str, status: int = 200, **ctx: Any
) -> HTMLResponse:
    """Render template `name`; every page gets `csp_nonce`, `csrf_token`, `user`, `flash`,
    `error` and `status` (the HTTP status), which `ctx` may override (but not the nonce)."""
    state: Mapping[str, Any] = _scope_of(request_or_scope).get("state") or {}
    context: dict[str, Any] = {
        "csrf_token": state.get("csrf_expected") or "",
        "user": None,
        "flash": None,
        "error": None,
        "status": status,
        **ctx,
        # The nonce is the one the CSP header of this response allows: never a caller's value.
        # Made when a template prints it (a page without script gets a policy without nonce).
        "csp_nonce": state.get("csp_nonce") or "",
    }
    body = environment().get_template(name).render(context)
    return HTMLResponse(body, status, headers=_NO_STORE)


def wants_html(scope: Scope) -> bool:
    """True when the client asked for text/html (a browser), else it gets JSON."""
    for key, value in scope.get("headers") or ():
        if key == b"accept":
            return b"text/html" in value
    return False


def refusal(scope: Scope, status: int, code: str, message: str, **extra: str) -> Response:
    """A middleware's refusal: the error page for a browser, `{"error", "message"}` JSON else."""
    if wants_html(scope):
        title = HTTPStatus(status).phrase
        return render(scope, "error.html", status, title=title, message=message)
    return JSONResponse({"error": code, "message": message, **extra}, status, headers=_NO_STORE)


class _StaticFiles(StaticFiles):
    def file_response(
        self, full_path: PathLike, stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        if isinstance(response, FileResponse):
            # URLs are not versioned: let browsers keep a copy but revalidate it (ETag, 304).
            response.headers["cache-control"] = "no-cache"
        return response


def static_app() -> StaticFiles:
    """The CSS and JS under `web/static/`, to mount at `STATIC_URL`."""
    return _StaticFiles(directory=STATIC_DIR)
