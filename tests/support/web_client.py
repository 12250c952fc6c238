"""A cookie-keeping client for the ASGI app in-process, that fills in CSRF tokens like a page.

`with WebClient(app) as web:` runs the app's lifespan once; `web.get/post` are synchronous.
Requests come from 127.0.0.1 over http://localhost, so cookies are not marked Secure.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import httpx
from starlette.applications import Starlette

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"|name="csrf-token" content="([^"]+)"')


def csrf_of(html: str) -> str:
    match = _TOKEN.search(html)
    if match is None:
        raise AssertionError("the page has no CSRF token")
    return match.group(1) or match.group(2)


#: What a person's browser sends. The sign-in's bot detection challenges scripts that announce
#: themselves (httpx's own user agent): tests that play a person send this instead.
DESKTOP_CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)


class WebClient:
    def __init__(
        self, app: Starlette, base_url: str = "http://localhost", peer: str = "127.0.0.1"
    ) -> None:
        self.app = app
        self.base_url = base_url
        self.peer = peer
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.client: httpx.AsyncClient | None = None
        self._lifespan: Any = None

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def __enter__(self) -> WebClient:
        self.thread.start()

        async def start() -> None:
            self._lifespan = self.app.router.lifespan_context(self.app)
            await self._lifespan.__aenter__()
            transport = httpx.ASGITransport(app=self.app, client=(self.peer, 50000))
            self.client = httpx.AsyncClient(
                transport=transport,
                base_url=self.base_url,
                follow_redirects=True,
                headers={"user-agent": DESKTOP_CHROME},
            )

        self._run(start())
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        async def stop() -> None:
            assert self.client is not None
            await self.client.aclose()
            await self._lifespan.__aexit__(None, None, None)

        try:
            self._run(stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)
            self.loop.close()

    @property
    def cookies(self) -> httpx.Cookies:
        assert self.client is not None
        return self.client.cookies

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        assert self.client is not None
        client = self.client
        return self._run(client.request(method, path, **kw))  # type: ignore[no-any-return]

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, data: Mapping[str, str] | None = None, **kw: Any) -> httpx.Response:
        return self.request("POST", path, data=data, **kw)

    def form(self, page: str, action: str, data: Mapping[str, str]) -> httpx.Response:
        """GET `page`, then POST `data` to `action` with the page's CSRF token."""
        html = self.get(page).text
        return self.post(action, {**data, "csrf_token": csrf_of(html)})
