"""PostgreSQL connections are pinged only after they sat idle (`ping_when_idle`): a connection
that died while idle is replaced unseen; one in steady use is not pinged at all."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from bastion.core.database import (
    IDLE_PING_SECONDS,
    ping_when_idle,
    postgres_admin_engine,
    postgres_create_database,
    postgres_drop_database,
    postgres_engine,
)
from support.postgres import require_postgres

pytestmark = pytest.mark.postgres


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def database() -> Iterator[tuple[str, str]]:
    url = require_postgres()
    name = f"bastion_test_ping_{uuid.uuid4().hex[:12]}"
    postgres_create_database(url, name)
    try:
        yield url, name
    finally:
        postgres_drop_database(url, name)


def _backend(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(url: str, pid: int) -> None:
    admin = postgres_admin_engine(url)
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        admin.dispose()


def _one_connection_engine(url: str, name: str, clock: Clock) -> sa.Engine:
    engine = postgres_engine(url, name)
    # The same set-up on an engine whose pool holds one connection and whose clock we hold.
    single = sa.create_engine(engine.url, pool_size=1, max_overflow=0)
    engine.dispose()
    ping_when_idle(single, clock=clock)
    return single


@contextlib.contextmanager
def _killed_after(database: tuple[str, str], idle: float) -> Iterator[tuple[sa.Engine, int]]:
    """A one-connection engine whose connection was used, then killed, then left `idle` s."""
    url, name = database
    clock = Clock()
    engine = _one_connection_engine(url, name, clock)
    try:
        first = _backend(engine)
        _terminate(url, first)
        clock.now += idle
        yield engine, first
    finally:
        engine.dispose()


def test_a_connection_that_died_while_idle_is_replaced_before_use(
    database: tuple[str, str],
) -> None:
    with _killed_after(database, IDLE_PING_SECONDS + 1) as (engine, first):
        assert _backend(engine) != first  # no error: the ping found it dead


def test_a_connection_in_steady_use_is_not_pinged(database: tuple[str, str]) -> None:
    with _killed_after(database, IDLE_PING_SECONDS - 1) as (engine, first):
        # Not pinged, so the statement meets the dead connection; the pool then drops it.
        with pytest.raises(sa.exc.OperationalError) as failed:
            _backend(engine)
        assert failed.value.connection_invalidated
        assert _backend(engine) != first


def test_tenant_engines_ping_only_when_idle(database: tuple[str, str]) -> None:
    url, name = database
    engine = postgres_engine(url, name)
    try:
        assert not engine.pool._pre_ping  # the every-checkout ping is off
        first = _backend(engine)
        _terminate(url, first)
        with pytest.raises(sa.exc.OperationalError):
            _backend(engine)  # just used, so not pinged
        assert _backend(engine) != first
    finally:
        engine.dispose()
