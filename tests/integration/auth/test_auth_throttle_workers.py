"""Two workers, each with its own LoginThrottle and connection to a shared store (the tenant's
database, or Redis), throttle a brute-force run split between them as if it hit one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bastion.auth.counters import (
    CounterStore,
    RedisCounterStore,
    SqlCounterStore,
    auth_counter,
)
from bastion.auth.schema import create_auth_tables
from bastion.auth.throttle import LoginThrottle
from bastion.core.clock import FixedClock
from bastion.core.database import postgres_engine, sqlite_engine
from bastion.core.tenant import Tenant
from bastion.errors import RateLimitError
from bastion.settings import Settings
from support.postgres import require_postgres
from support.redis import delete_prefix, require_redis, unique_prefix

IP = "203.0.113.10"
Workers = tuple[LoginThrottle, LoginThrottle]


def second_engine(settings: Settings, tenant: Tenant) -> sa.Engine:
    """Another engine on the tenant's database, as a second worker process would open."""
    if settings.database_url is not None:
        return postgres_engine(settings.database_url, tenant.name)
    database = tenant.engine.url.database
    assert database is not None
    return sqlite_engine(Path(database))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres), "redis"])
def backend(request: pytest.FixtureRequest) -> str:
    """The shared store: the conftest's database backends, plus Redis."""
    if request.param == "postgresql":
        require_postgres()
    return str(request.param)


@pytest.fixture
def workers(backend: str, request: pytest.FixtureRequest) -> Iterator[Workers]:
    if backend == "redis":
        first, second = require_redis(), require_redis()
        prefix = unique_prefix("throttle")
        try:
            yield (
                LoginThrottle(RedisCounterStore(first, prefix)),
                LoginThrottle(RedisCounterStore(second, prefix)),
            )
        finally:
            delete_prefix(first, prefix)
            first.close()
            second.close()
        return
    tenant: Tenant = request.getfixturevalue("make_tenant")()
    create_auth_tables(tenant.engine)
    other = second_engine(request.getfixturevalue("settings"), tenant)
    try:
        yield LoginThrottle(SqlCounterStore(tenant.engine)), LoginThrottle(SqlCounterStore(other))
    finally:
        other.dispose()


def attempt(throttle: LoginThrottle, login: str, clock: FixedClock) -> None:
    keys = throttle.keys(login, IP, None)
    throttle.check(keys, clock.now())
    throttle.failed(keys, clock.now())


def test_split_brute_force_is_throttled_as_one(workers: Workers, clock: FixedClock) -> None:
    a, b = workers
    for n in range(5):
        attempt(a if n % 2 == 0 else b, "alice", clock)
    for throttle in (a, b):
        with pytest.raises(RateLimitError) as caught:
            throttle.check(throttle.keys("alice", IP, None), clock.now())
        assert caught.value.retry_after == 2


def test_split_failures_below_limit_pass_on_both(workers: Workers, clock: FixedClock) -> None:
    a, b = workers
    for n in range(4):
        attempt(a if n % 2 == 0 else b, "alice", clock)
    a.check(a.keys("alice", IP, None), clock.now())
    b.check(b.keys("alice", IP, None), clock.now())


def test_block_set_by_one_worker_grows_on_the_other(workers: Workers, clock: FixedClock) -> None:
    a, b = workers
    for _ in range(5):
        attempt(a, "alice", clock)
    clock.advance(seconds=2)
    attempt(b, "alice", clock)  # sixth failure: 4 s
    with pytest.raises(RateLimitError) as caught:
        a.check(a.keys("alice", IP, None), clock.now())
    assert caught.value.retry_after == 4


def test_success_on_one_worker_clears_account_on_the_other(
    workers: Workers, clock: FixedClock
) -> None:
    a, b = workers
    for _ in range(5):
        attempt(a, "alice", clock)
    b.succeeded(b.keys("alice", IP, None), clock.now())
    a.check(a.keys("alice", IP, None), clock.now())


def test_success_on_one_worker_keeps_ip_block_on_the_other(
    workers: Workers, clock: FixedClock
) -> None:
    a, b = workers
    for n in range(20):
        attempt(a, f"user{n}", clock)
    b.succeeded(b.keys("user0", IP, None), clock.now())
    with pytest.raises(RateLimitError):
        a.check(a.keys("user0", IP, None), clock.now())


def test_stores_keep_no_raw_login(workers: Workers, clock: FixedClock) -> None:
    a, _ = workers
    attempt(a, "Marguerite.Dupont@example.org", clock)
    assert "marguerite" not in " ".join(stored_keys(a.store)).casefold()
    assert any(key.startswith("login:acct:") for key in stored_keys(a.store))


def stored_keys(store: CounterStore) -> list[str]:
    if isinstance(store, SqlCounterStore):
        with store.engine.connect() as conn:
            return list(conn.scalars(sa.select(auth_counter.c.key)))
    assert isinstance(store, RedisCounterStore)
    found = store.client.scan_iter(match=store.prefix + "*")
    return [key.decode()[len(store.prefix) :] for key in found]
