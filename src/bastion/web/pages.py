"""The placeholder pages served until the sign-in page and the UI arrive.

Every value put in the HTML goes through `html.escape`; the page has no script and no inline
style, so the strict Content-Security-Policy holds.
"""

from __future__ import annotations

import html

from starlette.requests import Request
from starlette.responses import HTMLResponse

from bastion import __version__

_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body>
<h1>{title}</h1>
<p>Bastion {version} is running.</p>
<p>The sign-in page and the API arrive in later releases. Until then, operators manage
tenants and users with the <code>bastion</code> command.</p>
<p><a href="/healthz">Health</a></p>
</body>
</html>
"""


def render(title: str) -> str:
    return _PAGE.format(title=html.escape(title), version=html.escape(__version__))


async def home(request: Request) -> HTMLResponse:
    return HTMLResponse(render("Bastion"), headers={"cache-control": "no-store"})


async def login(request: Request) -> HTMLResponse:
    return HTMLResponse(render("Sign in to Bastion"), headers={"cache-control": "no-store"})
