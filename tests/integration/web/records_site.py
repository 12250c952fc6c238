"""A demo tenant (base, contacts, sales, hr) behind the real web app, for the records UI tests.

`demo_source(root)` makes the demo data directory once per test module; each test serves a
private copy of it (`RecordsSite`), so tests that create, change or delete records stay apart.
Shared by the `test_web_records_*` modules.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bastion.apps.base.demo import DEMO_LOGINS
from bastion.bootstrap.tenants import create_tenant, open_tenant
from bastion.bootstrap.users import add_user
from bastion.core.clock import FixedClock
from bastion.core.module import DemoOptions
from bastion.core.tenant import Tenant
from bastion.settings import Settings
from bastion.web.app import create_app
from support.web_client import WebClient

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
PASSWORD = "records ui demo password 42"
TENANT = "demo"
#: An administrator: its group requires a second factor, so it must enrol before anything.
ADMIN = "root"


def demo_source(root: Path) -> Path:
    """A data directory with the demo tenant and an administrator; every demo user's password
    is PASSWORD."""
    settings = Settings(data_dir=root / "var")
    demo = DemoOptions(passwords=dict.fromkeys(DEMO_LOGINS, PASSWORD))
    tenant = create_tenant(settings, TENANT, demo=demo, clock=FixedClock(NOW))
    try:
        add_user(tenant, ADMIN, PASSWORD, name="Root Admin", groups=("base.group_system",))
    finally:
        tenant.dispose()
    return settings.data_dir


@dataclass
class RecordsSite:
    settings: Settings
    clock: FixedClock

    @classmethod
    def copy_of(cls, source: Path, target: Path) -> RecordsSite:
        shutil.copytree(source, target, symlinks=True)
        return cls(Settings(data_dir=target), FixedClock(NOW))

    @contextlib.contextmanager
    def client(self, login: str | None = None) -> Iterator[WebClient]:
        """A browser-like client, signed in as `login` (if given)."""
        with WebClient(create_app(self.settings, clock=self.clock)) as web:
            if login is not None:
                answer = web.form(
                    "/web/login", "/web/login", {"login": login, "password": PASSWORD}
                )
                assert answer.status_code == 200, answer.text
            yield web

    @contextlib.contextmanager
    def system(self) -> Iterator[Any]:
        """The tenant as the system, to set up or check records behind the UI's back."""
        tenant: Tenant = open_tenant(self.settings, TENANT, clock=self.clock)
        try:
            with tenant.system("records UI test") as env:
                yield env
        finally:
            tenant.dispose()

    def uid(self, login: str) -> int:
        with self.system() as env:
            found: list[int] = env["res.users"].search([("login", "=", login)])
        assert found, login
        return found[0]


def ids_on(page: httpx.Response, model: str) -> list[int]:
    """The record ids a list page links to, in order (one per row)."""
    pattern = re.compile(
        rf'<tr data-testid="records-row">\s*<td><a href="/web/records/{model}/(\d+)"'
    )
    return [int(m) for m in pattern.findall(page.text)]


def count_on(page: httpx.Response) -> str:
    match = re.search(r'data-testid="records-count">([^<]*)<', page.text)
    assert match is not None, "no record count on the page"
    return match.group(1)
