"""Shared fixtures: backends (SQLite always; PostgreSQL when reachable, always under CI=true),
settings in a temporary data directory, tenants made and dropped per test, a fixed clock."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from bastion.bootstrap.tenants import create_tenant, drop_tenant
from bastion.core.clock import FixedClock
from bastion.core.module import DemoOptions, Module
from bastion.core.tenant import Tenant
from bastion.settings import Settings
from support.postgres import PG_URL, require_postgres

REDIS_URL = os.environ.get("BASTION_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


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
