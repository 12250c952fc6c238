"""`RiskState`: the detectors' shared memory, behind one protocol.

Memory for tests and one process, the tenant's database for one machine, Redis for many
workers. Keys are strings the detectors build (`"ip-fail:203.0.113.7"`); times are epoch
seconds given by the caller (the clock is a parameter, never read here).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Literal, Protocol


@dataclass(frozen=True, slots=True)
class LastSeen:
    """A user's previous event, for travel and network-change checks."""

    at: float
    ip: str
    asn: int | None
    country: str | None
    latitude: float | None
    longitude: float | None


@dataclass(frozen=True, slots=True)
class Count:
    """A sliding-window read: the total of hits, or the distinct members, of `key`."""

    kind: Literal["hits", "members"]
    key: str
    window: float


Frequency = tuple[str, str, str]  # (scope, feature, value)
Add = tuple[str, float, int]  # (key, window, amount)
Join = tuple[str, str, float]  # (key, member, window)


@dataclass(frozen=True, slots=True)
class Reads:
    """What a stage will read, declared by the detectors before any of them runs, so the
    engine fetches it all at once (`RiskState.fetch`: one round trip on Redis).

    `adds` are the counters the stage's `observe` will add to (key, window, amount; an
    amount may be 0), each detector's as one `hits` call with exactly its keys and amounts.
    A store may add them in the same round trip, after the reads (`Fetched.added`); those
    calls are then answered from there, and reads before them see the counters as they
    were before. `joins` are the same for `add_member` calls (key, member, window), one call
    each; a read made between the fetch and such a call may see its member already."""

    counts: tuple[Count, ...] = ()
    flags: tuple[str, ...] = ()
    frequencies: tuple[Frequency, ...] = ()
    last_seen: tuple[str, ...] = ()
    adds: tuple[Add, ...] = ()
    joins: tuple[Join, ...] = ()

    def __add__(self, other: Reads) -> Reads:
        return Reads(
            self.counts + other.counts,
            self.flags + other.flags,
            self.frequencies + other.frequencies,
            self.last_seen + other.last_seen,
            self.adds + other.adds,
            self.joins + other.joins,
        )

    def __bool__(self) -> bool:
        reads = self.counts or self.flags or self.frequencies or self.last_seen
        return bool(reads or self.adds or self.joins)

    def unique(self) -> Reads:
        """The same reads, each once, in their first order. A counter may be added to by
        one call of a stage only (ValueError)."""
        adds = tuple(dict.fromkeys(self.adds))
        if len({(key, window) for key, window, _ in adds}) < len(adds):
            raise ValueError("Two detectors declared adding to the same counter in one stage.")
        return Reads(
            tuple(dict.fromkeys(self.counts)),
            tuple(dict.fromkeys(self.flags)),
            tuple(dict.fromkeys(self.frequencies)),
            tuple(dict.fromkeys(self.last_seen)),
            adds,
            tuple(dict.fromkeys(self.joins)),
        )

    def without_adds(self) -> Reads:
        """The reads alone: no adds, no joins."""
        return Reads(self.counts, self.flags, self.frequencies, self.last_seen)


@dataclass(frozen=True, slots=True)
class Fetched:
    """The answers to `Reads` at `now`; `added` holds each declared add the store made,
    (key, window) -> (amount, total after), and `joined` each join, (key, member, window)
    -> members after; both empty when the store leaves them to `observe`."""

    now: float
    counts: dict[Count, int]
    flags: dict[str, float | None]
    frequencies: dict[Frequency, tuple[float, float]]
    last_seen: dict[str, LastSeen | None]
    added: dict[tuple[str, float], tuple[int, int]] = field(default_factory=dict)
    joined: dict[Join, int] = field(default_factory=dict)


class RiskState(Protocol):
    def batch(self, *, write: bool) -> AbstractContextManager[None]:
        """Run the calls made inside as one unit where the store has such a thing: one
        transaction of the tenant's database (read-only when not `write`: calls that write
        inside it run in their own transactions, as outside); nothing special elsewhere.
        The engine wraps each stage in one, so a sign-in costs a few transactions, not one
        per call. Batches nest (an inner one joins the outer when it can)."""

    def hit(self, key: str, now: float, window: float, amount: int = 1) -> int:
        """Add `amount` at `now`; return the total of `key` in the sliding window
        (now - window, now]."""

    def hits(
        self, keys: Sequence[tuple[str, float]], now: float, amounts: Sequence[int] = ()
    ) -> list[int]:
        """`hit` each (key, window) once, in one round trip where the store has them, and
        return the totals after. `amounts` (one per key; default 1 each) may hold 0: that key
        is only read, so counters to add to and counters to read cost one round trip."""

    def counts(self, reads: Sequence[Count], now: float) -> list[int]:
        """`total` or `members` of each read, in one round trip where the store has them."""

    def flags_until(self, keys: Sequence[str], now: float) -> list[float | None]:
        """`flag_until` of each key, in one round trip where the store has them."""

    def frequencies(self, reads: Sequence[tuple[str, str, str]]) -> list[tuple[float, float]]:
        """`frequency` of each (scope, feature, value), in one round trip where possible."""

    def bump_many(self, bumps: Sequence[tuple[str, str, str, float]]) -> None:
        """`bump` each (scope, feature, value, amount), in one round trip where possible."""

    def fetch(self, reads: Reads, now: float) -> Fetched:
        """Every read of `reads` at `now`, in one round trip where the store has them; and
        its adds after them, where the store can make them in that round trip too."""

    def total(self, key: str, now: float, window: float) -> int:
        """The sliding-window total of `key` without adding."""

    def add_member(self, key: str, member: str, now: float, window: float) -> int:
        """Note `member` under `key` at `now`; return how many distinct members were seen
        in the window (a member seen again counts once)."""

    def members(self, key: str, now: float, window: float) -> int:
        """Distinct members of `key` in the window, without adding."""

    def bump(self, scope: str, feature: str, value: str, amount: float = 1.0) -> None:
        """Add to the frequency of `value` for `feature` in `scope` ("*" is the tenant-wide
        scope, "u:42" a user's) and to the scope's total for that feature."""

    def frequency(self, scope: str, feature: str, value: str) -> tuple[float, float]:
        """(count of `value`, total count) for `feature` in `scope`; (0, 0) when unseen."""

    def last_seen(self, key: str) -> LastSeen | None:
        """The last event recorded under `key`."""

    def set_last_seen(self, key: str, seen: LastSeen) -> None:
        """Record the latest event under `key`."""

    def set_flag(self, key: str, until: float) -> None:
        """Raise a flag until `until` (extended, never shortened)."""

    def flag_until(self, key: str, now: float) -> float | None:
        """When the flag ends, or None if it is down at `now`."""

    def window_key(self, name: str, now: float, window: float) -> bytes:
        """A random 32-byte key shared by every worker for the current window of `window`
        seconds, forgotten once the window is over (for short-lived keyed tags)."""

    def samples(self, key: str) -> list[float]:
        """A bounded reservoir of numbers (e.g. scores of legitimate sign-ins, for
        calibration); newest last."""

    def add_sample(self, key: str, value: float, keep: int = 500) -> None:
        """Append to the reservoir, keeping the newest `keep`."""


class _OneCall(Protocol):
    """The single calls `OneByOne` is made of."""

    def hit(self, key: str, now: float, window: float, amount: int = 1) -> int: ...
    def total(self, key: str, now: float, window: float) -> int: ...
    def members(self, key: str, now: float, window: float) -> int: ...
    def flag_until(self, key: str, now: float) -> float | None: ...
    def frequency(self, scope: str, feature: str, value: str) -> tuple[float, float]: ...
    def bump(self, scope: str, feature: str, value: str, amount: float = 1.0) -> None: ...


class _Many(Protocol):
    """The many-at-once reads `OneByOne.fetch` is made of."""

    def counts(self, reads: Sequence[Count], now: float) -> list[int]: ...
    def flags_until(self, keys: Sequence[str], now: float) -> list[float | None]: ...
    def frequencies(self, reads: Sequence[Frequency]) -> list[tuple[float, float]]: ...
    def last_seen(self, key: str) -> LastSeen | None: ...
    def hits(
        self, keys: Sequence[tuple[str, float]], now: float, amounts: Sequence[int] = ()
    ) -> list[int]: ...
    def add_member(self, key: str, member: str, now: float, window: float) -> int: ...


class OneByOne:
    """The many-at-once calls of `RiskState` made one call at a time: for stores where a
    call is cheap (memory) or already shares the caller's transaction (SQL, in a batch)."""

    def hits(
        self: _OneCall, keys: Sequence[tuple[str, float]], now: float, amounts: Sequence[int] = ()
    ) -> list[int]:
        return [
            self.hit(key, now, window, amount) if amount else self.total(key, now, window)
            for (key, window), amount in zip(keys, hit_amounts(keys, amounts), strict=True)
        ]

    def counts(self: _OneCall, reads: Sequence[Count], now: float) -> list[int]:
        return [
            self.total(r.key, now, r.window)
            if r.kind == "hits"
            else self.members(r.key, now, r.window)
            for r in reads
        ]

    def flags_until(self: _OneCall, keys: Sequence[str], now: float) -> list[float | None]:
        return [self.flag_until(key, now) for key in keys]

    def frequencies(
        self: _OneCall, reads: Sequence[tuple[str, str, str]]
    ) -> list[tuple[float, float]]:
        return [self.frequency(scope, feature, value) for scope, feature, value in reads]

    def bump_many(self: _OneCall, bumps: Sequence[tuple[str, str, str, float]]) -> None:
        for scope, feature, value, amount in bumps:
            self.bump(scope, feature, value, amount)

    def fetch(self: _Many, reads: Reads, now: float) -> Fetched:
        """Each kind of read with its many-at-once call (one statement each in SQL, in the
        caller's batch), then the declared adds in one `hits`."""
        reads = reads.unique()
        frequencies = self.frequencies(reads.frequencies) if reads.frequencies else []
        fetched = Fetched(
            now,
            dict(zip(reads.counts, self.counts(reads.counts, now), strict=True)),
            dict(zip(reads.flags, self.flags_until(reads.flags, now), strict=True)),
            dict(zip(reads.frequencies, frequencies, strict=True)),
            {key: self.last_seen(key) for key in reads.last_seen},
        )
        if reads.adds:
            keys = [(key, window) for key, window, _ in reads.adds]
            totals = self.hits(keys, now, [amount for _, _, amount in reads.adds])
            for (key, window, amount), total in zip(reads.adds, totals, strict=True):
                fetched.added[(key, window)] = (amount, total)
        for key, member, window in reads.joins:
            fetched.joined[(key, member, window)] = self.add_member(key, member, now, window)
        return fetched


def hit_amounts(keys: Sequence[object], amounts: Sequence[int]) -> Sequence[int]:
    """`hits`'s amounts: one per key, none negative; 1 each when not given."""
    if not amounts:
        return [1] * len(keys)
    if len(amounts) != len(keys) or any(amount < 0 for amount in amounts):
        raise ValueError("hits needs one amount of 0 or more per key.")
    return amounts
