"""Databases for the audit integration tests: a SQLite file and, when reachable, PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, event

PG_URL = os.environ.get("BASTION_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432")


def sqlite_engine(path: Path) -> Engine:
    engine = sa.create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _pg_admin() -> Engine:
    return sa.create_engine(f"{PG_URL}/postgres", isolation_level="AUTOCOMMIT")


@pytest.fixture
def pg_engine() -> Iterator[Engine]:
    admin = _pg_admin()
    name = f"bastion_test_audit_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI but unreachable: {exc}")
        pytest.skip("PostgreSQL is not reachable")
    engine = sa.create_engine(f"{PG_URL}/{name}")
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "postgresql":
        yield request.getfixturevalue("pg_engine")
        return
    engine = sqlite_engine(tmp_path / "tenant.sqlite3")
    try:
        yield engine
    finally:
        engine.dispose()
