"""One behaviour suite over every CounterStore (memory, SQLite, PostgreSQL, Redis), and counts that
stay exact when threads hit one key at once."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from bastion.auth.counters import (
    CounterStore,
    MemoryCounterStore,
    RedisCounterStore,
    SqlCounterStore,
    auth_counter,
)
from bastion.core.database import (
    postgres_create_database,
    postgres_drop_database,
    postgres_engine,
    sqlite_engine,
)
from bastion.errors import ConfigError
from support.postgres import require_postgres
from support.redis import REDIS_URL, delete_prefix, require_redis, unique_prefix

# Near the real time: a block set before any hit falls back to Redis's clock for its TTL.
T0 = float(int(time.time()))
WINDOW = 60.0

PG = pytest.param("postgresql", marks=pytest.mark.postgres)
ALL_STORES = ["memory", "sqlite", PG, "redis"]
SHARED_STORES = ["sqlite", PG, "redis"]


@contextlib.contextmanager
def sql_engine(backend: str, directory: Path) -> Iterator[sa.Engine]:
    """An engine on a fresh database holding the auth_counter table."""
    if backend == "sqlite":
        engine = sqlite_engine(directory / "counters.sqlite3")
        drop = None
    else:
        url = require_postgres()
        name = f"bastion_test_{uuid.uuid4().hex[:12]}"
        postgres_create_database(url, name)
        engine = postgres_engine(url, name)
        drop = (url, name)
    try:
        auth_counter.create(engine, checkfirst=True)
        yield engine
    finally:
        engine.dispose()
        if drop is not None:
            postgres_drop_database(*drop)


@pytest.fixture(scope="module")
def pg_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sa.Engine]:
    """One PostgreSQL database for the module (making one per test costs seconds)."""
    with sql_engine("postgresql", tmp_path_factory.mktemp("pg")) as engine:
        yield engine


@contextlib.contextmanager
def open_store(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CounterStore]:
    if kind == "memory":
        yield MemoryCounterStore()
    elif kind == "redis":
        client = require_redis()
        prefix = unique_prefix("counters")
        try:
            yield RedisCounterStore(client, prefix)
        finally:
            delete_prefix(client, prefix)
            client.close()
    elif kind == "sqlite":
        with sql_engine(kind, tmp_path) as engine:
            yield SqlCounterStore(engine)
    else:
        engine = request.getfixturevalue("pg_engine")
        try:
            yield SqlCounterStore(engine)
        finally:
            with engine.begin() as conn:
                conn.execute(sa.delete(auth_counter))


@pytest.fixture(params=ALL_STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CounterStore]:
    with open_store(request.param, request, tmp_path) as opened:
        yield opened


@pytest.fixture(params=SHARED_STORES)
def shared_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CounterStore]:
    with open_store(request.param, request, tmp_path) as opened:
        yield opened


# -- counting ----------------------------------------------------------------------------------


def test_hit_counts_from_one(store: CounterStore) -> None:
    assert [store.hit("k", T0 + i, WINDOW) for i in range(4)] == [1, 2, 3, 4]
    assert store.count("k", T0 + 4, WINDOW) == 4


def test_hit_restarts_when_window_ends(store: CounterStore) -> None:
    store.hit("k", T0, WINDOW)
    store.hit("k", T0 + 30, WINDOW)
    # the window is fixed from the first hit: a hit at T0+30 does not extend it
    assert store.hit("k", T0 + WINDOW, WINDOW) == 1
    assert store.hit("k", T0 + WINDOW + 1, WINDOW) == 2


def test_hit_accumulates_until_window_ends(store: CounterStore) -> None:
    store.hit("k", T0, WINDOW)
    assert store.hit("k", T0 + WINDOW - 0.5, WINDOW) == 2


def test_count_is_zero_for_unknown_key(store: CounterStore) -> None:
    assert store.count("never-hit", T0, WINDOW) == 0


def test_count_is_zero_once_window_ends(store: CounterStore) -> None:
    store.hit("k", T0, WINDOW)
    assert store.count("k", T0 + WINDOW - 0.5, WINDOW) == 1
    assert store.count("k", T0 + WINDOW, WINDOW) == 0


def test_keys_are_independent(store: CounterStore) -> None:
    store.hit("a", T0, WINDOW)
    store.hit("a", T0, WINDOW)
    assert store.hit("b", T0, WINDOW) == 1
    assert store.count("a", T0, WINDOW) == 2


def test_fractional_times_are_kept(store: CounterStore) -> None:
    store.hit("k", T0 + 0.125, 1.5)
    assert store.count("k", T0 + 1.624, 1.5) == 1
    assert store.count("k", T0 + 1.625, 1.5) == 0


def test_read_gives_several_keys_at_once(store: CounterStore) -> None:
    store.hit("a", T0, WINDOW)
    store.hit("a", T0 + 1, WINDOW)
    store.hit("b", T0 + 2.5, WINDOW)
    store.block("b", T0 + 30.5)
    found = store.read(["a", "b", "never-hit"])
    assert set(found) == {"a", "b"}  # nothing held: left out
    assert (found["a"].count, found["a"].window_start, found["a"].blocked_until) == (2, T0, None)
    assert (found["b"].count, found["b"].window_start) == (1, T0 + 2.5)
    assert found["b"].blocked_until == T0 + 30.5


def test_read_agrees_with_count_and_blocked_until(store: CounterStore) -> None:
    store.hit("k", T0, WINDOW)
    store.block("k", T0 + 10)
    store.block("only-blocked", T0 + 5)
    found = store.read(["k", "only-blocked"])
    for at in (T0, T0 + 5, T0 + 10, T0 + WINDOW - 0.5, T0 + WINDOW):
        for key in ("k", "only-blocked"):
            assert found[key].count_at(at, WINDOW) == store.count(key, at, WINDOW)
            assert found[key].blocked_at(at) == store.blocked_until(key, at)


def test_read_of_nothing_held_is_empty(store: CounterStore) -> None:
    store.hit("other", T0, WINDOW)
    assert store.read(["a", "b"]) == {}
    store.reset("other")
    assert store.read(["other"]) == {}


# -- blocking ----------------------------------------------------------------------------------


def test_blocked_until_reports_active_block(store: CounterStore) -> None:
    store.hit("k", T0, WINDOW)
    store.block("k", T0 + 10.5)
    assert store.blocked_until("k", T0) == T0 + 10.5
    assert store.blocked_until("k", T0 + 10.4) == T0 + 10.5


def test_blocked_until_is_none_once_block_ends(store: CounterStore) -> None:
    store.hit("k", T0, WINDOW)
    store.block("k", T0 + 10.5)
    assert store.blocked_until("k", T0 + 10.5) is None
    assert store.blocked_until("k", T0 + 99) is None


def test_blocked_until_is_none_for_unknown_key(store: CounterStore) -> None:
    assert store.blocked_until("never-blocked", T0) is None


def test_block_extends(store: CounterStore) -> None:
    store.block("k", T0 + 10)
    store.block("k", T0 + 20)
    assert store.blocked_until("k", T0) == T0 + 20


def test_block_never_shortens(store: CounterStore) -> None:
    store.block("k", T0 + 20)
    store.block("k", T0 + 10)
    assert store.blocked_until("k", T0 + 15) == T0 + 20


def test_block_without_hits_leaves_count_at_zero(store: CounterStore) -> None:
    store.block("k", T0 + 10)
    assert store.count("k", T0, WINDOW) == 0
    assert store.hit("k", T0, WINDOW) == 1
    assert store.blocked_until("k", T0) == T0 + 10


def test_block_outlives_window_restart(store: CounterStore) -> None:
    store.hit("k", T0, WINDOW)
    store.block("k", T0 + 3 * WINDOW)
    assert store.hit("k", T0 + 2 * WINDOW, WINDOW) == 1
    assert store.blocked_until("k", T0 + 2 * WINDOW) == T0 + 3 * WINDOW


def test_block_is_per_key(store: CounterStore) -> None:
    store.block("a", T0 + 10)
    assert store.blocked_until("b", T0) is None


# -- reset -------------------------------------------------------------------------------------


def test_reset_clears_count_and_block(store: CounterStore) -> None:
    store.hit("k", T0, WINDOW)
    store.block("k", T0 + 10)
    store.reset("k")
    assert store.count("k", T0, WINDOW) == 0
    assert store.blocked_until("k", T0) is None
    assert store.hit("k", T0, WINDOW) == 1


def test_reset_spares_other_keys(store: CounterStore) -> None:
    store.hit("a", T0, WINDOW)
    store.block("a", T0 + 10)
    store.reset("b")
    assert store.count("a", T0, WINDOW) == 1
    assert store.blocked_until("a", T0) == T0 + 10


# -- concurrency -------------------------------------------------------------------------------


def test_concurrent_hits_lose_no_count(shared_store: CounterStore) -> None:
    threads, per_thread = 8, 25
    barrier = threading.Barrier(threads)
    seen: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            barrier.wait()
            got = [shared_store.hit("hot", T0, WINDOW) for _ in range(per_thread)]
        except BaseException as exc:  # surfaced below: a thread's failure must fail the test
            errors.append(exc)
            return
        with lock:
            seen.extend(got)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    # every hit saw a distinct count: none was lost or counted twice
    assert sorted(seen) == list(range(1, threads * per_thread + 1))
    assert shared_store.count("hot", T0, WINDOW) == threads * per_thread


def test_memory_store_concurrent_hits_lose_no_count() -> None:
    store = MemoryCounterStore()
    workers = [
        threading.Thread(target=lambda: [store.hit("hot", T0, WINDOW) for _ in range(500)])
        for _ in range(8)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert store.count("hot", T0, WINDOW) == 4000


# -- backend specifics -------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite", PG])
def test_sql_purge_drops_dead_rows_only(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    with open_store(backend, request, tmp_path) as store:
        assert isinstance(store, SqlCounterStore)
        engine = store.engine
        store.hit("old", T0, WINDOW)
        store.hit("old-but-blocked", T0, WINDOW)
        store.block("old-but-blocked", T0 + 2 * 86_400)
        store.hit("recent", T0 + 86_000, WINDOW)
        assert store.purge(T0 + 86_400) == 1
        with engine.connect() as conn:
            keys = set(conn.scalars(sa.select(auth_counter.c.key)))
        assert keys == {"old-but-blocked", "recent"}
        assert store.purge(T0 + 86_400, older_than=300) == 1
        assert store.count("old-but-blocked", T0 + 86_400, WINDOW) == 0


def test_memory_purge_drops_dead_entries_only() -> None:
    store = MemoryCounterStore()
    store.hit("old", T0, WINDOW)
    store.hit("old-but-blocked", T0, WINDOW)
    store.block("old-but-blocked", T0 + 2 * 86_400)
    store.hit("recent", T0 + 86_000, WINDOW)
    assert store.purge(T0 + 86_400) == 1
    assert store.count("recent", T0 + 86_001, WINDOW) == 1
    assert store.blocked_until("old-but-blocked", T0 + 86_400) == T0 + 2 * 86_400


def test_sql_store_refuses_unknown_dialect() -> None:
    engine = sa.create_mock_engine("mysql://", executor=lambda *_: None)
    with pytest.raises(ConfigError, match="mysql"):
        SqlCounterStore(engine)  # type: ignore[arg-type]


def test_redis_keys_live_under_prefix_with_ttl() -> None:
    client = require_redis()
    prefix = unique_prefix("counters")
    try:
        store = RedisCounterStore(client, prefix)
        store.hit("k", T0, WINDOW)
        assert list(client.scan_iter(match=prefix + "*")) == [(prefix + "k").encode()]
        assert 0 < client.ttl(prefix + "k") <= WINDOW + 1
        store.block("k", T0 + 600)
        assert WINDOW + 1 < client.ttl(prefix + "k") <= 601
        store.hit("k", T0 + 1, WINDOW)  # a later hit keeps the TTL the block needs
        assert WINDOW + 1 < client.ttl(prefix + "k") <= 601
    finally:
        delete_prefix(client, prefix)
        client.close()


def test_redis_stores_with_other_prefixes_do_not_share() -> None:
    client = require_redis()
    first, second = unique_prefix("counters"), unique_prefix("counters")
    try:
        RedisCounterStore(client, first).hit("k", T0, WINDOW)
        assert RedisCounterStore(client, second).count("k", T0, WINDOW) == 0
        assert RedisCounterStore(client, first).count("k", T0, WINDOW) == 1
    finally:
        delete_prefix(client, first)
        delete_prefix(client, second)
        client.close()


def test_redis_store_works_with_decoding_client() -> None:
    plain = require_redis()
    plain.close()
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    prefix = unique_prefix("counters")
    try:
        store = RedisCounterStore(client, prefix)
        assert store.hit("k", T0, WINDOW) == 1
        store.block("k", T0 + 10)
        assert store.count("k", T0, WINDOW) == 1
        assert store.blocked_until("k", T0) == T0 + 10
    finally:
        delete_prefix(client, prefix)
        client.close()
