"""A memory risk state that notes the reads reaching it (one round trip each on Redis)."""

from __future__ import annotations

from collections.abc import Sequence

from bastion.risk.state import Count, Fetched, Frequency, LastSeen, Reads
from bastion.risk.state_memory import MemoryRiskState


class Reading(MemoryRiskState):
    """Notes the reads that reach the store."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str] = []

    def counts(self, reads: Sequence[Count], now: float) -> list[int]:
        self.reads.append("counts")
        return super().counts(reads, now)

    def flags_until(self, keys: Sequence[str], now: float) -> list[float | None]:
        self.reads.append("flags_until")
        return super().flags_until(keys, now)

    def frequencies(self, reads: Sequence[Frequency]) -> list[tuple[float, float]]:
        self.reads.append("frequencies")
        return super().frequencies(reads)

    def last_seen(self, key: str) -> LastSeen | None:
        self.reads.append("last_seen")
        return super().last_seen(key)

    def fetch(self, reads: Reads, now: float) -> Fetched:
        self.reads.append("fetch")
        before = len(self.reads)
        try:
            return super().fetch(reads, now)
        finally:
            del self.reads[before:]  # the fetch's own reads are the fetch
