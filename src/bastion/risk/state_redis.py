"""`RedisRiskState`: the risk state in Redis, shared by any number of workers and machines.

Layout under `prefix` (the caller makes it per tenant):

    h:<key>                 hash bucket-start -> amount: sliding-window hits (as `SqlRiskState`:
                            buckets of `bucket_width(window)`, at most ~65 fields a key)
    m:<key>                 sorted set member -> last time seen: distinct members in a window
    f:<scope>\\x1f<feature>  hash value -> count: frequencies; t:... its total (hash feature)
    l:<key>                 hash: the last event under a key
    g:<key>                 string: a flag's end
    k:<name>:<index>        string: the random key of one window, hex
    s:<key>                 list: a reservoir of samples

Every change that reads back is one Lua script, so it is atomic. Times come from the
callers, as everywhere in Bastion; TTLs only collect garbage.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import redis

from bastion.crypto.random import token_bytes
from bastion.risk.state import Count, Fetched, Frequency, LastSeen, Reads, hit_amounts
from bastion.risk.state_sql import bucket_start, bucket_width

#: How long a user's last event is kept after it is written (travel checks need recent ones).
LAST_SEEN_TTL = 90 * 86_400
#: Slack added to every TTL, so that workers whose clocks differ a little agree.
_SLACK = 60

_HIT = """
local now, window = tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
local f = redis.call('HGETALL', KEYS[1])
local total = 0
for i = 1, #f, 2 do
  local s = tonumber(f[i])
  if s <= now - window then
    redis.call('HDEL', KEYS[1], f[i])
  elseif s <= now then
    total = total + tonumber(f[i + 1])
  end
end
local ttl = tonumber(ARGV[5])
if redis.call('TTL', KEYS[1]) < ttl then redis.call('EXPIRE', KEYS[1], ttl) end
return total
"""

_TOTAL = """
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local f = redis.call('HGETALL', KEYS[1])
local total = 0
for i = 1, #f, 2 do
  local s = tonumber(f[i])
  if s > now - window and s <= now then total = total + tonumber(f[i + 1]) end
end
return total
"""

# Bounds travel as Python's own float text: Lua would print numbers with 14 digits only.
_MEMBER = """
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local ttl = tonumber(ARGV[4])
if redis.call('TTL', KEYS[1]) < ttl then redis.call('EXPIRE', KEYS[1], ttl) end
return redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[3], ARGV[2])
"""

_FLAG = """
local untl = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]))
if current == nil or current < untl then
  redis.call('SET', KEYS[1], ARGV[1])
  current = untl
end
local clock = redis.call('TIME')
local ttl = math.max(0, math.ceil(current - tonumber(clock[1]))) + tonumber(ARGV[2])
if redis.call('TTL', KEYS[1]) < ttl then redis.call('EXPIRE', KEYS[1], ttl) end
"""


class RedisRiskState:
    """`RiskState` in Redis under `prefix`; works with decoding and non-decoding clients."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._hit = client.register_script(_HIT)
        self._member = client.register_script(_MEMBER)
        self._total = client.register_script(_TOTAL)  # sums where the buckets are
        self._flag = client.register_script(_FLAG)

    @contextlib.contextmanager
    def batch(self, *, write: bool) -> Iterator[None]:
        yield  # each call is one round trip (a script where it must be atomic)

    def _k(self, kind: str, key: str) -> str:
        return f"{self.prefix}{kind}:{key}"

    # -- sliding windows ---------------------------------------------------------------------

    def hit(self, key: str, now: float, window: float, amount: int = 1) -> int:
        start = bucket_start(now, bucket_width(window))
        args: list[str | int] = [
            repr(start),
            int(amount),
            repr(float(now)),
            repr(float(window)),
            _ttl(window),
        ]
        return int(self._hit(keys=[self._k("h", key)], args=args))

    def total(self, key: str, now: float, window: float) -> int:
        bucket_width(window)  # the same check as `hit`
        args = [repr(float(now)), repr(float(window))]
        return int(self._total(keys=[self._k("h", key)], args=args))

    def hits(
        self, keys: Sequence[tuple[str, float]], now: float, amounts: Sequence[int] = ()
    ) -> list[int]:
        pipe = self.client.pipeline(transaction=False)
        for (key, window), amount in zip(keys, hit_amounts(keys, amounts), strict=True):
            start = bucket_start(now, bucket_width(window))
            args: list[str | int] = [
                repr(start), int(amount), repr(float(now)), repr(float(window)), _ttl(window)
            ]  # fmt: skip
            pipe.evalsha(self._hit.sha, 1, self._k("h", key), *args)
        return [int(n) for n in self._execute(pipe, self._hit)]

    def counts(self, reads: Sequence[Count], now: float) -> list[int]:
        pipe = self.client.pipeline(transaction=False)
        self._queue_counts(pipe, reads, now)
        return [int(n) for n in self._execute(pipe, self._total)]

    def _queue_counts(self, pipe: Any, reads: Sequence[Count], now: float) -> None:
        for read in reads:
            bucket_width(read.window)  # the same check as `hit`
            if read.kind == "hits":
                args = [repr(float(now)), repr(float(read.window))]
                pipe.evalsha(self._total.sha, 1, self._k("h", read.key), *args)
            else:
                low = f"({float(now - read.window)!r}"
                pipe.zcount(self._k("m", read.key), low, repr(float(now)))

    def fetch(self, reads: Reads, now: float) -> Fetched:
        """Every read in one pipeline."""
        reads = reads.unique()
        pipe = self.client.pipeline(transaction=False)
        self._queue_counts(pipe, reads.counts, now)
        if reads.flags:
            pipe.mget([self._k("g", key) for key in reads.flags])
        frequencies = self._queue_frequencies(pipe, reads.frequencies)
        for key in reads.last_seen:
            pipe.hgetall(self._k("l", key))
        answers = iter(self._execute(pipe, self._total))
        counts = {read: int(next(answers)) for read in reads.counts}
        flags = _flags(next(answers), now) if reads.flags else []
        return Fetched(
            now,
            counts,
            dict(zip(reads.flags, flags, strict=True)),
            dict(zip(reads.frequencies, frequencies(answers), strict=True)),
            {key: _last_seen(next(answers)) for key in reads.last_seen},
        )

    def _execute(self, pipe: Any, script: Any) -> list[Any]:
        """Run a pipeline that calls `script` by its digest. redis-py's own way asks the
        server whether its scripts are loaded before every such pipeline (one more round
        trip); here the script is loaded only when the server says it does not know it (a
        first use, a restart). Then every call of the script in the pipeline failed, so
        none of its writes happened, and the rest are reads: the pipeline is run again."""
        commands = list(pipe.command_stack)
        try:
            return list(pipe.execute())
        except redis.exceptions.NoScriptError:
            script.sha = self.client.script_load(script.script)
            pipe.command_stack = commands
            return list(pipe.execute())

    def add_member(self, key: str, member: str, now: float, window: float) -> int:
        args: list[str | int] = [member, repr(float(now)), repr(float(now - window)), _ttl(window)]
        return int(self._member(keys=[self._k("m", key)], args=args))

    def members(self, key: str, now: float, window: float) -> int:
        low = f"({float(now - window)!r}"
        return int(self.client.zcount(self._k("m", key), low, repr(float(now))))

    # -- frequencies -------------------------------------------------------------------------

    def bump(self, scope: str, feature: str, value: str, amount: float = 1.0) -> None:
        self.bump_many([(scope, feature, value, amount)])

    def bump_many(self, bumps: Sequence[tuple[str, str, str, float]]) -> None:
        if not bumps:
            return
        pipe = self.client.pipeline(transaction=True)
        for scope, feature, value, amount in bumps:
            pipe.hincrbyfloat(self._k("f", f"{scope}\x1f{feature}"), value, amount)
            pipe.hincrbyfloat(self._k("t", scope), feature, amount)
        pipe.execute()

    def frequencies(self, reads: Sequence[tuple[str, str, str]]) -> list[tuple[float, float]]:
        """One HMGET per hash read (a login-model assessment reads 26 frequencies from about
        20 hashes), all in one pipeline."""
        if not reads:
            return []
        pipe = self.client.pipeline(transaction=False)
        answers = self._queue_frequencies(pipe, reads)
        return answers(iter(pipe.execute()))

    def _queue_frequencies(
        self, pipe: Any, reads: Sequence[Frequency]
    ) -> Callable[[Iterator[Any]], list[tuple[float, float]]]:
        """Queue the HMGETs of `reads`; return what turns their answers into frequencies."""
        wanted: dict[str, dict[str, None]] = {}  # hash -> its fields, in order, once each
        places = []
        for scope, feature, value in reads:
            counts, totals = self._k("f", f"{scope}\x1f{feature}"), self._k("t", scope)
            wanted.setdefault(counts, {})[value] = None
            wanted.setdefault(totals, {})[feature] = None
            places.append(((counts, value), (totals, feature)))
        for name, fields in wanted.items():
            pipe.hmget(name, list(fields))

        def answer(answers: Iterator[Any]) -> list[tuple[float, float]]:
            got: dict[tuple[str, str], Any] = {}
            for name, fields in wanted.items():
                got.update(zip(((name, field) for field in fields), next(answers), strict=True))
            found = []
            for count_at, total_at in places:
                count, total = got[count_at], got[total_at]
                if total is None:
                    found.append((0.0, 0.0))
                else:
                    found.append((0.0 if count is None else float(count), float(total)))
            return found

        return answer

    def frequency(self, scope: str, feature: str, value: str) -> tuple[float, float]:
        return self.frequencies([(scope, feature, value)])[0]

    # -- last events, flags ------------------------------------------------------------------

    def last_seen(self, key: str) -> LastSeen | None:
        return _last_seen(self.client.hgetall(self._k("l", key)))

    def set_last_seen(self, key: str, seen: LastSeen) -> None:
        mapping: dict[str, str] = {
            "at": repr(float(seen.at)),
            "ip": seen.ip,
            "asn": "" if seen.asn is None else str(seen.asn),
            "country": seen.country or "",
            "lat": "" if seen.latitude is None else repr(float(seen.latitude)),
            "lon": "" if seen.longitude is None else repr(float(seen.longitude)),
        }
        name = self._k("l", key)
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(name, mapping=mapping)  # type: ignore[arg-type]  # redis-py's Mapping is invariant
        pipe.expire(name, LAST_SEEN_TTL)
        pipe.execute()

    def set_flag(self, key: str, until: float) -> None:
        self._flag(keys=[self._k("g", key)], args=[repr(float(until)), _SLACK])

    def flags_until(self, keys: Sequence[str], now: float) -> list[float | None]:
        if not keys:
            return []
        return _flags(self.client.mget([self._k("g", key) for key in keys]), now)

    def flag_until(self, key: str, now: float) -> float | None:
        return self.flags_until([key], now)[0]

    # -- window keys, samples ----------------------------------------------------------------

    def window_key(self, name: str, now: float, window: float) -> bytes:
        if not window > 0:
            raise ValueError("A key window must last a positive number of seconds.")
        index = int(now // window)
        slot = self._k("k", f"{name}:{index}")
        ttl = max(1, math.ceil((index + 1) * window - now)) + _SLACK
        pipe = self.client.pipeline(transaction=True)
        pipe.set(slot, token_bytes(32).hex(), nx=True, ex=ttl)
        pipe.get(slot)
        _, stored = pipe.execute()  # the first worker's key wins; every worker reads it
        return bytes.fromhex(_text(stored))

    def samples(self, key: str) -> list[float]:
        return [float(v) for v in self.client.lrange(self._k("s", key), 0, -1)]

    def add_sample(self, key: str, value: float, keep: int = 500) -> None:
        if keep < 1:
            raise ValueError("A reservoir keeps at least one value.")
        name = self._k("s", key)
        pipe = self.client.pipeline(transaction=True)
        pipe.rpush(name, repr(float(value)))
        pipe.ltrim(name, -keep, -1)
        pipe.execute()


def _ttl(window: float) -> int:
    return math.ceil(window) + _SLACK


def _flags(values: Sequence[Any], now: float) -> list[float | None]:
    return [None if v is None or float(v) <= now else float(v) for v in values]


def _last_seen(raw: dict[Any, Any]) -> LastSeen | None:
    if not raw:
        return None
    fields = {_text(k): _text(v) for k, v in raw.items()}
    return LastSeen(
        at=float(fields["at"]),
        ip=fields.get("ip", ""),
        asn=int(fields["asn"]) if fields.get("asn") else None,
        country=fields.get("country") or None,
        latitude=float(fields["lat"]) if fields.get("lat") else None,
        longitude=float(fields["lon"]) if fields.get("lon") else None,
    )


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
