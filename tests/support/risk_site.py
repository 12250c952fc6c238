"""A site for the risk guard's tests: one tenant served in-process, behind a trusted proxy on
127.0.0.1 (so each request names its client address in X-Forwarded-For), with a fixed table
of networks in place of the geolocation database.

Browsers are signed in by creating their session in the server's own session store, bound to
the device cookie the browser got from the sign-in page: the same session `/web/login` makes,
without depending on the sign-in flow's own checks (tested elsewhere).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from bastion.bootstrap.auth import TenantAuth
from bastion.bootstrap.tenants import create_tenant, drop_tenant, open_tenant
from bastion.bootstrap.users import add_user
from bastion.core.clock import FixedClock
from bastion.core.tenant import Tenant
from bastion.risk.geo import StaticGeoResolver
from bastion.settings import Settings
from bastion.web.app import create_app
from bastion.web.session import DEVICE_COOKIE, SESSION_COOKIE
from support.postgres import require_postgres
from support.redis import REDIS_URL, delete_prefix, require_redis
from support.web_client import WebClient

PASSWORD = "correct horse battery staple 42"
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
#: Addresses by place: home (Zurich cable), the same AS a street away, a Swiss mobile
#: network, and an American cable network.
HOME, HOME_2, CH_MOBILE, US = "198.51.100.7", "198.51.100.99", "192.0.2.20", "203.0.113.50"
NETWORKS = [
    ("198.51.100.0/24", 64500, "Alpine Cable", "CH"),
    ("192.0.2.0/24", 64501, "Alpine Mobile", "CH"),
    ("203.0.113.0/24", 64510, "Prairie Cable", "US"),
]
USERS = {"alice": "Alice Example", "bob": "Bob Example"}
ADMIN = "root"


@dataclass
class RiskSite:
    settings: Settings
    clock: FixedClock
    geo: StaticGeoResolver  # the same table the server reads (BASTION_GEO_TABLE)
    name: str  # the tenant's

    def app(self) -> Starlette:
        return create_app(self.settings, clock=self.clock)

    def browser(self) -> WebClient:
        """A new browser (own cookie jar) on a new app process; use it as a context."""
        return WebClient(self.app())

    @contextmanager
    def tenant(self) -> Iterator[Tenant]:
        opened = open_tenant(self.settings, self.name, clock=self.clock)
        try:
            yield opened
        finally:
            opened.dispose()


def make_risk_site(tmp_path: Path, name: str = "acme", **settings: Any) -> RiskSite:
    """A site on SQLite, or on what `settings` name (database_url, redis_url)."""
    table = tmp_path / "networks.csv"
    table.write_text("".join(f"{c},{a},{n},{cc}\n" for c, a, n, cc in NETWORKS), "utf-8")
    config = Settings(
        data_dir=tmp_path / "var",
        trusted_proxies=(ipaddress.ip_network("127.0.0.1/32"),),
        geo_table=table,
        **settings,
    )
    clock = FixedClock(NOW)
    tenant = create_tenant(config, name, modules=["base"], clock=clock)
    try:
        for login, full_name in USERS.items():
            add_user(tenant, login, PASSWORD, name=full_name, email=f"{login}@example.com")
        add_user(
            tenant,
            ADMIN,
            PASSWORD,
            name="Root Admin",
            groups=("base.group_user", "base.group_system"),
        )
    finally:
        tenant.dispose()
    return RiskSite(config, clock, StaticGeoResolver(NETWORKS), name)


@contextmanager
def backend_site(tmp_path: Path, backend: str) -> Iterator[RiskSite]:
    """A site whose tenant, sessions and risk state live on `backend`: "sqlite",
    "postgresql" (the database), or "redis" (sessions, throttles and risk state in Redis);
    the PostgreSQL database and the Redis keys are removed afterwards."""
    name = f"bastion_test_{uuid.uuid4().hex[:12]}"
    settings: dict[str, Any] = {}
    if backend == "postgresql":
        settings["database_url"] = require_postgres()
    elif backend == "redis":
        require_redis().close()
        settings["redis_url"] = REDIS_URL
    site = make_risk_site(tmp_path, name, **settings)
    try:
        yield site
    finally:
        if backend == "postgresql":
            drop_tenant(site.settings, name)
        elif backend == "redis":
            client = require_redis()
            delete_prefix(client, f"bastion:{name}:")
            client.close()


def at(web: WebClient, ip: str) -> None:
    """From now on `web` connects from `ip` (through the trusted proxy)."""
    assert web.client is not None
    web.client.headers["x-forwarded-for"] = ip
    web.client.headers["user-agent"] = CHROME


def auth_of(web: WebClient) -> TenantAuth:
    """The (only) tenant's identity services in `web`'s server process."""
    services = web.app.state.services
    auth: TenantAuth = services.auth(services.tenant_names()[0])
    return auth


def device_of(web: WebClient) -> str:
    """The id of `web`'s device cookie (visiting the sign-in page first if it has none)."""
    if DEVICE_COOKIE not in web.cookies:
        web.get("/web/login")
    return str(web.cookies[DEVICE_COOKIE]).split(".")[0]


def sign_in(web: WebClient, login: str = "alice", ip: str = HOME, **data: Any) -> str:
    """Sign `web` in as `login` from `ip`; return the session token (its cookie)."""
    at(web, ip)
    auth = auth_of(web)
    user = auth.login.find_user(login)
    assert user is not None
    token, _ = auth.sessions.create(
        user.uid,
        auth.tenant.clock.now(),
        device_id=device_of(web),
        ip=ip,
        user_agent=CHROME,
        mfa_pending=False,
        persistent=False,
        data=data,
    )
    set_cookie(web, SESSION_COOKIE, token)
    return token


def set_cookie(web: WebClient, name: str, value: str) -> None:
    """Put `value` in `web`'s jar as its only cookie `name` (as a thief copying it would)."""
    for cookie in [c for c in web.cookies.jar if c.name == name]:
        web.cookies.jar.clear(cookie.domain, cookie.path, cookie.name)
    # The standard cookie jar files host-only cookies of dotless hosts under "<host>.local".
    web.cookies.set(name, value, domain="localhost.local", path="/")


def signed_in(web: WebClient) -> bool:
    return web.get("/web").url.path == "/web"
