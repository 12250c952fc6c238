"""The core integration tests' world: a tenant with the test modules (core_models.py), two
companies and five users, built once per backend and worker. Tests change it only inside
transactions that are rolled back (`core_models.scratch`); tests that must commit make their
own tenant with `make_tenant`."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from core_models import PASSWORD, Populated, World, build_world, populate

from bastion.bootstrap.tenants import create_tenant, drop_tenant
from bastion.bootstrap.users import add_user
from bastion.core.clock import FixedClock
from bastion.core.tenant import Tenant
from bastion.settings import Settings
from support.postgres import require_postgres

NOW = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    url = require_postgres() if request.param == "postgresql" else None
    settings = Settings(data_dir=tmp_path_factory.mktemp("core") / "var", database_url=url)
    made: list[Tenant] = []

    def make(**kw: object) -> Tenant:
        name = f"bastion_test_{uuid.uuid4().hex[:12]}"
        tenant = create_tenant(settings, name, clock=FixedClock(NOW), **kw)  # type: ignore[arg-type]
        made.append(tenant)
        return tenant

    try:
        yield build_world(make, request.param)
    finally:
        for tenant in made:
            tenant.dispose()
            drop_tenant(settings, tenant.name)


@pytest.fixture(scope="session", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """The world without records of the test models."""
    yield from _world(request, tmp_path_factory)


@pytest.fixture(scope="session", params=BACKENDS)
def populated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Populated]:
    """Another world, with committed records of the test models."""
    for world in _world(request, tmp_path_factory):
        yield populate(world)


@pytest.fixture
def tenant(make_tenant: Any) -> Tenant:
    """A fresh tenant of its own (the `base` module), for tests that change access data."""
    made: Tenant = make_tenant()
    return made


@pytest.fixture
def alice(tenant: Tenant) -> int:
    """A plain internal user of `tenant`."""
    return add_user(tenant, "alice", PASSWORD)
