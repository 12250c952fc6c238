"""Access data kept between transactions, for exactly as long as the database says it is current.

Every transaction needs the tenant's access rows, record rules and group graph, and the acting
user's companies and groups: eight small queries, for data that changes when an administrator
edits a group or a user. So each process keeps what it loaded, tagged with the tenant's
*access stamp*: a random token in a one-row table that database triggers replace whenever a row
of a table it is built from is inserted, updated or deleted, by the ORM, by raw SQL or by any
other process. A transaction reads the stamp (one primary-key read) and uses what is kept only
under the same token; otherwise it loads afresh.

Why this is as strict as loading every time:

- The stamp is read before anything is loaded, so what is kept under a token is at least as new
  as the token (on PostgreSQL's READ COMMITTED too); on SQLite both come from one snapshot.
- A transaction that writes one of these tables sees its own new token at once (the trigger
  runs in it), so it loads its uncommitted changes, and what it keeps under that token is what
  everyone sees once it commits. Tokens are random, never counters: a rolled-back token is never
  seen again, and no two histories of the tables share one.
- If the stamp cannot be read or installed (a tenant made by an older version on a read-only
  database, say), nothing is kept: every transaction loads, as before.

The triggers make every write to these tables also write the stamp row: on PostgreSQL, writers
of these (rarely written) tables queue on that row.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from bastion.core.access import AccessData, UserContext
from bastion.core.database import reading
from bastion.core.registry import Registry
from bastion.crypto.random import token_bytes

log = logging.getLogger(__name__)

STAMP_TABLE = "ir_access_stamp"
TRIGGER_PREFIX = "ir_access_stamp_"
#: Users kept per process and tenant; past this, the kept users are dropped and reloaded.
MAX_USERS = 4096
_VERBS = ("INSERT", "UPDATE", "DELETE")

stamp_metadata = sa.MetaData()
access_stamp = sa.Table(
    STAMP_TABLE,
    stamp_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("token", sa.String(64), nullable=False),
    sa.CheckConstraint("id = 1", name="ir_access_stamp_single_row"),
)
_READ = sa.select(access_stamp.c.token).where(access_stamp.c.id == 1)

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION bastion_access_stamp() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE ir_access_stamp SET token = md5(random()::text || clock_timestamp()::text)
    WHERE id = 1;
    RETURN NULL;
END;
$$
"""
_SQLITE_BODY = "BEGIN UPDATE ir_access_stamp SET token = hex(randomblob(16)) WHERE id = 1; END"


def stamped_tables(registry: Registry) -> list[str]:
    """The tables access data and user contexts are loaded from (see `bastion.core.access`)."""
    names = [registry[m]._table.name for m in ("ir.model.access", "ir.rule", "ir.model.data")]
    names += [registry[m]._table.name for m in ("res.groups", "res.users")]
    for model, fname in (
        ("ir.rule", "groups"),
        ("res.groups", "implied_ids"),
        ("res.users", "company_ids"),
        ("res.users", "groups_id"),
    ):
        names.append(registry[model]._fields[fname].relation)  # type: ignore[attr-defined]
    return sorted(set(names))


def _trigger_names(tables: list[str], dialect: str) -> set[str]:
    if dialect == "postgresql":
        return {f"{TRIGGER_PREFIX}{t}" for t in tables}
    return {f"{TRIGGER_PREFIX}{t}_{verb.lower()}" for t in tables for verb in _VERBS}


def stamp_installed(conn: sa.Connection, registry: Registry) -> bool:
    """True if the stamp row and every trigger that replaces it exist (a read)."""
    dialect = conn.dialect.name
    if dialect not in ("sqlite", "postgresql"):
        return False
    if STAMP_TABLE not in sa.inspect(conn).get_table_names():
        return False
    if conn.execute(_READ).first() is None:
        return False
    if dialect == "postgresql":
        query = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE %(p)s"
    else:
        query = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE :p"
    found = {row[0] for row in conn.exec_driver_sql(query, {"p": TRIGGER_PREFIX + "%"})}
    return _trigger_names(stamped_tables(registry), dialect) <= found


def install_stamp(conn: sa.Connection, registry: Registry) -> None:
    """Create the stamp table, its row and the triggers (idempotent; in the caller's
    transaction). Every table of `stamped_tables` must exist."""
    dialect = conn.dialect.name
    tables = stamped_tables(registry)
    quote = conn.dialect.identifier_preparer.quote
    if dialect == "postgresql":
        # Two workers opening an old tenant at once: one installs, the other waits and finds it.
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext('bastion_access_stamp'))")
        stamp_metadata.create_all(conn)
        conn.execute(postgresql.insert(access_stamp).values(_first_row()).on_conflict_do_nothing())
        conn.exec_driver_sql(_PG_FUNCTION)
        for table in tables:
            name = quote(f"{TRIGGER_PREFIX}{table}")
            # Statement-level, TRUNCATE included: no way to change these tables unnoticed.
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name} ON {quote(table)}")
            conn.exec_driver_sql(
                f"CREATE TRIGGER {name} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                f"ON {quote(table)} FOR EACH STATEMENT EXECUTE FUNCTION bastion_access_stamp()"
            )
    elif dialect == "sqlite":
        stamp_metadata.create_all(conn)
        conn.execute(sqlite.insert(access_stamp).values(_first_row()).on_conflict_do_nothing())
        for table in tables:
            for verb in _VERBS:
                name = quote(f"{TRIGGER_PREFIX}{table}_{verb.lower()}")
                create = f"CREATE TRIGGER IF NOT EXISTS {name} AFTER {verb} ON {quote(table)} "
                conn.exec_driver_sql(create + _SQLITE_BODY)


def _first_row() -> dict[str, object]:
    return {"id": 1, "token": token_bytes(16).hex()}


def read_stamp(conn: sa.Connection) -> str:
    token = conn.execute(_READ).scalar()
    if not isinstance(token, str):
        raise LookupError("the access stamp row is missing")
    return token


class AccessCache:
    """What one process keeps of one tenant's access data, under the stamp it was loaded at.

    `enabled` is settled once, by `prepare`, before the first transaction opens its connection
    (installing the stamp on a tenant that lacks it needs the write lock, which a transaction
    already holding it would never give up)."""

    def __init__(self, engine: sa.Engine, registry: Registry) -> None:
        self._engine = engine
        self._registry = registry
        self._lock = threading.Lock()
        self._token: str | None = None
        self._data: AccessData | None = None
        self._users: dict[int, UserContext] = {}
        self._memos: dict[tuple[UserContext, tuple[int, ...]], dict[Any, Any]] = {}
        self.enabled: bool | None = None  # None: not prepared yet

    @property
    def engine(self) -> sa.Engine:
        """The tenant's engine, where the stamp lives."""
        return self._engine

    def prepare(self) -> None:
        """Settle `enabled`: the stamp is there (a read), or is installed now. While the
        tenant's tables do not exist yet (during its installation) it stays unsettled."""
        if self.enabled is not None:
            return
        with self._lock:
            if self.enabled is not None:
                return
            try:
                with self._engine.connect() as raw:
                    conn = raw.execution_options(bastion_readonly=True)
                    ready = stamp_installed(conn, self._registry)
                    tables = set(sa.inspect(conn).get_table_names())
                    conn.rollback()
                if not ready:
                    if not set(stamped_tables(self._registry)) <= tables:
                        return
                    with self._engine.begin() as conn:
                        install_stamp(conn, self._registry)
                self.enabled = True
            except sa.exc.SQLAlchemyError as exc:
                # Type only: driver messages may name hosts, users or paths.
                log.warning("Access data is not cached for this tenant (%s).", type(exc).__name__)
                self.enabled = False

    def token(self, conn: sa.Connection) -> str | None:
        """The stamp as `conn` sees it; None when nothing is kept."""
        return read_stamp(conn) if self.enabled else None

    def data(self, token: str | None, load: Callable[[], AccessData]) -> AccessData:
        """The access data under `token` (read before: see the module's docstring)."""
        if token is None:
            return load()
        with self._lock:
            if token == self._token and self._data is not None:
                return self._data
        data = load()
        with self._lock:
            if token != self._token:
                self._token, self._users, self._memos = token, {}, {}
            self._data = data
        return data

    def user(self, token: str | None, uid: int, load: Callable[[], UserContext]) -> UserContext:
        """The user context of `uid` under `token` (`load` raises for unknown or disabled)."""
        if token is None:
            return load()
        with self._lock:
            if token == self._token:
                found = self._users.get(uid)
                if found is not None:
                    return found
        user = load()
        with self._lock:
            if token == self._token:
                if len(self._users) >= MAX_USERS:
                    self._users = {}
                self._users[uid] = user
        return user

    def memo(
        self, token: str | None, user: UserContext, company_ids: tuple[int, ...]
    ) -> dict[Any, Any] | None:
        """Where the access policies of `user` in `company_ids` under `token` keep what they
        derive (`AccessPolicy.memo`); None (each keeps its own) unless `token` is current. The
        user context itself is part of the key: one loaded under another stamp never shares."""
        if token is None:
            return None
        with self._lock:
            if token != self._token:
                return None
            key = (user, company_ids)
            found = self._memos.get(key)
            if found is None:
                if len(self._memos) >= MAX_USERS:
                    self._memos = {}
                found = self._memos[key] = {}
            return found

    def stamp(self) -> str | None:
        """The current stamp in a connection of its own (for caches above the core that
        depend on users, groups and access data); None when nothing is kept."""
        self.prepare()
        if not self.enabled:
            return None
        with reading(self._engine) as conn:
            return read_stamp(conn)
