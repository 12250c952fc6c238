"""What the RPC suites share: a demo tenant with every role (one password for all), API keys,
the app with the Odoo-compatible API, and an XML-RPC transport that talks to it in-process."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import xmlrpc.client
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware

from bastion.apps.base.demo import DEMO_LOGINS
from bastion.auth.apikeys import KeyScope
from bastion.bootstrap.auth import auth_for
from bastion.bootstrap.tenants import DEFAULT_MODULES, create_tenant, open_tenant
from bastion.bootstrap.users import add_user, all_group_xmlids, find_user
from bastion.core.clock import Clock, FixedClock
from bastion.core.module import DemoOptions
from bastion.settings import Settings
from bastion.web import csrf
from bastion.web.app import create_app
from bastion.web.rpc.routes import rpc_routes
from support.web_client import WebClient

PASSWORD = "rpc correct horse battery staple"
TENANT = "demo"
#: Demo roles of the first company (each has a twin in the second: `sales2`, ...).
ROLES = ("sales", "salesmanager", "hr", "accountant", "employee")
#: Cookie-authenticated JSON routes that are CSRF-exempt because they require JSON.
JSON_SESSION_PATHS = ("/web/session/get_session_info", "/web/session/destroy")
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
_TEMPLATES: dict[Path, Path] = {}


def make_demo(data_dir: Path, clock: Clock | None = None) -> Settings:
    """A data directory with the demo tenant `demo` and an administrator `admin` (no MFA yet)."""
    settings = Settings(data_dir=data_dir)
    options = DemoOptions(passwords=dict.fromkeys(DEMO_LOGINS, PASSWORD))
    tenant = create_tenant(settings, TENANT, modules=DEFAULT_MODULES, demo=options, clock=clock)
    try:
        add_user(tenant, "admin", PASSWORD, name="Administrator", groups=all_group_xmlids(tenant))
    finally:
        tenant.dispose()
    return settings


def make_key(
    settings: Settings,
    login: str,
    *,
    now: dt.datetime,
    models: Sequence[str] | None = None,
    readonly: bool = False,
    tenant_name: str = TENANT,
) -> str:
    """A new API key of `login`, valid 30 days from `now`."""
    tenant = open_tenant(settings, tenant_name)
    try:
        uid = find_user(tenant, login, "test makes an API key")
        auth = auth_for(settings, tenant)
        scope = KeyScope(tuple(models) if models else None, readonly)
        key, _ = auth.apikeys.create(
            uid, "test key", now, scope=scope, expires_at=now + dt.timedelta(days=30)
        )
        return key
    finally:
        tenant.dispose()


def user_id(settings: Settings, login: str, tenant_name: str = TENANT) -> int:
    tenant = open_tenant(settings, tenant_name)
    try:
        return find_user(tenant, login, "test looks up a user")
    finally:
        tenant.dispose()


def rpc_app(settings: Settings, clock: Clock, *, list_db: bool = False) -> Starlette:
    """`create_app`, with the API mounted (until app.py mounts `rpc_routes` itself, and always
    with `list_db=True`, which app.py does not offer) and the JSON session routes CSRF-exempt
    (until csrf.DEFAULT_EXEMPT lists them)."""
    app = create_app(settings, clock=clock)
    mounted = any(getattr(route, "path", None) == "/jsonrpc" for route in app.routes)
    if list_db or not mounted:
        # Routes added in front win over the ones app.py mounted.
        app.router.routes[:0] = rpc_routes(settings, clock, list_db=list_db)
    checker = csrf.CsrfMiddleware(lambda *_: None)  # type: ignore[arg-type]
    if not all(checker.is_exempt(path) for path in JSON_SESSION_PATHS):
        exempt = (*csrf.DEFAULT_EXEMPT, *JSON_SESSION_PATHS)
        app.user_middleware = [
            Middleware(csrf.CsrfMiddleware, exempt_prefixes=exempt)
            if getattr(m, "cls", None) is csrf.CsrfMiddleware
            else m
            for m in app.user_middleware
        ]
    return app


class AsgiTransport(xmlrpc.client.Transport):
    """Lets `xmlrpc.client.ServerProxy("http://localhost/xmlrpc/2/common", transport=...)`
    call the in-process app through a `WebClient`, parsing replies as the client does."""

    def __init__(self, web: WebClient) -> None:
        super().__init__()
        self.web = web

    def request(
        self, host: Any, handler: str, request_body: Any, verbose: bool = False
    ) -> tuple[Any, ...]:
        response = self.web.post(
            handler, content=bytes(request_body), headers={"content-type": "text/xml"}
        )
        if response.status_code != 200:
            raise xmlrpc.client.ProtocolError(
                host + handler, response.status_code, response.reason_phrase, {}
            )
        parser, unmarshaller = self.getparser()
        parser.feed(response.content)
        parser.close()
        return unmarshaller.close()


def server_proxy(web: WebClient, path: str) -> xmlrpc.client.ServerProxy:
    return xmlrpc.client.ServerProxy(f"http://localhost{path}", transport=AsgiTransport(web))


def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo data directory, made once per test process (copy it: `RpcSite.copy_of`)."""
    base = tmp_path_factory.getbasetemp()
    if base not in _TEMPLATES:
        root = tmp_path_factory.mktemp("rpc-demo") / "var"
        make_demo(root, FixedClock(NOW))
        _TEMPLATES[base] = root
    return _TEMPLATES[base]


@dataclass(frozen=True)
class RpcSite:
    """A private copy of the demo data directory, served in-process at a fixed time."""

    settings: Settings
    clock: FixedClock

    @classmethod
    def copy_of(cls, template: Path, tmp_path: Path, **settings: Any) -> RpcSite:
        data_dir = tmp_path / "var"
        shutil.copytree(template, data_dir, symlinks=True)
        return cls(Settings(data_dir=data_dir, **settings), FixedClock(NOW))

    def web(
        self, base_url: str = "http://localhost", peer: str = "127.0.0.1", **app: Any
    ) -> WebClient:
        app_ = rpc_app(self.settings, self.clock, **app)
        return WebClient(app_, base_url=base_url, peer=peer)

    def key(self, login: str, *, models: Sequence[str] = (), readonly: bool = False) -> str:
        return make_key(
            self.settings, login, now=self.clock.now(), models=models or None, readonly=readonly
        )

    def uid(self, login: str) -> int:
        return user_id(self.settings, login)

    def snapshot(self) -> dict[str, list[str]]:
        """Every row of the business tables (not throttles, sessions, risk state or the audit
        trail), to show that a refused call changed nothing."""
        database = self.settings.tenants_dir / TENANT / "db.sqlite3"
        with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
            tables = [
                row[0]
                for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                if not row[0].startswith(("auth_", "audit_", "risk_"))
            ]
            return {
                table: sorted(repr(row) for row in conn.execute(f'SELECT * FROM "{table}"'))
                for table in tables
            }
