"""A demo tenant behind the real web app, with the REST routes and API keys of its demo users.

Shared by the `test_web_rest_*` modules; each makes its site once (module scope).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.routing import BaseRoute

from bastion.apps.base.demo import DEMO_LOGINS
from bastion.auth.apikeys import KeyScope
from bastion.bootstrap.auth import auth_for
from bastion.bootstrap.tenants import create_tenant, drop_tenant
from bastion.core.clock import FixedClock
from bastion.core.module import DemoOptions
from bastion.core.tenant import Tenant
from bastion.settings import Settings
from bastion.web.app import create_app
from bastion.web.rest import rest_routes
from support.postgres import require_postgres
from support.web_client import WebClient

NOW = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
PASSWORDS = {login: f"demo password of {login}!" for login in DEMO_LOGINS}


def rest_app(settings: Settings, clock: FixedClock) -> Starlette:
    """`create_app` with its middleware; the REST routes added if the app does not mount them."""
    app = create_app(settings, clock=clock)
    routes: list[BaseRoute] = app.router.routes
    if not any(str(getattr(r, "path", "")).startswith("/api/v1/") for r in routes):
        routes[0:0] = rest_routes(settings, clock)
    return app


@dataclass
class RestSite:
    settings: Settings
    tenant: Tenant
    clock: FixedClock
    web: WebClient

    def uid(self, login: str) -> int:
        with self.tenant.system("test looks up a user") as env:
            found = env.with_context(active_test=False)["res.users"].search(
                [("login", "=", login)], limit=1
            )
        assert found, login
        return found[0]

    def key(
        self, login: str, *, models: tuple[str, ...] | None = None, readonly: bool = False
    ) -> str:
        key, _ = auth_for(self.settings, self.tenant).apikeys.create(
            self.uid(login),
            f"rest test {uuid.uuid4().hex[:6]}",
            self.clock.now(),
            scope=KeyScope(models, readonly),
            expires_at=self.clock.now() + dt.timedelta(days=30),
        )
        return key

    def system(self, model: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """Run an ORM method as the system (to set up or look at data behind the API)."""
        with self.tenant.system("rest test fixture") as env:
            return getattr(env.with_context(active_test=False)[model], method)(*args, **kwargs)

    def request(self, method: str, path: str, key: str | None = None, **kw: Any) -> httpx.Response:
        headers = dict(kw.pop("headers", {}) or {})
        if key is not None:
            headers["authorization"] = f"bearer {key}"
        return self.web.request(method, path, headers=headers, **kw)


@contextlib.contextmanager
def rest_site(root: Path, backend: str) -> Iterator[RestSite]:
    url = require_postgres() if backend == "postgresql" else None
    settings = Settings(data_dir=root / "var", database_url=url)
    clock = FixedClock(NOW)
    name = f"bastion_test_{uuid.uuid4().hex[:12]}"
    tenant = create_tenant(settings, name, demo=DemoOptions(passwords=dict(PASSWORDS)), clock=clock)
    try:
        with WebClient(rest_app(settings, clock)) as web:
            yield RestSite(settings, tenant, clock, web)
    finally:
        tenant.dispose()
        drop_tenant(settings, name)
