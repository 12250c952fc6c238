"""`SqlRiskState`: the risk state in the tenant's database (SQLite or PostgreSQL), shared by
every worker of one machine (or of many, on PostgreSQL).

Each call is one short transaction, or part of the caller's batch (`batch`). Sliding
windows are kept as per-key buckets, so a key hit thousands of times a minute (a
tenant-wide failure counter during a flood) still has at most ~65 rows: a bucket is
`bucket_width(window)` seconds wide (1/64 of the window, rounded up to a power of two:
0.25 s for 10 s, 8 s for 5 min), and counts while its start is inside (now - window, now].
So a window's total is exact for times on bucket boundaries and at worst leaves out the
oldest 1/64 of the window. Rows whose buckets left every window are deleted by the hit that
opens a new bucket, and by `purge`.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from bastion.core.database import reading
from bastion.crypto.digest import sha256_hex
from bastion.crypto.random import token_bytes
from bastion.errors import ConfigError
from bastion.risk.driver_sql import DriverStatement
from bastion.risk.schema import METADATA
from bastion.risk.state import Count, Fetched, LastSeen, OneByOne, Reads, hit_amounts

#: Buckets per window (at most one more is ever counted).
BUCKETS = 64
#: Rows per many-at-once statement: far below either database's limit on parameters.
CHUNK = 200
#: How long `purge` keeps a user's last event by default (travel checks need recent ones).
KEEP_LAST_SEEN = 90 * 86_400.0
_KEY = 255

risk_hit = sa.Table(
    "risk_hit",
    METADATA,
    sa.Column("key", sa.String(_KEY), primary_key=True),
    sa.Column("start", sa.Float, primary_key=True),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("expires", sa.Float, nullable=False, index=True),
)
risk_member = sa.Table(
    "risk_member",
    METADATA,
    sa.Column("key", sa.String(_KEY), primary_key=True),
    sa.Column("member", sa.String(_KEY), primary_key=True),
    sa.Column("seen", sa.Float, nullable=False),
    sa.Column("expires", sa.Float, nullable=False, index=True),
)
risk_freq = sa.Table(
    "risk_freq",
    METADATA,
    sa.Column("scope", sa.String(64), primary_key=True),
    sa.Column("feature", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(_KEY), primary_key=True),
    sa.Column("count", sa.Float, nullable=False),
)
risk_freq_total = sa.Table(
    "risk_freq_total",
    METADATA,
    sa.Column("scope", sa.String(64), primary_key=True),
    sa.Column("feature", sa.String(64), primary_key=True),
    sa.Column("total", sa.Float, nullable=False),
)
risk_last = sa.Table(
    "risk_last",
    METADATA,
    sa.Column("key", sa.String(_KEY), primary_key=True),
    sa.Column("at", sa.Float, nullable=False, index=True),
    sa.Column("ip", sa.String(64), nullable=False),
    sa.Column("asn", sa.BigInteger, nullable=True),
    sa.Column("country", sa.String(2), nullable=True),
    sa.Column("latitude", sa.Float, nullable=True),
    sa.Column("longitude", sa.Float, nullable=True),
)
risk_flag = sa.Table(
    "risk_flag",
    METADATA,
    sa.Column("key", sa.String(_KEY), primary_key=True),
    sa.Column("until", sa.Float, nullable=False),
)
risk_window_key = sa.Table(
    "risk_window_key",
    METADATA,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("secret", sa.LargeBinary(32), nullable=False),
    sa.Column("expires", sa.Float, nullable=False),
)
risk_sample = sa.Table(
    "risk_sample",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(_KEY), nullable=False, index=True),
    sa.Column("value", sa.Float, nullable=False),
)


def bucket_width(window: float) -> float:
    """The width of the buckets of a `window`-second sliding window: a power of two."""
    if not window > 0:
        raise ValueError("A sliding window must last a positive number of seconds.")
    return 2.0 ** math.ceil(math.log2(window / BUCKETS))


def bucket_start(now: float, width: float) -> float:
    """Where the bucket holding `now` starts (exact: `width` is a power of two)."""
    return math.floor(now / width) * width


def fit(text: str, limit: int = _KEY) -> str:
    """`text` if it fits a column of `limit` characters, else a prefix and its digest (in a
    column narrower than the digest, as much of the digest as fits)."""
    if len(text) <= limit:
        return text
    digest = sha256_hex(text.encode("utf-8", "surrogatepass"))
    prefix = text[: max(0, limit - len(digest) - 1)]
    return (prefix + "#" + digest)[:limit]


def _p(name: str) -> sa.BindParameter[Any]:
    return sa.bindparam(name)


# Statements are built once, with parameters: building one per call costs more than running it.
_h, _m, _f, _t = risk_hit.c, risk_member.c, risk_freq.c, risk_freq_total.c
_WINDOW_SUM = sa.select(sa.func.coalesce(sa.func.sum(_h.amount), 0)).where(
    _h.key == _p("key"), _h.start > _p("low"), _h.start <= _p("now")
)
_SWEEP_HITS = sa.delete(risk_hit).where(_h.key == _p("key"), _h.expires <= _p("now"))
_DISTINCT = sa.select(sa.func.count()).where(
    _m.key == _p("key"), _m.seen > _p("low"), _m.seen <= _p("now")
)
_SWEEP_MEMBERS = sa.delete(risk_member).where(_m.key == _p("key"), _m.seen <= _p("low"))
_FREQUENCY = sa.select(
    sa.select(_f.count)
    .where(_f.scope == _p("scope"), _f.feature == _p("feature"), _f.value == _p("value"))
    .scalar_subquery(),
    sa.select(_t.total)
    .where(_t.scope == _p("scope"), _t.feature == _p("feature"))
    .scalar_subquery(),
)
_LAST_SEEN = sa.select(
    risk_last.c.at,
    risk_last.c.ip,
    risk_last.c.asn,
    risk_last.c.country,
    risk_last.c.latitude,
    risk_last.c.longitude,
).where(risk_last.c.key == _p("key"))
_FLAG = sa.select(risk_flag.c.until).where(risk_flag.c.key == _p("key"))
_WINDOW_KEY = sa.select(risk_window_key.c.secret).where(
    risk_window_key.c.name == _p("name"), risk_window_key.c.idx == _p("idx")
)
_OLD_WINDOW_KEYS = sa.delete(risk_window_key).where(
    risk_window_key.c.name == _p("name"), risk_window_key.c.idx < _p("idx")
)
_SAMPLES = sa.select(risk_sample.c.value).where(risk_sample.c.key == _p("key"))
_SAMPLES = _SAMPLES.order_by(risk_sample.c.id)
_ADD_SAMPLE = risk_sample.insert().values(key=_p("key"), value=_p("value"))
_TRIM_SAMPLES = sa.delete(risk_sample).where(
    risk_sample.c.key == _p("key"),
    risk_sample.c.id
    < sa.select(risk_sample.c.id)
    .where(risk_sample.c.key == _p("key"))
    .order_by(risk_sample.c.id.desc())
    .limit(1)
    .offset(_p("skip"))
    .scalar_subquery(),
)


class _Upserts:
    """The dialect's `INSERT ... ON CONFLICT` statements (atomic on both backends)."""

    def __init__(self, insert: Any) -> None:
        h = insert(risk_hit).values(
            key=_p("key"), start=_p("start"), amount=_p("amount"), expires=_p("expires")
        )
        self.hit = h.on_conflict_do_update(
            index_elements=[_h.key, _h.start],
            set_={
                "amount": _h.amount + h.excluded.amount,
                "expires": sa.case(
                    (_h.expires < h.excluded.expires, h.excluded.expires), else_=_h.expires
                ),
            },
        ).returning(_h.amount)
        m = insert(risk_member).values(
            key=_p("key"), member=_p("member"), seen=_p("now"), expires=_p("expires")
        )
        self.member = m.on_conflict_do_update(
            index_elements=[_m.key, _m.member],
            set_={"seen": m.excluded.seen, "expires": m.excluded.expires},
        )
        f = insert(risk_freq).values(
            scope=_p("scope"), feature=_p("feature"), value=_p("value"), count=_p("amount")
        )
        self.freq = f.on_conflict_do_update(
            index_elements=[_f.scope, _f.feature, _f.value],
            set_={"count": _f.count + f.excluded.count},
        )
        t = insert(risk_freq_total).values(
            scope=_p("scope"), feature=_p("feature"), total=_p("amount")
        )
        self.total = t.on_conflict_do_update(
            index_elements=[_t.scope, _t.feature], set_={"total": _t.total + t.excluded.total}
        )
        columns = ("at", "ip", "asn", "country", "latitude", "longitude")
        last = insert(risk_last).values(key=_p("key"), **{c: _p(c) for c in columns})
        self.last = last.on_conflict_do_update(
            index_elements=[risk_last.c.key], set_={c: last.excluded[c] for c in columns}
        )
        g, until = insert(risk_flag).values(key=_p("key"), until=_p("until")), risk_flag.c.until
        self.flag = g.on_conflict_do_update(
            index_elements=[risk_flag.c.key],
            set_={"until": sa.case((until < g.excluded.until, g.excluded.until), else_=until)},
        )
        k = insert(risk_window_key).values(
            name=_p("name"), idx=_p("idx"), secret=_p("secret"), expires=_p("expires")
        )
        self.window_key = k.on_conflict_do_nothing(
            index_elements=[risk_window_key.c.name, risk_window_key.c.idx]
        )


class _Lists:
    """Statements over a list of rows, for the many-at-once calls: one statement (one round
    trip on PostgreSQL) reads what one call per row would, as a `UNION ALL` of the one-row
    statements (or an `IN` list for flags). Each is compiled once per number of rows; row
    `n`'s parameters are named with the suffix `_n`."""

    def __init__(self, dialect: sa.Dialect) -> None:
        self._dialect = dialect
        self._compiled: dict[tuple[str, int], DriverStatement] = {}

    def run(self, cursor: Any, name: str, rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        sql = self._compiled.get((name, len(rows)))
        if sql is None:
            sql = self._compiled[(name, len(rows))] = DriverStatement(
                _list(name, len(rows)), self._dialect
            )
        params = {f"{key}_{n}": value for n, row in enumerate(rows) for key, value in row.items()}
        return sql.run(cursor, params)


def _list(name: str, rows: int) -> sa.ClauseElement:
    if name == "flags":
        keys = [_p(f"key_{n}") for n in range(rows)]
        return sa.select(risk_flag.c.key, risk_flag.c.until).where(risk_flag.c.key.in_(keys))
    return sa.union_all(*(_LIST_ROWS[name](n) for n in range(rows)))


def _frequency_row(n: int) -> sa.Select[Any]:
    scope, feature, value = _p(f"scope_{n}"), _p(f"feature_{n}"), _p(f"value_{n}")
    count = sa.select(_f.count).where(_f.scope == scope, _f.feature == feature, _f.value == value)
    total = sa.select(_t.total).where(_t.scope == scope, _t.feature == feature)
    return sa.select(_index(n), count.scalar_subquery(), total.scalar_subquery())


def _hits_row(n: int) -> sa.Select[Any]:
    window = (_h.key == _p(f"key_{n}"), _h.start > _p(f"low_{n}"), _h.start <= _p(f"now_{n}"))
    return sa.select(_index(n), sa.func.coalesce(sa.func.sum(_h.amount), 0)).where(*window)


def _members_row(n: int) -> sa.Select[Any]:
    window = (_m.key == _p(f"key_{n}"), _m.seen > _p(f"low_{n}"), _m.seen <= _p(f"now_{n}"))
    return sa.select(_index(n), sa.func.count()).where(*window)


def _index(n: int) -> sa.ColumnElement[Any]:
    return sa.literal_column(str(int(n)), sa.Integer).label("i")


_LIST_ROWS = {"frequencies": _frequency_row, "hits": _hits_row, "members": _members_row}


class _Statements:
    def __init__(self, dialect: sa.Dialect, up: _Upserts) -> None:
        def c(stmt: sa.ClauseElement) -> DriverStatement:
            return DriverStatement(stmt, dialect)

        self.window_sum, self.sweep_hits = c(_WINDOW_SUM), c(_SWEEP_HITS)
        self.distinct, self.sweep_members = c(_DISTINCT), c(_SWEEP_MEMBERS)
        self.frequency, self.last_seen, self.flag = c(_FREQUENCY), c(_LAST_SEEN), c(_FLAG)
        self.window_key, self.old_window_keys = c(_WINDOW_KEY), c(_OLD_WINDOW_KEYS)
        self.samples, self.add_sample, self.trim_samples = (
            c(_SAMPLES), c(_ADD_SAMPLE), c(_TRIM_SAMPLES)
        )  # fmt: skip
        self.up_hit, self.up_member, self.up_freq = c(up.hit), c(up.member), c(up.freq)
        self.up_total, self.up_last, self.up_flag = c(up.total), c(up.last), c(up.flag)
        self.up_window_key = c(up.window_key)


@dataclass(slots=True)
class _Batch:
    """A batch's transaction, begun by its first call (a stage that reads or writes
    nothing costs none)."""

    write: bool
    begin: contextlib.ExitStack
    cursor: Any = None


class SqlRiskState(OneByOne):
    """`RiskState` over the risk tables of one tenant's database.

    Outside a batch each call is its own short transaction. Inside `batch(write=True)` every
    call shares one transaction (on SQLite it holds the write lock from its start, so
    writers never deadlock; on PostgreSQL its commit does not wait for the disk: these are
    counters and profiles, and a crash may lose at most their last moment). Inside
    `batch(write=False)` the reads share one read-only transaction, which on SQLite does not
    queue behind writers."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        dialect = engine.dialect.name
        if dialect == "postgresql":
            up = _Upserts(postgresql.insert)
        elif dialect == "sqlite":
            up = _Upserts(sqlite.insert)
        else:
            raise ConfigError(f"The risk state cannot be kept in a {dialect} database.")
        self._postgres = dialect == "postgresql"
        self._sql = _Statements(engine.dialect, up)
        self._lists = _Lists(engine.dialect)
        self._local = threading.local()  # the batch of this thread, if any

    # -- transactions ------------------------------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self, write: bool) -> Iterator[Any]:
        """A driver cursor in a new transaction (read-only unless `write`)."""
        with contextlib.ExitStack() as stack:
            if write:
                conn = stack.enter_context(self.engine.begin())
            else:
                conn = stack.enter_context(reading(self.engine))
                stack.enter_context(conn.begin())
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                if write and self._postgres:
                    cursor.execute("SET LOCAL synchronous_commit TO OFF")
                yield cursor
            finally:
                cursor.close()

    def _joinable(self, write: bool) -> _Batch | None:
        """This thread's batch, if a call (or an inner batch) that writes or not may join it:
        a write never joins a read-only batch."""
        batch: _Batch | None = getattr(self._local, "batch", None)
        return batch if batch is not None and (batch.write or not write) else None

    @contextlib.contextmanager
    def _cursor(self, write: bool) -> Iterator[Any]:
        batch = self._joinable(write)
        if batch is not None:
            if batch.cursor is None:
                batch.cursor = batch.begin.enter_context(self._transaction(batch.write))
            yield batch.cursor
            return
        with self._transaction(write) as cursor:
            yield cursor

    @contextlib.contextmanager
    def batch(self, *, write: bool) -> Iterator[None]:
        if self._joinable(write) is not None:
            yield
            return
        outer: _Batch | None = getattr(self._local, "batch", None)
        with contextlib.ExitStack() as begin:
            self._local.batch = _Batch(write, begin)
            try:
                yield
            finally:
                self._local.batch = outer

    def _read(self, sql: DriverStatement, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        with self._cursor(write=False) as cursor:
            return sql.run(cursor, params)

    def _scalar(self, sql: DriverStatement, params: dict[str, Any]) -> Any:
        rows = self._read(sql, params)
        return rows[0][0] if rows else None

    def _list(self, name: str, rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        """The `_Lists` statement `name` over `rows`, CHUNK rows per statement; a row's
        index (the first column, but for flags) counts from the first of `rows`."""
        with self._cursor(write=False) as cursor:
            return self._list_on(cursor, name, rows)

    def _list_on(self, cursor: Any, name: str, rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        found: list[tuple[Any, ...]] = []
        for start in range(0, len(rows), CHUNK):
            answer = self._lists.run(cursor, name, rows[start : start + CHUNK])
            if name != "flags":
                answer = [(int(row[0]) + start, *row[1:]) for row in answer]
            found += answer
        return found

    # -- many at once ------------------------------------------------------------------------

    def hits(
        self, keys: Sequence[tuple[str, float]], now: float, amounts: Sequence[int] = ()
    ) -> list[int]:
        """Every add, then every total in one statement, in one transaction. A key named
        twice is hit one call at a time (each total counts only the adds before it)."""
        amounts = hit_amounts(keys, amounts)
        if len({key for key, _ in keys}) < len(keys):
            return OneByOne.hits(self, keys, now, amounts)
        q, reads = self._sql, []
        with self._cursor(write=any(amounts)) as cursor:
            for (name, window), amount in zip(keys, amounts, strict=True):
                key, start = fit(name), bucket_start(now, bucket_width(window))
                if amount:
                    row = {"key": key, "start": start, "amount": amount, "expires": start + window}
                    if int(q.up_hit.run(cursor, row)[0][0]) == amount:
                        q.sweep_hits.run(cursor, {"key": key, "now": now})  # a new bucket
                reads.append({"key": key, "low": now - window, "now": now})
            totals = [0] * len(keys)
            for index, value in self._list_on(cursor, "hits", reads):
                totals[int(index)] = int(value)
            return totals

    def fetch(self, reads: Reads, now: float) -> Fetched:
        """The reads only: the stage reads in a read-only transaction, and adds or joins
        made there would cost one of their own; `observe` makes them in the write one."""
        return OneByOne.fetch(self, reads.unique().without_adds(), now)

    def counts(self, reads: Sequence[Count], now: float) -> list[int]:
        answers = [0] * len(reads)
        for kind in ("hits", "members"):
            rows: list[dict[str, Any]] = []
            where: list[int] = []
            for index, read in enumerate(reads):
                if read.kind == kind:
                    bucket_width(read.window)  # the same check as `hit`
                    rows.append({"key": fit(read.key), "low": now - read.window, "now": now})
                    where.append(index)
            for n, value in self._list(kind, rows):
                answers[where[int(n)]] = int(value)
        return answers

    def flags_until(self, keys: Sequence[str], now: float) -> list[float | None]:
        fitted = [fit(key) for key in keys]
        unique = [{"key": key} for key in dict.fromkeys(fitted)]
        until = {str(key): float(value) for key, value in self._list("flags", unique)}
        return [until[key] if key in until and until[key] > now else None for key in fitted]

    def frequencies(self, reads: Sequence[tuple[str, str, str]]) -> list[tuple[float, float]]:
        rows: list[dict[str, Any]] = [
            {"scope": fit(scope, 64), "feature": fit(feature, 64), "value": fit(value)}
            for scope, feature, value in reads
        ]
        answers = [(0.0, 0.0)] * len(reads)
        for index, count, total in self._list("frequencies", rows):
            if total is not None:
                answers[int(index)] = (0.0 if count is None else float(count), float(total))
        return answers

    def bump_many(self, bumps: Sequence[tuple[str, str, str, float]]) -> None:
        if not bumps:
            return
        rows: list[dict[str, Any]] = [
            {"scope": fit(scope, 64), "feature": fit(feature, 64), "value": fit(value),
             "amount": amount}
            for scope, feature, value, amount in bumps
        ]  # fmt: skip
        with self._cursor(write=True) as cursor:
            self._sql.up_freq.run_many(cursor, rows)
            self._sql.up_total.run_many(cursor, rows)

    # -- sliding windows ---------------------------------------------------------------------

    def hit(self, key: str, now: float, window: float, amount: int = 1) -> int:
        key, start = fit(key), bucket_start(now, bucket_width(window))
        q = self._sql
        with self._cursor(write=True) as cursor:
            row = {"key": key, "start": start, "amount": amount, "expires": start + window}
            if int(q.up_hit.run(cursor, row)[0][0]) == amount:
                q.sweep_hits.run(cursor, {"key": key, "now": now})  # a new bucket: sweep
            window_sum = {"key": key, "low": now - window, "now": now}
            return int(q.window_sum.run(cursor, window_sum)[0][0])

    def total(self, key: str, now: float, window: float) -> int:
        bucket_width(window)  # the same check as `hit`
        params = {"key": fit(key), "low": now - window, "now": now}
        return int(self._scalar(self._sql.window_sum, params))

    def add_member(self, key: str, member: str, now: float, window: float) -> int:
        key, low, q = fit(key), now - window, self._sql
        with self._cursor(write=True) as cursor:
            row = {"key": key, "member": fit(member), "now": now, "expires": now + window}
            q.up_member.run(cursor, row)
            q.sweep_members.run(cursor, {"key": key, "low": low})
            return int(q.distinct.run(cursor, {"key": key, "low": low, "now": now})[0][0])

    def members(self, key: str, now: float, window: float) -> int:
        params = {"key": fit(key), "low": now - window, "now": now}
        return int(self._scalar(self._sql.distinct, params))

    # -- frequencies -------------------------------------------------------------------------

    def bump(self, scope: str, feature: str, value: str, amount: float = 1.0) -> None:
        params: dict[str, Any] = {"scope": fit(scope, 64), "feature": fit(feature, 64)}
        params.update(value=fit(value), amount=amount)
        with self._cursor(write=True) as cursor:
            self._sql.up_freq.run(cursor, params)
            self._sql.up_total.run(cursor, params)

    def frequency(self, scope: str, feature: str, value: str) -> tuple[float, float]:
        params = {"scope": fit(scope, 64), "feature": fit(feature, 64), "value": fit(value)}
        [(count, total)] = self._read(self._sql.frequency, params)
        if total is None:
            return (0.0, 0.0)
        return (0.0 if count is None else float(count), float(total))

    # -- last events, flags ------------------------------------------------------------------

    def last_seen(self, key: str) -> LastSeen | None:
        rows = self._read(self._sql.last_seen, {"key": fit(key)})
        if not rows:
            return None
        at, ip, asn, country, lat, lon = rows[0]
        return LastSeen(
            at=float(at),
            ip=str(ip),
            asn=None if asn is None else int(asn),
            country=country,
            latitude=None if lat is None else float(lat),
            longitude=None if lon is None else float(lon),
        )

    def set_last_seen(self, key: str, seen: LastSeen) -> None:
        row = {
            "key": fit(key),
            "at": seen.at,
            "ip": seen.ip[:64],
            "asn": seen.asn,
            "country": seen.country[:2] if seen.country else None,
            "latitude": seen.latitude,
            "longitude": seen.longitude,
        }
        with self._cursor(write=True) as cursor:
            self._sql.up_last.run(cursor, row)

    def set_flag(self, key: str, until: float) -> None:
        with self._cursor(write=True) as cursor:
            self._sql.up_flag.run(cursor, {"key": fit(key), "until": until})

    def flag_until(self, key: str, now: float) -> float | None:
        until = self._scalar(self._sql.flag, {"key": fit(key)})
        return None if until is None or float(until) <= now else float(until)

    # -- window keys, samples ----------------------------------------------------------------

    def window_key(self, name: str, now: float, window: float) -> bytes:
        if not window > 0:
            raise ValueError("A key window must last a positive number of seconds.")
        index = int(now // window)
        which: dict[str, Any] = {"name": fit(name, 128), "idx": index}
        q = self._sql
        found = self._scalar(q.window_key, which)
        if found is not None:  # the common case: read only, no write lock
            return bytes(found)
        row = {**which, "secret": token_bytes(32), "expires": (index + 1) * window}
        with self._cursor(write=True) as cursor:
            q.up_window_key.run(cursor, row)
            q.old_window_keys.run(cursor, which)
            return bytes(q.window_key.run(cursor, which)[0][0])  # the first worker's

    def samples(self, key: str) -> list[float]:
        return [float(v) for (v,) in self._read(self._sql.samples, {"key": fit(key)})]

    def add_sample(self, key: str, value: float, keep: int = 500) -> None:
        if keep < 1:
            raise ValueError("A reservoir keeps at least one value.")
        key = fit(key)
        with self._cursor(write=True) as cursor:
            self._sql.add_sample.run(cursor, {"key": key, "value": value})
            self._sql.trim_samples.run(cursor, {"key": key, "skip": keep - 1})

    # -- housekeeping ------------------------------------------------------------------------

    def purge(self, now: float, *, keep_last_seen: float = KEEP_LAST_SEEN) -> int:
        """Delete what no window, flag or check can need at `now`; return the rows deleted.
        Frequencies and samples are the users' profiles and are kept."""
        statements = [
            sa.delete(risk_hit).where(risk_hit.c.expires <= now),
            sa.delete(risk_member).where(risk_member.c.expires <= now),
            sa.delete(risk_flag).where(risk_flag.c.until <= now),
            sa.delete(risk_window_key).where(risk_window_key.c.expires <= now),
            sa.delete(risk_last).where(risk_last.c.at <= now - keep_last_seen),
        ]
        with self.engine.begin() as conn:
            return sum(int(conn.execute(stmt).rowcount) for stmt in statements)
