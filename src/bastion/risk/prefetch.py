"""`Prefetched`: a risk state that answers a stage's declared reads from what was fetched
at once, and passes every other call to the state behind it.

A write drops the answers it may have changed, so a detector that writes then reads sees
its write. The answers are those of the stage's start: a read made later in the stage
(`observe` after `assess`) gets the value as it was then, like a read in one transaction.

Adds a store made with the fetch (`Fetched.added`) stay unseen until the stage's `hits`
call that they stand for (one per detector): that call is answered from them, and reads
after it see them. A call mixing declared and undeclared counters is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager

from bastion.risk.state import Count, Fetched, Frequency, LastSeen, Reads, RiskState, hit_amounts


class Prefetched:
    """`RiskState` over `state`, answering from `fetched` where it can."""

    def __init__(self, state: RiskState, fetched: Fetched) -> None:
        self._state = self.origin = state
        self._now = fetched.now
        self._counts = dict(fetched.counts)
        self._flags = dict(fetched.flags)
        self._frequencies = dict(fetched.frequencies)
        self._last_seen = dict(fetched.last_seen)
        self._added = dict(fetched.added)  # made by the store, not yet asked for
        self._joined = dict(fetched.joined)
        for (key, window), (amount, total) in self._added.items():
            self._counts.setdefault(Count("hits", key, window), total - amount)

    # -- reads, from what was fetched --------------------------------------------------------

    def counts(self, reads: Sequence[Count], now: float) -> list[int]:
        if now == self._now and all(read in self._counts for read in reads):
            return [self._counts[read] for read in reads]
        return self._state.counts(reads, now)

    def total(self, key: str, now: float, window: float) -> int:
        return self.counts([Count("hits", key, window)], now)[0]

    def members(self, key: str, now: float, window: float) -> int:
        return self.counts([Count("members", key, window)], now)[0]

    def flags_until(self, keys: Sequence[str], now: float) -> list[float | None]:
        if now == self._now and all(key in self._flags for key in keys):
            return [self._flags[key] for key in keys]
        return self._state.flags_until(keys, now)

    def flag_until(self, key: str, now: float) -> float | None:
        return self.flags_until([key], now)[0]

    def frequencies(self, reads: Sequence[Frequency]) -> list[tuple[float, float]]:
        if all(read in self._frequencies for read in reads):
            return [self._frequencies[read] for read in reads]
        return self._state.frequencies(reads)

    def frequency(self, scope: str, feature: str, value: str) -> tuple[float, float]:
        return self.frequencies([(scope, feature, value)])[0]

    def last_seen(self, key: str) -> LastSeen | None:
        if key in self._last_seen:
            return self._last_seen[key]
        return self._state.last_seen(key)

    def fetch(self, reads: Reads, now: float) -> Fetched:
        return self._state.fetch(reads, now)

    # -- writes, dropping what they change ---------------------------------------------------

    def _drop_counts(self, kind: str, keys: set[str]) -> None:
        for read in [r for r in self._counts if r.kind == kind and r.key in keys]:
            del self._counts[read]

    def hit(self, key: str, now: float, window: float, amount: int = 1) -> int:
        return self.hits([(key, window)], now, [amount])[0]

    def hits(
        self, keys: Sequence[tuple[str, float]], now: float, amounts: Sequence[int] = ()
    ) -> list[int]:
        amounts = hit_amounts(keys, amounts)
        made = [found for key in keys if (found := self._added.get(key)) is not None]
        if not made:
            self._drop_counts("hits", {key for key, _ in keys})
            return self._state.hits(keys, now, amounts)
        exact = now == self._now and len(set(keys)) == len(made) == len(keys)
        if not exact or any(amount != a for (amount, _), a in zip(made, amounts, strict=True)):
            raise ValueError("A stage adds to the counters it declared in one call, as declared.")
        for (key, window), (_, total) in zip(keys, made, strict=True):
            del self._added[(key, window)]
            self._counts[Count("hits", key, window)] = total
        return [total for _, total in made]

    def add_member(self, key: str, member: str, now: float, window: float) -> int:
        joined = self._joined.pop((key, member, window), None)
        if joined is not None and now == self._now:
            self._counts[Count("members", key, window)] = joined
            return joined
        if joined is not None:
            raise ValueError("A stage joins the members it declared at the time it declared.")
        self._drop_counts("members", {key})
        return self._state.add_member(key, member, now, window)

    def bump(self, scope: str, feature: str, value: str, amount: float = 1.0) -> None:
        self.bump_many([(scope, feature, value, amount)])

    def bump_many(self, bumps: Sequence[tuple[str, str, str, float]]) -> None:
        changed = {(scope, feature) for scope, feature, _, _ in bumps}  # totals change too
        for read in [r for r in self._frequencies if (r[0], r[1]) in changed]:
            del self._frequencies[read]
        self._state.bump_many(bumps)

    def set_last_seen(self, key: str, seen: LastSeen) -> None:
        self._last_seen.pop(key, None)
        self._state.set_last_seen(key, seen)

    def set_flag(self, key: str, until: float) -> None:
        self._flags.pop(key, None)
        self._state.set_flag(key, until)

    # -- the rest, as the state does it ------------------------------------------------------

    def batch(self, *, write: bool) -> AbstractContextManager[None]:
        return self._state.batch(write=write)

    def window_key(self, name: str, now: float, window: float) -> bytes:
        return self._state.window_key(name, now, window)

    def samples(self, key: str) -> list[float]:
        return self._state.samples(key)

    def add_sample(self, key: str, value: float, keep: int = 500) -> None:
        self._state.add_sample(key, value, keep)


def origin(state: RiskState) -> RiskState:
    """The store behind `state`: what a detector keys its own caches on, since the engine
    hands it a new `Prefetched` view at every stage."""
    return state.origin if isinstance(state, Prefetched) else state
