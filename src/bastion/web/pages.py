"""`/`: send visitors to the web client (which sends them on to sign in if needed)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse


async def home(request: Request) -> RedirectResponse:
    return RedirectResponse("/web", status_code=303)
