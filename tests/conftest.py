"""Shared fixtures: backends (SQLite always; PostgreSQL when reachable, always under CI=true),
settings in a temporary data directory, tenants made and dropped per test, a fixed clock."""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from bastion.bootstrap.tenants import create_tenant, drop_tenant
from bastion.core.clock import FixedClock
from bastion.core.module import DemoOptions, Module
from bastion.core.tenant import Tenant
from bastion.settings import Settings

CI = os.environ.get("CI", "").lower() == "true"
PG_URL = os.environ.get(
    "BASTION_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("BASTION_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def require_postgres() -> str:
    """The PostgreSQL URL; skip when it is down, except in CI where that is a failure."""
    if not _reachable("127.0.0.1", 5432):
        if CI:
            pytest.fail("PostgreSQL at 127.0.0.1:5432 is required under CI=true")
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
    return PG_URL


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql":
        require_postgres()
    return str(request.param)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC))


@pytest.fixture
def settings(tmp_path: Path, backend: str) -> Settings:
    url = PG_URL if backend == "postgresql" else None
    return Settings(data_dir=tmp_path / "var", database_url=url)


TenantFactory = Callable[..., Tenant]


@pytest.fixture
def make_tenant(settings: Settings, clock: FixedClock) -> Iterator[TenantFactory]:
    made: list[Tenant] = []

    def make(
        modules: Sequence[str] = ("base",),
        extra: Sequence[Module] = (),
        demo: DemoOptions | None = None,
    ) -> Tenant:
        name = f"bastion_test_{uuid.uuid4().hex[:12]}"
        tenant = create_tenant(settings, name, modules=modules, extra=extra, demo=demo, clock=clock)
        made.append(tenant)
        return tenant

    yield make
    for tenant in made:
        tenant.dispose()
        drop_tenant(settings, tenant.name)
