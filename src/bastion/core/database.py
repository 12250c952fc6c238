"""Database engines for tenants: SQLite files by default, PostgreSQL databases in production.

Both backends are made to behave the same for the ORM: case-sensitive `like` with `\\` as the
escape character, Unicode-aware `lower()` (what `ilike` uses), code-point string ordering and
foreign keys enforced.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import make_url

from bastion.core import walcheckpoint
from bastion.errors import TenantError

TENANT_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
#: A pooled PostgreSQL connection idle for longer than this is pinged before it is handed out.
IDLE_PING_SECONDS = 5.0
_IDLE_SINCE = "bastion_idle_since"
#: The execution option of `reading()` connections on SQLite: no BEGIN (`_begin_statement`).
_AUTOCOMMIT = "bastion_autocommit"
#: Where a pooled SQLite connection keeps the BEGIN of its current user (None: none at all).
_BEGIN = "bastion_begin"


def check_tenant_name(name: str) -> str:
    if not TENANT_NAME.fullmatch(name):
        raise TenantError(
            f"'{name[:80]}' is not a valid tenant name: use 1 to 63 lowercase letters, digits "
            "or underscores, starting with a letter."
        )
    return name


@lru_cache(maxsize=1024)
def _like_regex(pattern: str, escape: str | None) -> re.Pattern[str]:
    out: list[str] = []
    chars = iter(pattern)
    for ch in chars:
        if escape is not None and ch == escape:
            nxt = next(chars, "")
            out.append(re.escape(nxt))
        elif ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out), re.DOTALL)


def like_match(pattern: str, value: str, escape: str | None = "\\") -> bool:
    """SQL LIKE, case-sensitive, as both backends evaluate it for Bastion."""
    return _like_regex(pattern, escape).fullmatch(value) is not None


def _sqlite_like(pattern: Any, value: Any, escape: Any = None) -> int | None:
    if pattern is None or value is None:
        return None
    return int(like_match(str(pattern), str(value), escape))


def _sqlite_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _on_sqlite_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # BastionSQLiteDialect sends the BEGIN
    dbapi_conn.create_function("like", 2, _sqlite_like, deterministic=True)
    dbapi_conn.create_function("like", 3, _sqlite_like, deterministic=True)
    dbapi_conn.create_function("lower", 1, _sqlite_lower, deterministic=True)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()
    walcheckpoint.on_connect(dbapi_conn)  # checkpoints run in the background


def _begin_statement(options: Mapping[str, Any]) -> str | None:
    # IMMEDIATE takes the write lock up front: two transactions that read then write can
    # never deadlock, and the audit chain's head is read under the lock. Transactions that
    # promise to only read start deferred, so readers do not queue behind writers. A
    # connection from `reading()` begins nothing: each of its statements is its own
    # transaction, as on PostgreSQL.
    if options.get(_AUTOCOMMIT):
        return None
    return "BEGIN" if options.get("bastion_readonly") else "BEGIN IMMEDIATE"


class BastionSQLiteDialect(SQLiteDialect_pysqlite):
    """pysqlite, with the transactions begun by Bastion (`_begin_statement`).

    The driver runs in autocommit (`_on_sqlite_connect`); this dialect sends the BEGIN that
    a connection's execution options call for, kept in the pooled connection's `info` when
    they are set and cleared at each checkout. SQLAlchemy's way, a `begin` event, made every
    statement of the engine go through the event machinery: a third of a small read's cost
    (bench/rpc.py)."""

    supports_statement_cache = True

    def set_connection_execution_options(
        self, connection: sa.Connection, opts: Mapping[str, Any]
    ) -> None:
        super().set_connection_execution_options(connection, opts)
        if _AUTOCOMMIT in opts or "bastion_readonly" in opts:
            statement = _begin_statement(connection.get_execution_options())
            connection.connection.info[_BEGIN] = statement

    def do_begin(self, dbapi_connection: Any) -> None:
        statement = dbapi_connection.info.get(_BEGIN, "BEGIN IMMEDIATE")
        if statement is None:
            return
        # Straight to the driver: through `exec_driver_sql`, this statement cost about as
        # much as the small query that follows it (bench/rpc.py).
        cursor = dbapi_connection.driver_connection.cursor()
        try:
            cursor.execute(statement)
        finally:
            cursor.close()


registry.register("sqlite.bastion", __name__, "BastionSQLiteDialect")


def _on_sqlite_checkout(_dbapi_conn: Any, record: Any, _proxy: Any) -> None:
    record.info.pop(_BEGIN, None)  # a new user of the connection: the default BEGIN again


@contextlib.contextmanager
def reading(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection for reads only, in autocommit: each statement is its own transaction with
    its own snapshot, so the reads of one block need not agree with each other (use a
    transaction where they must). Readers (session checks, sign-in lookups) never queue behind
    writers. On PostgreSQL, under READ COMMITTED, every statement took its own snapshot
    anyway: a read transaction only added a BEGIN and a ROLLBACK, two round trips per read.
    On SQLite the two statements cost more than the read itself, and each gave up the GIL and
    had to win it back (bench/rpc.py)."""
    shared: dict[sa.Engine, sa.Connection] | None = getattr(_shared, "connections", None)
    held = shared.get(engine) if shared is not None else None
    if held is not None:
        yield held
        return
    with engine.connect() as conn:
        yield _autocommit(conn)


def _autocommit(conn: sa.Connection) -> sa.Connection:
    options: dict[str, object] = {"bastion_readonly": True}
    if conn.dialect.name == "postgresql":
        options["isolation_level"] = "AUTOCOMMIT"
    elif conn.dialect.name == "sqlite":
        options[_AUTOCOMMIT] = True
    return conn.execution_options(**options)


#: Per thread: the `reading()` connection of each engine inside a `shared_reading` block.
_shared = threading.local()


@contextlib.contextmanager
def shared_reading(engine: sa.Engine) -> Iterator[None]:
    """Let this thread's `reading(engine)` blocks inside share one connection: one checkout
    from the pool for several small reads in a row (a kept RPC password's throttle buckets,
    then its access stamp and second factors: a pool checkout and return cost about as much
    as one of those reads, bench/rpc.py). Each statement is still its own snapshot; writes
    (`engine.begin()`) still take connections of their own."""
    shared: dict[sa.Engine, sa.Connection] | None = getattr(_shared, "connections", None)
    if shared is None:
        shared = _shared.connections = {}
    if engine in shared:
        yield
        return
    with engine.connect() as conn:
        shared[engine] = _autocommit(conn)
        try:
            yield
        finally:
            del shared[engine]


def sqlite_engine(path: Path) -> sa.Engine:
    # As many idle connections as a worker's requests commonly use at once: with fewer, every
    # burst opened and closed connections (and re-ran the set-up above), about a millisecond
    # each (bench/rpc.py, 8 calls at once per worker). 40 in all, anyio's thread count.
    # Pool events only: a connection event would put every statement through the event
    # machinery (see BastionSQLiteDialect).
    engine = sa.create_engine(
        f"sqlite+bastion:///{path}",
        poolclass=walcheckpoint.DisposalPool,
        pool_size=16,
        max_overflow=24,
    )
    sa.event.listen(engine, "connect", _on_sqlite_connect)
    sa.event.listen(engine, "checkout", _on_sqlite_checkout)
    walcheckpoint.CHECKPOINTER.watch(engine, path)
    return engine


def _server_url(url: str) -> sa.URL:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def postgres_engine(server_url: str, database: str) -> sa.Engine:
    url = _server_url(server_url).set(database=check_tenant_name(database))
    # No server-side prepared statements: after a few runs PostgreSQL switches them to a
    # generic plan, and a generic plan of `id = ANY(:ids)` scans the array for every row
    # (ten times slower on a 10,000-id write, measured by bench/orm_overhead.py).
    engine = sa.create_engine(
        url,
        pool_size=5,
        max_overflow=5,
        pool_use_lifo=True,  # busy connections stay warm; the others age and get pinged
        connect_args={"prepare_threshold": None},
    )
    ping_when_idle(engine)
    return engine


def ping_when_idle(
    engine: sa.Engine,
    *,
    after: float = IDLE_PING_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Ping a pooled connection before use only if it sat idle for more than `after` seconds.

    SQLAlchemy's `pool_pre_ping` pings on every checkout: a round trip per transaction, six
    per refused sign-in attempt under a flood (bench/login.py). A connection in steady use
    has just proven itself; one that waited (a quiet night, a database restarted meanwhile)
    is checked and, if dead, replaced before anyone sees it. A restart in the middle of
    steady traffic still fails the statements already on their way; the dialect recognises
    the disconnect and the pool drops every older connection at once.
    """

    def checkin(_dbapi: Any, record: Any) -> None:
        if record is not None:
            record.info[_IDLE_SINCE] = clock()

    def checkout(dbapi: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is None or clock() - since <= after:
            return
        try:
            engine.dialect.do_ping(dbapi)
        except Exception as exc:  # whatever broke it, the pool connects afresh
            raise sa.exc.DisconnectionError("idle connection failed its ping") from exc

    sa.event.listen(engine, "checkin", checkin)
    sa.event.listen(engine, "checkout", checkout)


def postgres_admin_engine(server_url: str) -> sa.Engine:
    url = _server_url(server_url).set(database="postgres")
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def postgres_database_exists(server_url: str, database: str) -> bool:
    engine = postgres_admin_engine(server_url)
    try:
        with engine.connect() as conn:
            found = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": database}
            ).scalar()
    finally:
        engine.dispose()
    return found is not None


def postgres_create_database(server_url: str, database: str) -> None:
    """Create a tenant database with code-point collation, as SQLite orders strings."""
    name = check_tenant_name(database)
    engine = postgres_admin_engine(server_url)
    try:
        with engine.connect() as conn:
            # the name is checked against TENANT_NAME above; identifiers cannot be bound
            conn.exec_driver_sql(
                f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' "
                "LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'"
            )
    finally:
        engine.dispose()


def postgres_drop_database(server_url: str, database: str) -> None:
    name = check_tenant_name(database)
    engine = postgres_admin_engine(server_url)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        engine.dispose()
