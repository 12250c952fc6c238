"""`MemoryRiskState`: the risk state of one process (tests, single-worker tools); thread-safe."""

from __future__ import annotations

import contextlib
import threading
from collections import defaultdict, deque
from collections.abc import Iterator

from bastion.crypto.random import token_bytes
from bastion.risk.state import LastSeen, OneByOne


class MemoryRiskState(OneByOne):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hits: dict[str, deque[tuple[float, int]]] = defaultdict(deque)
        self._members: dict[str, dict[str, float]] = defaultdict(dict)
        self._freq: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
        self._totals: dict[tuple[str, str], float] = defaultdict(float)
        self._last: dict[str, LastSeen] = {}
        self._flags: dict[str, float] = {}
        self._keys: dict[tuple[str, int], bytes] = {}
        self._samples: dict[str, deque[float]] = {}

    @contextlib.contextmanager
    def batch(self, *, write: bool) -> Iterator[None]:
        yield  # every call is already atomic under the lock

    def hit(self, key: str, now: float, window: float, amount: int = 1) -> int:
        with self._lock:
            events = self._hits[key]
            events.append((now, amount))
            return self._sum(events, now, window)

    def total(self, key: str, now: float, window: float) -> int:
        with self._lock:
            events = self._hits.get(key)
            return self._sum(events, now, window) if events else 0

    def add_member(self, key: str, member: str, now: float, window: float) -> int:
        with self._lock:
            seen = self._members[key]
            seen[member] = now
            return self._distinct(seen, now, window)

    def members(self, key: str, now: float, window: float) -> int:
        with self._lock:
            seen = self._members.get(key)
            return self._distinct(seen, now, window) if seen else 0

    def bump(self, scope: str, feature: str, value: str, amount: float = 1.0) -> None:
        with self._lock:
            table = self._freq[(scope, feature)]
            table[value] = table.get(value, 0.0) + amount
            self._totals[(scope, feature)] += amount

    def frequency(self, scope: str, feature: str, value: str) -> tuple[float, float]:
        with self._lock:
            table = self._freq.get((scope, feature))
            if not table:
                return (0.0, 0.0)
            return (table.get(value, 0.0), self._totals[(scope, feature)])

    def last_seen(self, key: str) -> LastSeen | None:
        with self._lock:
            return self._last.get(key)

    def set_last_seen(self, key: str, seen: LastSeen) -> None:
        with self._lock:
            self._last[key] = seen

    def set_flag(self, key: str, until: float) -> None:
        with self._lock:
            self._flags[key] = max(until, self._flags.get(key, until))

    def flag_until(self, key: str, now: float) -> float | None:
        with self._lock:
            until = self._flags.get(key)
            return until if until is not None and until > now else None

    def window_key(self, name: str, now: float, window: float) -> bytes:
        index = int(now // window)
        with self._lock:
            for stale in [k for k in self._keys if k[0] == name and k[1] != index]:
                del self._keys[stale]  # the previous window's key is forgotten
            return self._keys.setdefault((name, index), token_bytes(32))

    def samples(self, key: str) -> list[float]:
        with self._lock:
            return list(self._samples.get(key, ()))

    def add_sample(self, key: str, value: float, keep: int = 500) -> None:
        with self._lock:
            reservoir = self._samples.get(key)
            if reservoir is None or reservoir.maxlen != keep:
                reservoir = deque(reservoir or (), maxlen=keep)
                self._samples[key] = reservoir
            reservoir.append(value)

    @staticmethod
    def _sum(events: deque[tuple[float, int]], now: float, window: float) -> int:
        while events and events[0][0] <= now - window:
            events.popleft()
        return sum(amount for at, amount in events if at <= now)

    @staticmethod
    def _distinct(seen: dict[str, float], now: float, window: float) -> int:
        for member in [m for m, at in seen.items() if at <= now - window]:
            del seen[member]
        return sum(1 for at in seen.values() if at <= now)
