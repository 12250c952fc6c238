"""`Lookahead`: what a sign-in's "succeeded" stage will read, fetched with its "before" stage.

Both stages of one attempt describe the same person, address, device and browser; only the
password check lies between them. So the engine reads the second stage's state (the user's
travel reference, the login model's frequencies) in the first stage's round trip or
transaction, and the second stage, if it comes, reads nothing: on Redis a completed sign-in
costs one round trip instead of two. The answers are those of the attempt's start, a hash's
time (tens of milliseconds) earlier, as if the attempt were read in one transaction.

Kept per engine, bounded (least recently kept dropped first): an attempt whose password was
wrong never takes its entry.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import replace

from bastion.risk.detector import Signal
from bastion.risk.signals import LoginSignal
from bastion.risk.state import Fetched

#: Attempts whose second stage may still come: more than a server has in flight.
SIZE = 1024


def next_stage(signal: Signal) -> LoginSignal | None:
    """The "succeeded" signal that may follow `signal`: only a "before" of a known user."""
    if isinstance(signal, LoginSignal) and signal.stage == "before" and signal.uid is not None:
        return replace(signal, stage="succeeded")
    return None


class Lookahead:
    def __init__(self, size: int = SIZE) -> None:
        if size < 1:
            raise ValueError("A lookahead keeps at least one attempt.")
        self.size = size
        self._kept: OrderedDict[Signal, Fetched] = OrderedDict()
        self._lock = threading.Lock()

    def keep(self, signal: Signal, fetched: Fetched) -> None:
        """Keep `fetched` for `signal`, without adds or joins (those were the earlier
        stage's, made once)."""
        reads = Fetched(fetched.now, fetched.counts, fetched.flags, fetched.frequencies,
                        fetched.last_seen)  # fmt: skip
        with self._lock:
            self._kept[signal] = reads
            self._kept.move_to_end(signal)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)

    def take(self, signal: Signal) -> Fetched | None:
        """What was fetched for `signal`, once."""
        if not isinstance(signal, LoginSignal) or signal.stage != "succeeded":
            return None
        with self._lock:
            return self._kept.pop(signal, None)

    def __len__(self) -> int:
        return len(self._kept)
