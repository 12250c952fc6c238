"""What the web security suites share: tenants served in-process by `create_app`, browsers that
sign in, the app's state-changing routes found by walking its routing table, and how to tell
the CSRF layer's refusal from any other answer."""

from __future__ import annotations

import html
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Host, Mount, Route
from starlette.staticfiles import StaticFiles

from bastion.bootstrap.tenants import create_tenant, open_tenant, tenant_dir
from bastion.bootstrap.users import add_user
from bastion.core.clock import FixedClock
from bastion.core.tenant import Tenant
from bastion.settings import Settings
from bastion.web import csrf
from bastion.web.app import create_app
from support.web_client import WebClient, csrf_of

PASSWORD = "correct horse battery staple 42"
USERS = {"alice": "Alice Example", "bob": "Bob Example"}
UNSAFE_METHODS = ("DELETE", "PATCH", "POST", "PUT")
#: Answers of the app to hostile input: refused, never crashed.
REFUSALS = frozenset({400, 401, 403, 413})
#: A neutral Accept, so middleware refusals come as JSON carrying their reason.
JSON = {"accept": "application/json"}


@dataclass(frozen=True)
class WebSite:
    """A data directory of tenants, each with the users of `USERS` (password `PASSWORD`)."""

    settings: Settings
    clock: FixedClock
    tenants: tuple[str, ...]

    def app(self) -> Starlette:
        return create_app(self.settings, clock=self.clock)

    def browser(self, base_url: str = "http://localhost", peer: str = "127.0.0.1") -> WebClient:
        """A new browser (its own cookie jar) on a new app process; use it as a context."""
        return WebClient(self.app(), base_url=base_url, peer=peer)

    def add_person(self, login: str, name: str | None = None, tenant: str | None = None) -> None:
        """One more user (password `PASSWORD`), so that tests sharing a site share no user."""
        with self.tenant(tenant) as opened:
            add_user(opened, login, PASSWORD, name=name or login.title())

    @contextmanager
    def tenant(self, name: str | None = None) -> Iterator[Tenant]:
        tenant = open_tenant(self.settings, name or self.tenants[0], clock=self.clock)
        try:
            yield tenant
        finally:
            tenant.dispose()

    def snapshot(self, name: str | None = None) -> dict[str, list[str]]:
        """Every row of every table of the tenant, to show a refused request changed nothing.

        Read straight from the SQLite file, read-only: reflecting through the ORM per call
        would cost more than the requests under test."""
        database = tenant_dir(self.settings, name or self.tenants[0]) / "db.sqlite3"
        assert database.is_file(), database
        with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
            tables = [
                row[0]
                for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            ]
            return {
                table: sorted(repr(row) for row in conn.execute(f'SELECT * FROM "{table}"'))
                for table in tables
            }


def make_site(
    tmp_path: Path, clock: FixedClock, tenants: Sequence[str] = ("acme",), **settings: Any
) -> WebSite:
    config = Settings(data_dir=tmp_path / "var", **settings)
    for name in tenants:
        tenant = create_tenant(config, name, modules=["base"], clock=clock)
        try:
            for login, full_name in USERS.items():
                add_user(tenant, login, PASSWORD, name=full_name)
        finally:
            tenant.dispose()
    return WebSite(config, clock, tuple(tenants))


def sign_in(
    web: WebClient, login: str = "alice", password: str = PASSWORD, **extra: str
) -> httpx.Response:
    """Open the sign-in page and submit it, as a person would."""
    return web.form("/web/login", "/web/login", {"login": login, "password": password, **extra})


def token_of(web: WebClient, page: str = "/web") -> str:
    """The CSRF token the browser's current page carries."""
    return csrf_of(web.get(page).text)


def signed_in(web: WebClient) -> bool:
    return web.get("/web").url.path == "/web"


def csrf_refusal(response: httpx.Response) -> str | None:
    """The CSRF layer's reason if it is what refused `response` (JSON: the named reason; HTML:
    "page"), else None: any other answer means the request got past the CSRF check."""
    if response.status_code != 403:
        return None
    if response.headers.get("content-type", "").startswith("application/json"):
        body = response.json()
        return str(body.get("reason")) if body.get("error") == "csrf_failed" else None
    return "page" if html.escape(csrf.MESSAGE) in response.text else None


def set_cookie_headers(response: httpx.Response, name: str) -> list[str]:
    """The Set-Cookie headers for cookie `name` of this response and the redirects before it."""
    found = []
    for each in (*response.history, response):
        for value in each.headers.get_list("set-cookie"):
            if value.startswith(f"{name}="):
                found.append(value)
    return found


# -- the routing table -----------------------------------------------------------------------


@dataclass(frozen=True)
class UnsafeRoute:
    """A method other than GET/HEAD/OPTIONS on a path of the app (parameters filled in)."""

    method: str
    path: str

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


_PARAM = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(?::([a-z]+))?}")
_SAMPLES = {"int": "1", "float": "1.0", "uuid": "00000000-0000-0000-0000-000000000001"}


def _concrete(path: str) -> str:
    return _PARAM.sub(lambda m: _SAMPLES.get(m.group(2) or "str", "x"), path)


def unsafe_routes(routes: Sequence[BaseRoute], prefix: str = "") -> list[UnsafeRoute]:
    """Every (method, path) of `routes` that can change state, mounts and hosts included.

    A mounted app without a routing table of its own may answer any method, so its prefix is
    listed with every unsafe method; static files only ever answer GET and HEAD.
    """
    found: list[UnsafeRoute] = []
    for route in routes:
        if isinstance(route, Route):
            methods = set(UNSAFE_METHODS) if route.methods is None else route.methods
            path = _concrete(prefix + route.path)
            found += [UnsafeRoute(m, path) for m in sorted(methods) if m in UNSAFE_METHODS]
        elif isinstance(route, Mount | Host):
            inner = prefix + route.path if isinstance(route, Mount) else prefix
            base = getattr(route, "_base_app", route.app)  # the mounted app, before middleware
            if isinstance(base, StaticFiles):
                continue
            if hasattr(base, "routes"):
                found += unsafe_routes(route.routes, inner)
            else:
                path = _concrete(inner) + "/"
                found += [UnsafeRoute(m, path) for m in UNSAFE_METHODS]
    return sorted(set(found), key=lambda r: (r.path, r.method))
