"""Attempt counters in fixed windows, with blocks, shared by every worker process: kept in
memory (one process, tests), in the tenant's database (the default) or in Redis."""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import redis
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from bastion.auth.schema import METADATA
from bastion.core.database import reading
from bastion.errors import ConfigError

#: How long `purge` keeps a row after its window started, unless told otherwise: longer than
#: any sensible throttle window, so a purge never forgets a count that still matters.
PURGE_AFTER = 86_400.0

auth_counter = sa.Table(
    "auth_counter",
    METADATA,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("window_start", sa.Float, nullable=False),
    sa.Column("blocked_until", sa.Float, nullable=True),
)


@dataclass(frozen=True, slots=True)
class Counter:
    """What a store holds for one key: its count, when its window started, its block."""

    count: int
    window_start: float
    blocked_until: float | None

    def count_at(self, now: float, window: float) -> int:
        """The count in the current window (0 once the window has ended), as `count` says."""
        return 0 if self.window_start + window <= now else self.count

    def blocked_at(self, now: float) -> float | None:
        """When the block ends, or None if it is not blocked at `now`, as `blocked_until`."""
        until = self.blocked_until
        return None if until is None or until <= now else until


class CounterStore(Protocol):
    """Counters keyed by strings; times are epoch seconds given by the caller."""

    def hit(self, key: str, now: float, window: float) -> int:
        """Add one to `key` in a fixed window starting at its first hit; return the new count."""

    def count(self, key: str, now: float, window: float) -> int:
        """The count of `key` in its current window (0 once the window has ended)."""

    def block(self, key: str, until: float) -> None:
        """Block `key` until `until`; a block is extended, never shortened (except by reset)."""

    def blocked_until(self, key: str, now: float) -> float | None:
        """When the block on `key` ends, or None if it is not blocked at `now`."""

    def reset(self, key: str) -> None:
        """Forget the count and the block of `key`."""

    def read(self, keys: Sequence[str]) -> dict[str, Counter]:
        """What is held for each of `keys`, in one read (keys with nothing held are left out)."""


@dataclass(slots=True)
class _Entry:
    count: int = 0
    window_start: float = 0.0
    blocked_until: float | None = None


class MemoryCounterStore:
    """Counters of one process (tests, single-worker tools); thread-safe."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, now: float, window: float) -> int:
        with self._lock:
            entry = self._entries.setdefault(key, _Entry())
            if entry.window_start + window <= now:
                entry.count, entry.window_start = 0, now
            entry.count += 1
            return entry.count

    def count(self, key: str, now: float, window: float) -> int:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.window_start + window <= now:
                return 0
            return entry.count

    def block(self, key: str, until: float) -> None:
        with self._lock:
            entry = self._entries.setdefault(key, _Entry())
            if entry.blocked_until is None or entry.blocked_until < until:
                entry.blocked_until = until

    def blocked_until(self, key: str, now: float) -> float | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.blocked_until is None or entry.blocked_until <= now:
                return None
            return entry.blocked_until

    def reset(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def read(self, keys: Sequence[str]) -> dict[str, Counter]:
        with self._lock:
            found = {k: self._entries.get(k) for k in keys}
            return {
                k: Counter(e.count, e.window_start, e.blocked_until)
                for k, e in found.items()
                if e is not None
            }

    def purge(self, now: float, *, older_than: float = PURGE_AFTER) -> int:
        """Drop entries whose window started `older_than` seconds ago and that block nothing."""
        with self._lock:
            dead = [k for k, e in self._entries.items() if _is_dead(e, now, older_than)]
            for key in dead:
                del self._entries[key]
            return len(dead)


def _is_dead(entry: _Entry, now: float, older_than: float) -> bool:
    blocked = entry.blocked_until is not None and entry.blocked_until > now
    return entry.window_start + older_than <= now and not blocked


class SqlCounterStore:
    """Counters in the `auth_counter` table, each change one atomic upsert.

    Two workers hitting one key at once must not lose a count (that would hand a brute-force
    run split across workers free attempts): the increment is a single
    `INSERT ... ON CONFLICT DO UPDATE`, which PostgreSQL and SQLite both apply atomically.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        dialect = engine.dialect.name
        if dialect == "postgresql":
            self._insert: Any = postgresql.insert
        elif dialect == "sqlite":
            self._insert = sqlite.insert
        else:
            raise ConfigError(f"Attempt counters cannot be kept in a {dialect} database.")

    def hit(self, key: str, now: float, window: float) -> int:
        table = auth_counter
        # In an UPDATE every SET expression reads the row as it was, on both backends.
        expired = table.c.window_start + window <= now
        stmt = (
            self._insert(table)
            .values(key=key, count=1, window_start=now, blocked_until=None)
            .on_conflict_do_update(
                index_elements=[table.c.key],
                set_={
                    "count": sa.case((expired, 1), else_=table.c.count + 1),
                    "window_start": sa.case((expired, now), else_=table.c.window_start),
                },
            )
            .returning(table.c.count)
        )
        with self.engine.begin() as conn:
            return int(conn.execute(stmt).scalar_one())

    def count(self, key: str, now: float, window: float) -> int:
        row = self._row(key)
        if row is None or row[1] + window <= now:
            return 0
        return row[0]

    def block(self, key: str, until: float) -> None:
        table = auth_counter
        current = table.c.blocked_until
        stmt = (
            self._insert(table)
            .values(key=key, count=0, window_start=0.0, blocked_until=until)
            .on_conflict_do_update(
                index_elements=[table.c.key],
                set_={
                    "blocked_until": sa.case(
                        ((current.is_(None)) | (current < until), until), else_=current
                    )
                },
            )
        )
        with self.engine.begin() as conn:
            conn.execute(stmt)

    def blocked_until(self, key: str, now: float) -> float | None:
        row = self._row(key)
        if row is None or row[2] is None or row[2] <= now:
            return None
        return row[2]

    def reset(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.delete(auth_counter).where(auth_counter.c.key == key))

    def purge(self, now: float, *, older_than: float = PURGE_AFTER) -> int:
        """Delete rows whose window started `older_than` seconds ago and that block nothing."""
        table = auth_counter
        stmt = sa.delete(table).where(
            table.c.window_start <= now - older_than,
            sa.or_(table.c.blocked_until.is_(None), table.c.blocked_until <= now),
        )
        with self.engine.begin() as conn:
            return int(conn.execute(stmt).rowcount)

    def read(self, keys: Sequence[str]) -> dict[str, Counter]:
        if not keys:
            return {}
        params = {f"k{i}": key for i, key in enumerate(keys)}
        with reading(self.engine) as conn:
            rows = conn.execute(_read_statement(len(keys)), params).all()
        return {
            str(key): Counter(int(count), float(start), None if until is None else float(until))
            for key, count, start, until in rows
        }

    def _row(self, key: str) -> tuple[int, float, float | None] | None:
        """(count, window_start, blocked_until) of `key`, if it has a row."""
        c = auth_counter.c
        rows = self._rows(sa.select(c.count, c.window_start, c.blocked_until).where(c.key == key))
        if not rows:
            return None
        count, start, until = rows[0]
        return int(count), float(start), None if until is None else float(until)

    def _rows(self, stmt: sa.Select[Any]) -> Sequence[tuple[Any, ...]]:
        # on SQLite it does not queue behind writers; on PostgreSQL one round trip
        with reading(self.engine) as conn:
            return [tuple(row) for row in conn.execute(stmt).all()]


@functools.cache
def _read_statement(n: int) -> sa.Select[Any]:
    """`key IN (:k0, ..., :k{n-1})`, made once per size: a list bound as one expanding
    parameter is rewritten on every execution, which cost as much as the read itself."""
    c = auth_counter.c
    wanted = [sa.bindparam(f"k{i}", type_=c.key.type) for i in range(n)]
    return sa.select(c.key, c.count, c.window_start, c.blocked_until).where(c.key.in_(wanted))


# Redis keeps one hash per key: n (count), s (window start), b (blocked until), t (the latest
# `now` a hit brought). Times come from the callers, not Redis, as everywhere in Bastion; the
# key's TTL only collects garbage, computed from the stored times and `now`.
_HIT = """
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local f = redis.call('HMGET', KEYS[1], 'n', 's', 'b')
local n, s, b = tonumber(f[1]), tonumber(f[2]), tonumber(f[3]) or 0
if s == nil or s + window <= now then
  n, s = 1, now
  redis.call('HSET', KEYS[1], 'n', 1, 's', ARGV[1], 't', ARGV[1])
else
  n = redis.call('HINCRBY', KEYS[1], 'n', 1)
  redis.call('HSET', KEYS[1], 't', ARGV[1])
end
redis.call('EXPIRE', KEYS[1], math.max(1, math.ceil(math.max(s + window, b) - now) + 1))
return n
"""

_BLOCK = """
local untl = tonumber(ARGV[1])
local f = redis.call('HMGET', KEYS[1], 'b', 't')
local b, t = tonumber(f[1]), tonumber(f[2])
if b == nil or b < untl then
  redis.call('HSET', KEYS[1], 'b', ARGV[1])
end
if t == nil then
  local clock = redis.call('TIME')
  t = tonumber(clock[1])
end
local ttl = math.max(1, math.ceil(untl - t) + 1)
if redis.call('TTL', KEYS[1]) < ttl then
  redis.call('EXPIRE', KEYS[1], ttl)
end
"""


class RedisCounterStore:
    """Counters in Redis under `prefix`; each change is one Lua script, so it is atomic."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._hit = client.register_script(_HIT)
        self._block = client.register_script(_BLOCK)

    def _key(self, key: str) -> str:
        return self.prefix + key

    def hit(self, key: str, now: float, window: float) -> int:
        return int(self._hit(keys=[self._key(key)], args=[repr(float(now)), repr(float(window))]))

    def count(self, key: str, now: float, window: float) -> int:
        n, s = self.client.hmget(self._key(key), ["n", "s"])
        if n is None or s is None or float(s) + window <= now:
            return 0
        return int(n)

    def block(self, key: str, until: float) -> None:
        self._block(keys=[self._key(key)], args=[repr(float(until))])

    def blocked_until(self, key: str, now: float) -> float | None:
        value = self.client.hget(self._key(key), "b")
        if value is None or float(value) <= now:
            return None
        return float(value)

    def reset(self, key: str) -> None:
        self.client.delete(self._key(key))

    def read(self, keys: Sequence[str]) -> dict[str, Counter]:
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.hmget(self._key(key), ["n", "s", "b"])
        found: dict[str, Counter] = {}
        for key, (n, s, b) in zip(keys, pipe.execute(), strict=True):
            if n is None and b is None:
                continue
            start = 0.0 if s is None else float(s)
            found[key] = Counter(0 if n is None else int(n), start, None if b is None else float(b))
        return found
