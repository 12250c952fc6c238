"""One simulated browser over HTTP: its cookies (the device cookie kept as given), its address
(sent as X-Forwarded-For, which the server believes from 127.0.0.1) and its User-Agent."""

from __future__ import annotations

import asyncio
import contextlib
import re
from http.cookies import CookieError, SimpleCookie

import httpx

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]*)"')
NONCE_RE = re.compile(r'name="bastion_signals_nonce" value="([^"]*)"')
DEVICE_COOKIE, SESSION_COOKIE, PRE_COOKIE = "bastion_device", "session_id", "bastion_pre"


#: Seconds each request took, by "METHOD /path" (for the run's summary).
TIMINGS: dict[str, list[float]] = {}


class Browser:
    """Cookies by hand: the server may mark them Secure for a forwarded address, and an httpx
    jar would then keep them from a plain-http loopback server."""

    def __init__(self, client: httpx.AsyncClient, limit: asyncio.Semaphore, ua: str) -> None:
        self.client = client
        self.limit = limit
        self.ua = ua
        self.ip = ""
        self.cookies: dict[str, str] = {}
        self.csrf = ""
        self.nonce = ""

    def forget_device(self) -> None:
        """Cleared cookies (a privacy setting, a new browser profile): a new device next time."""
        self.cookies.clear()
        self.csrf = self.nonce = ""

    async def request(
        self,
        method: str,
        path: str,
        data: dict[str, str] | None = None,
        *,
        cookies: dict[str, str] | None = None,
    ) -> httpx.Response:
        headers = {"x-forwarded-for": self.ip, "user-agent": self.ua}
        jar = self.cookies if cookies is None else cookies
        if jar:
            headers["cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        async with self.limit:
            response = await self.client.request(method, path, data=data, headers=headers)
        TIMINGS.setdefault(f"{method} {path.split('?', maxsplit=1)[0]}", []).append(
            response.elapsed.total_seconds()
        )
        self.client.cookies.clear()
        if cookies is None:
            self._update(response)
        self._forms(response)
        return response

    def _update(self, response: httpx.Response) -> None:
        for raw in response.headers.get_list("set-cookie"):
            cookie: SimpleCookie = SimpleCookie()
            with contextlib.suppress(CookieError):
                cookie.load(raw)
            for name, morsel in cookie.items():
                if morsel.value == "" or morsel["max-age"] == "0":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    def _forms(self, response: httpx.Response) -> None:
        if "text/html" not in response.headers.get("content-type", ""):
            return
        text = response.text
        found = CSRF_RE.search(text)
        if found:
            self.csrf = found.group(1)
        nonce = NONCE_RE.search(text)
        if nonce is not None or found is not None:
            # A page with a form but no nonce leaves the report unverifiable, as in a browser.
            self.nonce = nonce.group(1) if nonce else ""
