"""A demo tenant (base, contacts, sales, hr with demo data) per backend, shared by the session.

Tests on it only read, or change it inside a block that is rolled back (`scratch`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bastion.apps.base.demo import DEMO_LOGINS
from bastion.bootstrap.tenants import create_tenant, drop_tenant
from bastion.core.clock import FixedClock
from bastion.core.environment import Environment
from bastion.core.module import DemoOptions
from bastion.core.tenant import Tenant
from bastion.settings import Settings
from support.postgres import require_postgres

PASSWORDS = {login: f"demo password of {login}!" for login in DEMO_LOGINS}
NOW = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def demo_tenant(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Tenant]:
    url = require_postgres() if request.param == "postgresql" else None
    data_dir: Path = tmp_path_factory.mktemp("apps") / "var"
    settings = Settings(data_dir=data_dir, database_url=url)
    name = f"bastion_test_{uuid.uuid4().hex[:12]}"
    tenant = create_tenant(
        settings, name, demo=DemoOptions(passwords=dict(PASSWORDS)), clock=FixedClock(NOW)
    )
    try:
        yield tenant
    finally:
        tenant.dispose()
        drop_tenant(settings, name)


@pytest.fixture
def uid_of() -> Callable[[Tenant, str], int]:
    """Find a user's id by login, as the system."""

    def find(tenant: Tenant, login: str) -> int:
        with tenant.system("test looks up a user") as env:
            ids = env["res.users"].search([("login", "=", login)], limit=1)
        assert ids, f"no user {login!r}"
        return ids[0]

    return find


class _Rollback(Exception):
    pass


Scratch = Callable[[Tenant, int], contextlib.AbstractContextManager[Environment]]


@pytest.fixture
def scratch() -> Scratch:
    """An environment whose changes are rolled back when the block ends."""

    @contextlib.contextmanager
    def run(tenant: Tenant, uid: int) -> Iterator[Environment]:
        with contextlib.suppress(_Rollback), tenant.env(uid) as env:
            yield env
            raise _Rollback

    return run
