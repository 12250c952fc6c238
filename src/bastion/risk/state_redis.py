"""`RedisRiskState`: the risk state in Redis, shared by any number of workers and machines.

Layout under `prefix` (the caller makes it per tenant):

    w:<key>                 hash bucket index -> amount: sliding-window hits (as `SqlRiskState`:
                            buckets of `bucket_width(window)`, at most ~65 a key), with
                            their sum "s", oldest "t" and newest "h" bucket index (see _HITS)
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
from redis.exceptions import NoScriptError

from bastion.crypto.random import token_bytes
from bastion.risk.state import Count, Fetched, Frequency, LastSeen, Reads, hit_amounts
from bastion.risk.state_sql import bucket_width

#: How long a user's last event is kept after it is written (travel checks need recent ones).
LAST_SEEN_TTL = 90 * 86_400
#: Slack added to every TTL, so that workers whose clocks differ a little agree.
_SLACK = 60

# Sliding-window hits: a hash per key, bucket index (floor(t / width)) -> amount, and the
# sum of its buckets ("s") with the oldest ("t") and newest ("h") bucket index in it and
# the bucket width ("w": a key hit with a window of another width starts again). A hit
# moves the buckets that left the window out of the sum (one or two, when steady) instead
# of summing every bucket: the tenant-wide stuffing counters, hit by every sign-in, hold
# all 64 buckets (that cost 40-50 us of the server's time per key and call).
#
# Every key of one call in one script run (a script call costs the server ~15 us before it
# does anything). ARGV: now, then per key its bucket width, window, amount and TTL.
# Returns the totals in (now - window, now]: buckets newer than `now` (from a worker whose
# clock runs ahead) are kept but not counted.
# Shared by both scripts. A hash's span (newest - oldest bucket) wider than any window's
# (a worker whose clock was far ahead) is scanned instead of walked: no script ever loops
# more than a window's buckets or the hash's fields.
_WINDOW_LUA = """
local SPAN = 160
local function bucket(key, b)
  return tonumber(redis.call('HGET', key, string.format('%d', b))) or 0
end
local function head(key, width)
  local h = redis.call('HMGET', key, 's', 't', 'h', 'w')
  if h[1] and h[4] ~= width then
    return nil  -- kept in another bucket width: another window's counter
  end
  return tonumber(h[1]), tonumber(h[2]), tonumber(h[3])
end
local function window_total(key, sum, tail, top, low, at)
  if top - tail > SPAN then
    local f, total = redis.call('HGETALL', key), 0
    for i = 1, #f, 2 do
      local b = tonumber(f[i])
      if b and b >= low and b <= at then total = total + tonumber(f[i + 1]) end
    end
    return total
  end
  local total = sum
  for b = tail, math.min(low - 1, top) do total = total - bucket(key, b) end
  for b = math.max(at + 1, tail), top do total = total - bucket(key, b) end
  return total
end
local function prune(key, sum, tail, top, low)
  if math.min(low - 1, top) - tail > SPAN then
    local f = redis.call('HGETALL', key)
    for i = 1, #f, 2 do
      local b = tonumber(f[i])
      if b and b < low then
        sum = sum - tonumber(f[i + 1])
        redis.call('HDEL', key, f[i])
      end
    end
    return sum
  end
  for b = tail, math.min(low - 1, top) do
    local field = string.format('%d', b)
    local value = tonumber(redis.call('HGET', key, field))
    if value then
      sum = sum - value
      redis.call('HDEL', key, field)
    end
  end
  return sum
end
"""

_HITS = (
    _WINDOW_LUA
    + """
local now = tonumber(ARGV[1])
local totals = {}
for k = 1, #KEYS do
  local key, a = KEYS[k], 4 * k - 2
  local width, window = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  local amount, ttl = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local at = math.floor(now / width)
  local low = math.floor((now - window) / width) + 1
  local sum, tail, top = head(key, ARGV[a])
  if amount == 0 then  -- only read, as SQL reads
    totals[k] = 0
    if sum ~= nil and low <= top then
      totals[k] = window_total(key, sum, tail, top, low, at)
    end
  else
    if sum == nil or low > top then
      redis.call('DEL', key)  -- new, every bucket left the window, or another window's
      sum, tail, top = 0, at, at
    end
    local added = redis.call('HINCRBY', key, string.format('%d', at), amount)
    sum = sum + amount
    if at > top then top = at end
    if at < tail then tail = at end
    if added == amount and tail < low then  -- a new bucket: the old leave (as SQL sweeps)
      sum, tail = prune(key, sum, tail, top, low), low
    end
    redis.call('HSET', key, 's', sum, 't', string.format('%d', tail),
               'h', string.format('%d', top), 'w', ARGV[a])
    if redis.call('TTL', key) < ttl then redis.call('EXPIRE', key, ttl) end
    totals[k] = window_total(key, sum, tail, top, low, at)
  end
end
return totals
"""
)

# Window totals (w:, as _HITS keeps them, without changing them) and distinct members (m:)
# of many keys. ARGV per key: "h", now, bucket width, window; or "m", the low bound
# (exclusive, as "(<float>"), now, "".
_COUNTS = (
    _WINDOW_LUA
    + """
local totals = {}
for k = 1, #KEYS do
  local key, a = KEYS[k], 4 * k - 3
  if ARGV[a] == 'm' then
    totals[k] = redis.call('ZCOUNT', key, ARGV[a + 1], ARGV[a + 2])
  else
    local now, width, window = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
    local at = math.floor(now / width)
    local low = math.floor((now - window) / width) + 1
    local sum, tail, top = head(key, ARGV[a + 2])
    totals[k] = 0
    if sum ~= nil and low <= top then
      totals[k] = window_total(key, sum, tail, top, low, at)
    end
  end
end
return totals
"""
)

# HMGET of many hashes in one command. ARGV: each hash's field count, then the fields in
# order. Returns one list of values per hash (a missing field is nil).
_HMGETS = """
local found, at = {}, #KEYS + 1
for k = 1, #KEYS do
  local n = tonumber(ARGV[k])
  found[k] = redis.call('HMGET', KEYS[k], unpack(ARGV, at, at + n - 1))
  at = at + n
end
return found
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
        self._hits = client.register_script(_HITS)
        self._member = client.register_script(_MEMBER)
        self._counts = client.register_script(_COUNTS)
        self._flag = client.register_script(_FLAG)
        self._hmgets = client.register_script(_HMGETS)

    @contextlib.contextmanager
    def batch(self, *, write: bool) -> Iterator[None]:
        yield  # each call is one round trip (a script where it must be atomic)

    def _k(self, kind: str, key: str) -> str:
        return f"{self.prefix}{kind}:{key}"

    # -- sliding windows ---------------------------------------------------------------------

    def hit(self, key: str, now: float, window: float, amount: int = 1) -> int:
        return self.hits([(key, window)], now, [amount])[0]

    def total(self, key: str, now: float, window: float) -> int:
        return self.counts([Count("hits", key, window)], now)[0]

    def hits(
        self, keys: Sequence[tuple[str, float]], now: float, amounts: Sequence[int] = ()
    ) -> list[int]:
        if not keys:
            return []
        pipe = self.client.pipeline(transaction=False)
        self._queue_hits(pipe, keys, now, hit_amounts(keys, amounts))
        return [int(n) for n in self._execute(pipe, self._hits)[0]]

    def _queue_hits(
        self, pipe: Any, keys: Sequence[tuple[str, float]], now: float, amounts: Sequence[int]
    ) -> None:
        args: list[str | int] = [repr(float(now))]
        for (_, window), amount in zip(keys, amounts, strict=True):
            width = bucket_width(window)
            args += [repr(width), repr(float(window)), int(amount), _ttl(window)]
        pipe.evalsha(self._hits.sha, len(keys), *[self._k("w", key) for key, _ in keys], *args)

    def counts(self, reads: Sequence[Count], now: float) -> list[int]:
        if not reads:
            return []
        pipe = self.client.pipeline(transaction=False)
        self._queue_counts(pipe, reads, now)
        return [int(n) for n in self._execute(pipe, self._counts)[0]]

    def _queue_counts(self, pipe: Any, reads: Sequence[Count], now: float) -> None:
        """One script call for every read (none when there are none)."""
        if not reads:
            return
        keys, args = [], []
        for read in reads:
            width = bucket_width(read.window)  # the same check as `hit`
            if read.kind == "hits":
                keys.append(self._k("w", read.key))
                args += ["h", repr(float(now)), repr(width), repr(float(read.window))]
            else:
                keys.append(self._k("m", read.key))
                args += ["m", f"({float(now - read.window)!r}", repr(float(now)), ""]
        pipe.evalsha(self._counts.sha, len(keys), *keys, *args)

    def fetch(self, reads: Reads, now: float) -> Fetched:
        """Every read, then the declared adds, in one pipeline."""
        reads = reads.unique()
        pipe = self.client.pipeline(transaction=False)
        self._queue_counts(pipe, reads.counts, now)
        if reads.flags:
            pipe.mget([self._k("g", key) for key in reads.flags])
        frequencies = self._queue_frequencies(pipe, reads.frequencies)
        for key in reads.last_seen:
            pipe.hgetall(self._k("l", key))
        adds = [(key, window) for key, window, _ in reads.adds]
        amounts = hit_amounts(adds, [amount for _, _, amount in reads.adds])
        if adds:
            self._queue_hits(pipe, adds, now, amounts)
        for key, member, window in reads.joins:
            pipe.evalsha(self._member.sha, 1, *self._member_call(key, member, now, window))
        scripts = (self._counts, self._hmgets, self._hits, self._member)
        answers = iter(self._execute(pipe, *scripts))
        totals = next(answers) if reads.counts else []
        flags = _flags(next(answers), now) if reads.flags else []
        fetched = Fetched(
            now,
            {read: int(n) for read, n in zip(reads.counts, totals, strict=True)},
            dict(zip(reads.flags, flags, strict=True)),
            dict(zip(reads.frequencies, frequencies(answers), strict=True)),
            {key: _last_seen(next(answers)) for key in reads.last_seen},
        )
        if adds:
            for add, amount, total in zip(adds, amounts, next(answers), strict=True):
                fetched.added[add] = (int(amount), int(total))
        for join in reads.joins:
            fetched.joined[join] = int(next(answers))
        return fetched

    def _execute(self, pipe: Any, *scripts: Any) -> list[Any]:
        """Run a pipeline that calls `scripts` by their digests. redis-py's own way asks the
        server whether its scripts are loaded before every such pipeline (one more round
        trip); here they are loaded only when the server says it does not know one (a first
        use, a restart), and the calls it refused, which did nothing, are run again (only
        those: a script that did run must not write twice)."""
        commands = list(pipe.command_stack)
        answers = list(pipe.execute(raise_on_error=False))
        refused = [i for i, answer in enumerate(answers) if isinstance(answer, NoScriptError)]
        if refused:
            for script in scripts:
                script.sha = self.client.script_load(script.script)
            again = self.client.pipeline(transaction=False)
            again.command_stack = [commands[i] for i in refused]
            for i, answer in zip(refused, again.execute(raise_on_error=False), strict=True):
                answers[i] = answer
        for answer in answers:
            if isinstance(answer, Exception):
                raise answer
        return answers

    def add_member(self, key: str, member: str, now: float, window: float) -> int:
        pipe = self.client.pipeline(transaction=False)
        pipe.evalsha(self._member.sha, 1, *self._member_call(key, member, now, window))
        return int(self._execute(pipe, self._member)[0])

    def _member_call(self, key: str, member: str, now: float, window: float) -> list[str | int]:
        """_MEMBER's key and arguments."""
        return [self._k("m", key), member, repr(float(now)), repr(float(now - window)),
                _ttl(window)]  # fmt: skip

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
        return answers(iter(self._execute(pipe, self._hmgets)))

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
        if not wanted:
            return lambda _: []
        sizes = [len(fields) for fields in wanted.values()]
        fields = [field for names in wanted.values() for field in names]
        pipe.evalsha(self._hmgets.sha, len(wanted), *wanted, *sizes, *fields)

        def answer(answers: Iterator[Any]) -> list[tuple[float, float]]:
            got: dict[tuple[str, str], Any] = {}
            for (name, names), values in zip(wanted.items(), next(answers), strict=True):
                got.update(zip(((name, field) for field in names), values, strict=True))
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
