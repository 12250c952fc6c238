"""One behaviour suite over every RiskState (memory, SQLite, PostgreSQL, Redis), counts that stay
exact when threads hit one key at once, and what each shared backend adds (bounded rows,
purge, key prefixes and TTLs).

Times sit on bucket boundaries (multiples of 1/4 s for 10 s windows): there the bucketed
windows of SQL and Redis are exact, and every backend must agree with memory.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa

from bastion.core.database import (
    postgres_create_database,
    postgres_drop_database,
    postgres_engine,
    sqlite_engine,
)
from bastion.errors import ConfigError
from bastion.risk.schema import METADATA, create_risk_tables
from bastion.risk.state import Count, LastSeen, Reads, RiskState
from bastion.risk.state_memory import MemoryRiskState
from bastion.risk.state_redis import RedisRiskState
from bastion.risk.state_sql import SqlRiskState, bucket_width, risk_hit
from support.postgres import require_postgres
from support.redis import REDIS_URL, delete_prefix, require_redis, unique_prefix

# A little in the future, on a 4096 s boundary: every bucket width used here divides it, and
# Redis TTLs computed from real time never end a key while a test still needs it.
T0 = float((int(time.time()) // 4096 + 1) * 4096)
W = 10.0

PG = pytest.param("postgresql", marks=pytest.mark.postgres)
ALL = ["memory", "sqlite", PG, "redis"]
SHARED = ["sqlite", PG, "redis"]


@contextlib.contextmanager
def sql_engine(backend: str, directory: Path) -> Iterator[sa.Engine]:
    """An engine on a fresh database holding the risk tables."""
    if backend == "sqlite":
        engine = sqlite_engine(directory / "risk.sqlite3")
        drop = None
    else:
        url = require_postgres()
        name = f"bastion_test_{uuid.uuid4().hex[:12]}"
        postgres_create_database(url, name)
        engine = postgres_engine(url, name)
        drop = (url, name)
    try:
        create_risk_tables(engine)
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


#: Opens a second RiskState on the same storage (another worker).
Twin = Callable[[], RiskState]


@contextlib.contextmanager
def open_state(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[RiskState, Twin]]:
    if kind == "memory":
        state = MemoryRiskState()
        yield state, lambda: state
    elif kind == "redis":
        client = require_redis()
        prefix = unique_prefix("risk")
        try:
            yield RedisRiskState(client, prefix), lambda: RedisRiskState(client, prefix)
        finally:
            delete_prefix(client, prefix)
            client.close()
    elif kind == "sqlite":
        with sql_engine(kind, tmp_path) as engine:
            yield SqlRiskState(engine), lambda: SqlRiskState(engine)
    else:
        engine = request.getfixturevalue("pg_engine")
        try:
            yield SqlRiskState(engine), lambda: SqlRiskState(engine)
        finally:
            with engine.begin() as conn:
                for table in METADATA.sorted_tables:
                    conn.execute(sa.delete(table))


@pytest.fixture(params=ALL)
def state(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RiskState]:
    with open_state(request.param, request, tmp_path) as (opened, _):
        yield opened


@pytest.fixture(params=SHARED)
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[RiskState, Twin]]:
    with open_state(request.param, request, tmp_path) as opened:
        yield opened


# -- sliding-window hits -----------------------------------------------------------------------


def test_hit_returns_the_window_total(state: RiskState) -> None:
    assert [state.hit("k", T0 + i, W) for i in range(4)] == [1, 2, 3, 4]
    assert state.total("k", T0 + 4, W) == 4


def test_hit_adds_its_amount(state: RiskState) -> None:
    assert state.hit("k", T0, W, amount=3) == 3
    assert state.hit("k", T0 + 1, W, amount=2) == 5


def test_window_slides(state: RiskState) -> None:
    state.hit("k", T0, W)
    state.hit("k", T0 + 5, W)
    assert state.total("k", T0 + 9.75, W) == 2
    assert state.total("k", T0 + W, W) == 1  # (now - window, now]: T0 itself is out
    assert state.total("k", T0 + 14.75, W) == 1
    assert state.total("k", T0 + 15, W) == 0


def test_hit_forgets_what_left_the_window(state: RiskState) -> None:
    state.hit("k", T0, W, amount=3)
    state.hit("k", T0 + 9, W)
    assert state.hit("k", T0 + W, W) == 2


def test_quarter_seconds_are_kept_for_short_windows(state: RiskState) -> None:
    state.hit("k", T0 + 0.25, W)
    assert state.total("k", T0 + 10, W) == 1
    assert state.total("k", T0 + 10.25, W) == 0


def test_long_windows_count_whole_buckets(state: RiskState) -> None:
    hour = 3600.0  # buckets of 64 s
    for i in range(10):
        state.hit("k", T0 + 64 * i, hour)
    assert state.total("k", T0 + 640, hour) == 10
    assert state.total("k", T0 + hour + 64, hour) == 8


def test_total_ignores_later_hits(state: RiskState) -> None:
    state.hit("k", T0 + 5, W)
    assert state.total("k", T0, W) == 0


def test_total_is_zero_for_unknown_key(state: RiskState) -> None:
    assert state.total("never", T0, W) == 0


def test_hit_keys_are_independent(state: RiskState) -> None:
    state.hit("bruteforce:ip:203.0.113.7", T0, W)
    state.hit("bruteforce:ip:203.0.113.7", T0, W)
    assert state.hit("bruteforce:ip:203.0.113.8", T0, W) == 1


# -- distinct members --------------------------------------------------------------------------


def test_members_count_distinct(state: RiskState) -> None:
    assert [state.add_member("k", m, T0, W) for m in ("a", "b", "a")] == [1, 2, 2]
    assert state.members("k", T0, W) == 2


def test_members_leave_the_window(state: RiskState) -> None:
    state.add_member("k", "a", T0, W)
    state.add_member("k", "b", T0 + 5, W)
    assert state.add_member("k", "c", T0 + W, W) == 2
    assert state.members("k", T0 + 15, W) == 1


def test_member_seen_again_stays(state: RiskState) -> None:
    state.add_member("k", "a", T0, W)
    state.add_member("k", "a", T0 + 8, W)
    assert state.members("k", T0 + 12, W) == 1


def test_members_is_zero_for_unknown_key(state: RiskState) -> None:
    assert state.members("never", T0, W) == 0


def test_member_keys_are_independent(state: RiskState) -> None:
    state.add_member("a", "x", T0, W)
    assert state.add_member("b", "y", T0, W) == 1


# -- frequencies -------------------------------------------------------------------------------


def test_frequency_of_unseen_feature_is_zero(state: RiskState) -> None:
    assert state.frequency("*", "login_model:country", "CH") == (0.0, 0.0)


def test_bump_counts_values_and_totals(state: RiskState) -> None:
    for value in ("CH", "CH", "FR"):
        state.bump("u:7", "login_model:country", value)
    assert state.frequency("u:7", "login_model:country", "CH") == (2.0, 3.0)
    assert state.frequency("u:7", "login_model:country", "FR") == (1.0, 3.0)
    assert state.frequency("u:7", "login_model:country", "DE") == (0.0, 3.0)


def test_bump_adds_fractions(state: RiskState) -> None:
    state.bump("*", "f", "v", 0.5)
    state.bump("*", "f", "v", 0.25)
    assert state.frequency("*", "f", "v") == (0.75, 0.75)


def test_scopes_and_features_are_independent(state: RiskState) -> None:
    state.bump("u:7", "f", "v")
    state.bump("u:8", "f", "v")
    state.bump("u:7", "g", "w")
    assert state.frequency("u:7", "f", "v") == (1.0, 1.0)
    assert state.frequency("u:7", "g", "v") == (0.0, 1.0)


def test_long_values_stay_distinct(state: RiskState) -> None:
    long_a, long_b = "x" * 300 + "a", "x" * 300 + "b"
    state.bump("*", "f", long_a)
    assert state.frequency("*", "f", long_a) == (1.0, 1.0)
    assert state.frequency("*", "f", long_b) == (0.0, 1.0)


# -- last events -------------------------------------------------------------------------------


def test_last_seen_round_trips(state: RiskState) -> None:
    assert state.last_seen("travel:u:7") is None
    seen = LastSeen(T0 + 0.5, "2001:db8::1", 4_200_000_000, "CH", 46.8, 8.23)
    state.set_last_seen("travel:u:7", seen)
    assert state.last_seen("travel:u:7") == seen


def test_last_seen_keeps_unknowns_and_is_replaced(state: RiskState) -> None:
    state.set_last_seen("k", LastSeen(T0, "203.0.113.7", 64500, "CH", 46.8, 8.2))
    unknown = LastSeen(T0 + 60, "10.0.0.1", None, None, None, None)
    state.set_last_seen("k", unknown)
    assert state.last_seen("k") == unknown


# -- flags -------------------------------------------------------------------------------------


def test_flag_is_up_until_its_end(state: RiskState) -> None:
    assert state.flag_until("stuffing:defensive", T0) is None
    state.set_flag("stuffing:defensive", T0 + 600.5)
    assert state.flag_until("stuffing:defensive", T0 + 600) == T0 + 600.5
    assert state.flag_until("stuffing:defensive", T0 + 600.5) is None


def test_flag_is_extended_never_shortened(state: RiskState) -> None:
    state.set_flag("f", T0 + 600)
    state.set_flag("f", T0 + 300)
    assert state.flag_until("f", T0) == T0 + 600
    state.set_flag("f", T0 + 900)
    assert state.flag_until("f", T0) == T0 + 900


# -- window keys -------------------------------------------------------------------------------


def test_window_key_is_stable_within_window(state: RiskState) -> None:
    key = state.window_key("stuffing:tag", T0, 256)  # T0 starts a window of 256 s
    assert isinstance(key, bytes)
    assert len(key) == 32
    assert state.window_key("stuffing:tag", T0 + 255.5, 256) == key


def test_window_key_changes_with_window(state: RiskState) -> None:
    first = state.window_key("stuffing:tag", T0, 256)
    assert state.window_key("stuffing:tag", T0 + 256, 256) != first
    assert state.window_key("other", T0, 256) != first


# -- samples -----------------------------------------------------------------------------------


def test_samples_keep_order_newest_last(state: RiskState) -> None:
    assert state.samples("login_model:log-risk") == []
    for value in (0.5, -1.25, 3.0):
        state.add_sample("login_model:log-risk", value)
    assert state.samples("login_model:log-risk") == [0.5, -1.25, 3.0]


def test_samples_keep_only_the_newest(state: RiskState) -> None:
    for value in range(6):
        state.add_sample("s", float(value), keep=3)
    assert state.samples("s") == [3.0, 4.0, 5.0]
    assert state.samples("other") == []


# -- shared between workers --------------------------------------------------------------------


def test_workers_share_counts_flags_and_keys(shared: tuple[RiskState, Twin]) -> None:
    first, twin = shared
    second = twin()
    first.hit("k", T0, W)
    assert second.hit("k", T0 + 1, W) == 2
    first.set_flag("f", T0 + 60)
    assert second.flag_until("f", T0) == T0 + 60
    assert second.window_key("tag", T0, 300) == first.window_key("tag", T0, 300)


def test_concurrent_hits_lose_no_count(shared: tuple[RiskState, Twin]) -> None:
    state, _ = shared
    threads, per_thread = 8, 20
    seen: list[int] = []
    errors: list[BaseException] = []
    barrier, lock = threading.Barrier(threads), threading.Lock()

    def work(n: int) -> None:
        try:
            barrier.wait()
            got = [state.hit("hot", T0, W) for _ in range(per_thread)]
            state.add_member("who", f"m{n}", T0, W)
            state.bump("*", "f", "v")
        except BaseException as exc:  # surfaced below: a thread's failure must fail the test
            errors.append(exc)
            return
        with lock:
            seen.extend(got)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    assert sorted(seen) == list(range(1, threads * per_thread + 1))
    assert state.total("hot", T0, W) == threads * per_thread
    assert state.members("who", T0, W) == threads
    assert state.frequency("*", "f", "v") == (float(threads), float(threads))


# -- many at once ------------------------------------------------------------------------------


def test_hits_with_amount_zero_read_without_adding(state: RiskState) -> None:
    state.hit("read", T0, W, 3)
    assert state.hits([("add", W), ("read", W), ("new", W)], T0, [2, 0, 0]) == [2, 3, 0]
    assert state.counts([Count("hits", k, W) for k in ("add", "read", "new")], T0) == [2, 3, 0]


def test_hits_refuse_amounts_that_do_not_match_the_keys(state: RiskState) -> None:
    with pytest.raises(ValueError, match="one amount"):
        state.hits([("a", W), ("b", W)], T0, [1])
    with pytest.raises(ValueError, match="one amount"):
        state.hits([("a", W)], T0, [-1])
    assert state.counts([Count("hits", "a", W)], T0) == [0]  # nothing was added


def test_many_at_once_agree_with_one_by_one(state: RiskState) -> None:
    assert state.hits([("a", W), ("b", W), ("a", W)], T0) == [1, 1, 2]
    state.hit("a", T0 + 1, W)
    state.add_member("m", "x", T0, W)
    state.add_member("m", "y", T0 + 1, W)
    reads = [Count("hits", "a", W), Count("members", "m", W), Count("hits", "none", W)]
    assert state.counts(reads, T0 + 1) == [3, 2, 0]
    assert state.counts(reads, T0 + 10.5) == [1, 1, 0]  # the window slid past T0
    assert state.counts([], T0) == []
    state.set_flag("up", T0 + 60)
    state.set_flag("over", T0 + 5)
    assert state.flags_until(["up", "over", "never"], T0 + 10) == [T0 + 60, None, None]
    assert state.flags_until([], T0) == []
    state.bump_many([("u:7", "f", "v", 1.0), ("u:7", "f", "w", 2.0), ("*", "f", "v", 1.0)])
    state.bump_many([])
    assert state.frequencies([("u:7", "f", "v"), ("u:7", "f", "w"), ("u:7", "f", "z"),
                              ("u:8", "f", "v"), ("*", "f", "v")]) == [
        (1.0, 3.0), (2.0, 3.0), (0.0, 3.0), (0.0, 0.0), (1.0, 1.0)
    ]  # fmt: skip
    assert state.frequencies([]) == []


def test_many_at_once_span_more_rows_than_one_statement_holds(state: RiskState) -> None:
    """Past `state_sql.CHUNK` rows the SQL state splits a call: answers keep their order."""
    many = 450
    state.bump_many([("*", "f", f"v{n}", float(n)) for n in range(1, many + 1)])
    reads = [("*", "f", f"v{n}") for n in range(many + 1, 0, -1)]  # one unseen value first
    total = float(many * (many + 1) // 2)
    assert state.frequencies(reads) == [(0.0, total)] + [
        (float(n), total) for n in range(many, 0, -1)
    ]
    state.hits([(f"k{n}", W) for n in range(many)], T0, [n % 3 for n in range(many)])
    reads_c = [Count("hits" if n % 2 else "members", f"k{n}", W) for n in range(many)]
    assert state.counts(reads_c, T0) == [n % 3 if n % 2 else 0 for n in range(many)]


def test_many_at_once_take_long_keys_and_repeats(state: RiskState) -> None:
    long_key = "k" * 1000
    state.set_flag(long_key, T0 + 60)
    assert state.flags_until([long_key, "other", long_key], T0) == [T0 + 60, None, T0 + 60]
    state.bump_many([("u:7", "f" * 100, "v" * 1000, 2.0)])
    assert state.frequencies([("u:7", "f" * 100, "v" * 1000)] * 2) == [(2.0, 2.0)] * 2
    state.hit(long_key, T0, W, 4)
    assert state.counts([Count("hits", long_key, W)] * 2, T0) == [4, 4]


def test_fetch_answers_as_the_single_reads_do(state: RiskState) -> None:
    state.hits([("a", W), ("a", W)], T0)
    state.add_member("m", "x", T0, W)
    state.set_flag("up", T0 + 60)
    state.set_flag("over", T0 + 5)
    state.bump_many([("u:7", "f", "v", 1.0), ("u:7", "f", "w", 2.0)])
    seen = LastSeen(T0, "203.0.113.7", 64500, "CH", 46.2, 6.1)
    state.set_last_seen("l", seen)
    counts = (Count("hits", "a", W), Count("members", "m", W), Count("hits", "none", W))
    freqs = (("u:7", "f", "v"), ("u:7", "f", "z"), ("u:8", "f", "v"))
    reads = Reads(counts, ("up", "over", "never"), freqs, ("l", "unseen"))
    now = T0 + 5  # the hits still in the window, the flag "over" just down
    fetched = state.fetch(reads + reads, now)  # a read named twice is answered once
    assert fetched.now == now
    assert fetched.counts == dict(zip(counts, state.counts(counts, now), strict=True))
    assert fetched.counts == {counts[0]: 2, counts[1]: 1, counts[2]: 0}
    assert fetched.flags == {"up": T0 + 60, "over": None, "never": None}
    assert fetched.frequencies == {freqs[0]: (1.0, 3.0), freqs[1]: (0.0, 3.0), freqs[2]: (0.0, 0.0)}
    assert fetched.last_seen == {"l": seen, "unseen": None}
    assert state.fetch(Reads(), now) == type(fetched)(now, {}, {}, {}, {})
    only = state.fetch(Reads(last_seen=("l",)), now)  # one kind alone
    assert only.last_seen == {"l": seen} and not only.counts and not only.flags


def test_fetch_adds_after_its_reads_where_the_store_can(state: RiskState) -> None:
    state.hits([("a", W)], T0)
    reads = Reads(counts=(Count("hits", "a", W),), adds=(("a", W, 2), ("b", W, 0)))
    fetched = state.fetch(reads, T0)
    assert fetched.counts == {Count("hits", "a", W): 1}  # read before the adds
    if isinstance(state, SqlRiskState):  # adds wait for the stage's write transaction
        assert fetched.added == {}
        assert state.counts([Count("hits", "a", W)], T0) == [1]
    else:
        assert fetched.added == {("a", W): (2, 3), ("b", W): (0, 0)}
        assert state.counts([Count("hits", "a", W), Count("hits", "b", W)], T0) == [3, 0]


def test_fetch_joins_after_its_reads_where_the_store_can(state: RiskState) -> None:
    state.add_member("m", "x", T0, W)
    reads = Reads(counts=(Count("members", "m", W),), joins=(("m", "y", W), ("n", "x", W)))
    fetched = state.fetch(reads, T0)
    assert fetched.counts == {Count("members", "m", W): 1}  # read before the joins
    if isinstance(state, SqlRiskState):  # joins wait for the stage's write transaction
        assert fetched.joined == {}
        assert state.members("m", T0, W) == 1
    else:
        assert fetched.joined == {("m", "y", W): 2, ("n", "x", W): 1}
        assert state.members("m", T0, W) == 2 and state.members("n", T0, W) == 1


def test_fetch_refuses_two_adds_to_one_counter(state: RiskState) -> None:
    with pytest.raises(ValueError, match="same counter"):
        state.fetch(Reads(adds=(("a", W, 1), ("a", W, 2))), T0)
    assert state.counts([Count("hits", "a", W)], T0) == [0]  # and added nothing
    assert state.fetch(Reads(adds=(("a", W, 1), ("a", W, 1))), T0).now == T0  # the same, once


def test_redis_fetch_that_the_server_half_knows_adds_once() -> None:
    """After a restart one worker may have loaded the adding script again and not the
    reading ones: only the refused calls run again, so nothing is counted twice."""
    client = require_redis()
    prefix = unique_prefix("risk")
    try:
        state = RedisRiskState(client, prefix)
        state.hits([("a", W)], T0)
        client.script_flush()
        state.hits([("other", W)], T0)  # loads the adding script only
        reads = Reads(counts=(Count("hits", "a", W),), adds=(("a", W, 5),))
        fetched = state.fetch(reads, T0)
        assert fetched.added == {("a", W): (5, 6)}
        assert state.counts([Count("hits", "a", W)], T0) == [6]
    finally:
        delete_prefix(client, prefix)
        client.close()


def test_redis_fetch_is_one_round_trip() -> None:
    """Counted by the server: every command of the fetch came in one pipeline, and it is
    what the stage's reads would have cost one call at a time."""
    client = require_redis()
    prefix = unique_prefix("risk")
    try:
        state = RedisRiskState(client, prefix)
        state.hits([("a", W)], T0)
        state.bump_many([("u:7", "f", "v", 1.0)])
        reads = Reads(
            (Count("hits", "a", W), Count("members", "m", W)),
            ("up", "never"),
            (("u:7", "f", "v"), ("*", "f", "v")),
            ("l",),
        )
        sent: list[int] = []
        real = client.connection_pool.get_connection

        def counting(*args: object, **kwargs: object) -> redis.Connection:
            connection = real(*args, **kwargs)  # type: ignore[arg-type]
            sent.append(1)
            return connection

        client.connection_pool.get_connection = counting  # type: ignore[method-assign]
        try:
            fetched = state.fetch(reads, T0)
        finally:
            client.connection_pool.get_connection = real  # type: ignore[method-assign]
        assert len(sent) == 1
        assert fetched.counts[Count("hits", "a", W)] == 1
        assert fetched.frequencies[("u:7", "f", "v")] == (1.0, 1.0)
        client.script_flush()  # a server that forgot its scripts: fetched again, same answers
        assert state.fetch(reads, T0) == fetched
    finally:
        delete_prefix(client, prefix)
        client.close()


def test_many_at_once_are_shared_by_workers(shared: tuple[RiskState, Twin]) -> None:
    first, twin = shared
    first.hits([("k", W)], T0)
    first.bump_many([("*", "f", "v", 1.0)])
    other = twin()
    assert other.counts([Count("hits", "k", W)], T0) == [1]
    assert other.hits([("k", W)], T0) == [2]
    assert other.frequencies([("*", "f", "v")]) == [(1.0, 1.0)]


# -- batches -----------------------------------------------------------------------------------


def test_write_batch_sees_its_own_writes_and_shares_them_when_done(
    shared: tuple[RiskState, Twin],
) -> None:
    state, twin = shared
    with state.batch(write=True):
        assert state.hit("k", T0, W) == 1
        assert state.hit("k", T0 + 1, W) == 2
        state.set_flag("f", T0 + 60)
        assert state.flag_until("f", T0) == T0 + 60
        state.bump("u:7", "f", "v")
        assert state.frequency("u:7", "f", "v") == (1.0, 1.0)
        with state.batch(write=False):  # joins: reads see the batch's writes
            assert state.total("k", T0 + 1, W) == 2
    other = twin()
    assert other.total("k", T0 + 1, W) == 2
    assert other.flag_until("f", T0) == T0 + 60
    assert other.frequency("u:7", "f", "v") == (1.0, 1.0)


def test_writes_inside_a_read_batch_still_land(shared: tuple[RiskState, Twin]) -> None:
    state, twin = shared
    with state.batch(write=False):
        assert state.total("k", T0, W) == 0
        assert state.hit("k", T0, W) == 1  # its own transaction, not the read-only one
        with state.batch(write=True):  # a write batch cannot join a read-only one
            state.set_flag("f", T0 + 60)
    assert twin().total("k", T0, W) == 1
    assert twin().flag_until("f", T0) == T0 + 60


@pytest.mark.parametrize("backend", ["sqlite", PG])
def test_sql_write_batch_that_fails_writes_nothing(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    with open_state(backend, request, tmp_path) as (state, twin):
        state.hit("k", T0, W)
        with pytest.raises(RuntimeError), state.batch(write=True):
            state.hit("k", T0 + 1, W)
            state.set_flag("f", T0 + 60)
            raise RuntimeError("a detector failed half way")
        assert twin().total("k", T0 + 1, W) == 1
        assert twin().flag_until("f", T0) is None
        with state.batch(write=True):  # the state is usable again, outside the failed batch
            assert state.hit("k", T0 + 1, W) == 2


@pytest.mark.parametrize("backend", ["sqlite", PG])
def test_sql_batch_begins_its_transaction_at_its_first_call(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A stage that writes nothing (a completed sign-in) costs no transaction; one that
    reads and writes costs one."""
    with open_state(backend, request, tmp_path) as (state, _):
        assert isinstance(state, SqlRiskState)
        begun: list[object] = []

        def began(conn: object) -> None:
            begun.append(conn)

        sa.event.listen(state.engine, "begin", began)
        try:
            with state.batch(write=True), state.batch(write=False):
                pass
            assert begun == []
            with state.batch(write=True):
                state.total("k", T0, W)
                state.hit("k", T0, W)
                state.set_flag("f", T0 + 60)
            assert len(begun) == 1
        finally:
            sa.event.remove(state.engine, "begin", began)
        assert state.total("k", T0, W) == 1 and state.flag_until("f", T0) == T0 + 60


@pytest.mark.parametrize("backend", ["sqlite", PG])
def test_sql_batches_belong_to_their_thread(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    with open_state(backend, request, tmp_path) as (state, _):
        seen: list[int] = []
        errors: list[BaseException] = []

        def other_thread() -> None:
            try:  # not in the main thread's batch: its own transaction, seen when it commits
                seen.append(state.hit("k", T0, W))
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        with state.batch(write=False):
            assert state.total("k", T0, W) == 0
            worker = threading.Thread(target=other_thread)
            worker.start()
            worker.join(timeout=30)
        assert errors == [] and seen == [1]
        assert state.total("k", T0, W) == 1


# -- backend specifics -------------------------------------------------------------------------


def test_bucket_width_is_a_power_of_two_64th_of_the_window() -> None:
    assert [bucket_width(w) for w in (10, 64, 300, 3600)] == [0.25, 1.0, 8.0, 64.0]
    with pytest.raises(ValueError):
        bucket_width(0)


@pytest.mark.parametrize("backend", ["sqlite", PG])
def test_sql_rows_per_key_stay_bounded(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    with open_state(backend, request, tmp_path) as (state, _):
        assert isinstance(state, SqlRiskState)
        for i in range(400):  # 100 s of hits every 1/4 s, window 10 s
            state.hit("flood", T0 + i / 4, W)
        with state.engine.connect() as conn:
            rows = conn.execute(sa.select(sa.func.count()).select_from(risk_hit)).scalar_one()
        assert rows <= W / bucket_width(W) + 2
        assert state.total("flood", T0 + 99.75, W) == 40


@pytest.mark.parametrize("backend", ["sqlite", PG])
def test_sql_purge_keeps_what_is_still_needed(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    with open_state(backend, request, tmp_path) as (state, _):
        assert isinstance(state, SqlRiskState)
        state.hit("old", T0, W)
        state.hit("recent", T0 + 100, W)
        state.add_member("m-old", "a", T0, W)
        state.add_member("m-recent", "a", T0 + 100, W)
        state.set_flag("f-old", T0 + 50)
        state.set_flag("f-up", T0 + 500)
        state.window_key("tag", T0, 60)
        state.set_last_seen("l", LastSeen(T0, "203.0.113.7", None, None, None, None))
        state.bump("u:7", "f", "v")
        state.add_sample("s", 1.0)
        assert state.purge(T0 + 105) == 4  # old hit, old member, old flag, old window key
        assert state.total("recent", T0 + 105, W) == 1
        assert state.members("m-recent", T0 + 105, W) == 1
        assert state.flag_until("f-up", T0 + 105) == T0 + 500
        assert state.last_seen("l") is not None
        assert state.purge(T0 + 91 * 86_400) == 4  # + recent hit, member, flag; last seen
        assert state.last_seen("l") is None
        assert state.frequency("u:7", "f", "v") == (1.0, 1.0)  # profiles are kept
        assert state.samples("s") == [1.0]


def test_sql_state_refuses_unknown_dialect() -> None:
    engine = sa.create_mock_engine("mysql://", executor=lambda *_: None)
    with pytest.raises(ConfigError, match="mysql"):
        SqlRiskState(engine)  # type: ignore[arg-type]


def test_create_risk_tables_is_idempotent(tmp_path: Path) -> None:
    engine = sqlite_engine(tmp_path / "twice.sqlite3")
    try:
        create_risk_tables(engine)
        create_risk_tables(engine)
        names = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"risk_event", "risk_hit", "risk_member", "risk_freq", "risk_flag"} <= names


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_redis_windows_count_as_sql_ones_at_any_time(seed: int, tmp_path: Path) -> None:
    """Redis keeps a running sum per window and SQL sums its rows: both count the buckets
    in (now - window, now], whatever the times (off the bucket grid, idle for longer than
    the window, reads at an earlier time than the last hit, a worker whose clock is a day
    ahead, several keys in one call)."""
    rng = random.Random(seed)
    client = require_redis()
    prefix = unique_prefix("risk")
    try:
        with sql_engine("sqlite", tmp_path) as engine:
            sql, fast = SqlRiskState(engine), RedisRiskState(client, prefix)
            now = T0
            windows = [W, 300.0, 3600.0]
            for _ in range(400):
                now += rng.choice([0.0, 0.01, 0.3, 1.7, 13.0, 90.0, 700.0, 5000.0])
                chosen = [rng.choice(windows) for _ in range(3)]
                keys = list(dict.fromkeys((f"k{w:g}:{rng.randrange(2)}", w) for w in chosen))
                amounts = [rng.choice([0, 1, 1, 2]) for _ in keys]
                when = now + 86_400 if rng.random() < 0.01 else now  # a clock a day ahead
                assert fast.hits(keys, when, amounts) == sql.hits(keys, when, amounts)
                at = now - rng.choice([0.0, 0.0, 0.2, 3.0])
                reads = [Count("hits", f"k{w:g}:{n}", w) for n in range(2) for w in windows]
                assert fast.counts(reads, at) == sql.counts(reads, at), (now, at)
    finally:
        delete_prefix(client, prefix)
        client.close()


def test_redis_window_hit_with_another_width_starts_again() -> None:
    """A key is kept in the bucket width of the window it is hit with (the detectors name
    their keys per window): another window's hit starts it again, a read over another
    window finds nothing, and neither walks the other's buckets."""
    client = require_redis()
    prefix = unique_prefix("risk")
    try:
        state = RedisRiskState(client, prefix)
        assert state.hits([("k", W)], T0, [3]) == [3]
        assert state.counts([Count("hits", "k", 3600.0)], T0) == [0]
        assert state.hits([("k", 3600.0)], T0, [1]) == [1]
        assert state.counts([Count("hits", "k", 3600.0), Count("hits", "k", W)], T0) == [1, 0]
    finally:
        delete_prefix(client, prefix)
        client.close()


def test_redis_window_read_alone_writes_nothing() -> None:
    client = require_redis()
    prefix = unique_prefix("risk")
    try:
        state = RedisRiskState(client, prefix)
        assert state.hits([("never", W)], T0, [0]) == [0]
        assert state.counts([Count("hits", "never", W)], T0) == [0]
        assert list(client.scan_iter(match=prefix + "*")) == []
    finally:
        delete_prefix(client, prefix)
        client.close()


def test_redis_keys_live_under_prefix_with_ttl() -> None:
    client = require_redis()
    prefix = unique_prefix("risk")
    try:
        state = RedisRiskState(client, prefix)
        state.hit("k", T0, W)
        state.add_member("m", "a", T0, W)
        state.set_flag("f", T0 + 600)
        state.window_key("tag", T0, 300)
        keys = {k.decode() for k in client.scan_iter(match=prefix + "*")}
        assert keys == {
            prefix + "w:k",
            prefix + "m:m",
            prefix + "g:f",
            f"{prefix}k:tag:{int(T0 // 300)}",
        }
        for key in keys:
            assert client.ttl(key) > 0
        assert client.ttl(prefix + "w:k") <= W + 61
        assert client.ttl(prefix + "g:f") > 600
    finally:
        delete_prefix(client, prefix)
        client.close()


def test_redis_states_with_other_prefixes_do_not_share() -> None:
    client = require_redis()
    first, second = unique_prefix("risk"), unique_prefix("risk")
    try:
        RedisRiskState(client, first).hit("k", T0, W)
        RedisRiskState(client, first).bump("*", "f", "v")
        assert RedisRiskState(client, second).total("k", T0, W) == 0
        assert RedisRiskState(client, second).frequency("*", "f", "v") == (0.0, 0.0)
    finally:
        delete_prefix(client, first)
        delete_prefix(client, second)
        client.close()


def test_redis_many_at_once_survive_a_server_that_forgot_its_scripts() -> None:
    client = require_redis()
    prefix = unique_prefix("risk")
    try:
        state = RedisRiskState(client, prefix)
        assert state.hits([("k", W), ("k", W)], T0) == [1, 2]
        client.script_flush()  # as after a restart of the server
        assert state.hits([("k", W)], T0) == [3]  # counted once, not twice
        client.script_flush()
        assert state.counts([Count("hits", "k", W), Count("members", "m", W)], T0) == [3, 0]
    finally:
        delete_prefix(client, prefix)
        client.close()


def test_redis_replies_are_parsed_in_c() -> None:
    """hiredis is installed with Bastion: redis-py's own parser cost as much as the round
    trip on a sign-in's reads."""
    assert redis.utils.HIREDIS_AVAILABLE
    client = require_redis()
    try:
        connection = client.connection_pool.get_connection()
        assert type(connection._parser).__name__ == "_HiredisParser"
        client.connection_pool.release(connection)
    finally:
        client.close()


def test_redis_state_works_with_decoding_client() -> None:
    require_redis().close()
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    prefix = unique_prefix("risk")
    try:
        state = RedisRiskState(client, prefix)
        assert state.hit("k", T0, W) == 1
        assert state.total("k", T0, W) == 1
        state.bump("*", "f", "v")
        assert state.frequency("*", "f", "v") == (1.0, 1.0)
        state.set_last_seen("l", LastSeen(T0, "203.0.113.7", 64500, "CH", None, None))
        assert state.last_seen("l") == LastSeen(T0, "203.0.113.7", 64500, "CH", None, None)
        assert len(state.window_key("tag", T0, 300)) == 32
        state.add_sample("s", 2.5)
        assert state.samples("s") == [2.5]
    finally:
        delete_prefix(client, prefix)
        client.close()
